#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

// MARK: - Encoding (parameters travel in PostgreSQL's text format)

/// A Swift value that can be sent as a bind parameter.
///
/// Parameters travel in PostgreSQL's text format with an unspecified type, so the server infers each parameter's
/// type from the statement (add a cast such as `$1::jsonb` where it cannot).
public protocol PostgresEncodable: Sendable {
    /// The value in PostgreSQL's text input format, or `nil` for SQL NULL.
    var postgresText: String? { get }
}

extension String: PostgresEncodable {
    public var postgresText: String? { self }
}

extension Substring: PostgresEncodable {
    public var postgresText: String? { String(self) }
}

extension Int: PostgresEncodable {
    public var postgresText: String? { String(self) }
}

extension Int64: PostgresEncodable {
    public var postgresText: String? { String(self) }
}

extension Int32: PostgresEncodable {
    public var postgresText: String? { String(self) }
}

extension Int16: PostgresEncodable {
    public var postgresText: String? { String(self) }
}

extension Bool: PostgresEncodable {
    public var postgresText: String? { self ? "true" : "false" }
}

extension Double: PostgresEncodable {
    public var postgresText: String? {
        if isNaN { return "NaN" }
        if isInfinite { return self > 0 ? "Infinity" : "-Infinity" }
        return "\(self)"
    }
}

extension UUID: PostgresEncodable {
    public var postgresText: String? { uuidString }
}

extension Date: PostgresEncodable {
    /// ISO 8601 in UTC with microseconds, e.g. `2026-11-22 10:15:30.123456+00`.
    public var postgresText: String? { PostgresTimestamp.format(self) }
}

extension Duration: PostgresEncodable {
    /// An interval in microseconds, e.g. `1500000 microseconds`.
    public var postgresText: String? {
        let (seconds, attoseconds) = components
        return "\(seconds * 1_000_000 + attoseconds / 1_000_000_000_000) microseconds"
    }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresText: String? { self.flatMap { $0.postgresText } }
}

extension Array: PostgresEncodable where Element: PostgresEncodable {
    /// An array literal such as `{"a","b c",NULL}`.
    public var postgresText: String? {
        var text = "{"
        for (index, element) in enumerated() {
            if index > 0 { text += "," }
            guard let value = element.postgresText else {
                text += "NULL"
                continue
            }
            text += "\""
            for character in value.unicodeScalars {
                if character == "\"" || character == "\\" { text += "\\" }
                text.unicodeScalars.append(character)
            }
            text += "\""
        }
        return text + "}"
    }
}

/// Raw bytes sent as `bytea`.
public struct PostgresBytes: PostgresEncodable, Hashable {
    /// The bytes.
    public var bytes: [UInt8]

    /// Wraps bytes.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var postgresText: String? {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var text: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        text.reserveCapacity(2 + bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// JSON text sent as a parameter (cast it with `::jsonb` in the statement) or read from a `json`/`jsonb` column.
public struct PostgresJSON: PostgresEncodable, Hashable {
    /// The JSON document as text.
    public var text: String

    /// Wraps JSON text as it is; the server validates it.
    public init(text: String) { self.text = text }

    /// Encodes a value with `JSONEncoder` (sorted keys, so equal values give equal text).
    public init(encoding value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        self.text = String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes the document into a value.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    public var postgresText: String? { text }
}

// MARK: - Decoding (results arrive in PostgreSQL's binary format)

/// One field of a result row, valid only during a `decode` call.
public struct PostgresCell {
    /// The field's bytes in binary format, or `nil` for SQL NULL.
    public let bytes: UnsafeRawBufferPointer?
    /// The column's type.
    public let type: PostgresDataType

    init(bytes: UnsafeRawBufferPointer?, type: PostgresDataType) {
        self.bytes = bytes
        self.type = type
    }
}

/// Why a field could not be decoded; the row adds the column's name.
public struct PostgresDecodingFailure: Error, Sendable {
    /// What went wrong, without the field's value.
    public let reason: String

    /// Creates a failure with a reason.
    public init(_ reason: String) { self.reason = reason }

    static let unexpectedNull = PostgresDecodingFailure("unexpected NULL")

    static func typeMismatch(_ swiftType: Any.Type, _ type: PostgresDataType) -> PostgresDecodingFailure {
        PostgresDecodingFailure("cannot decode \(type) as \(swiftType)")
    }
}

/// A Swift value that can be read from a result field.
public protocol PostgresDecodable: Sendable {
    /// Decodes a field; throw ``PostgresDecodingFailure`` for NULL or a type that does not fit.
    static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Self
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Self {
        guard cell.bytes != nil else { return nil }
        return try Wrapped.decode(from: cell)
    }
}

extension UnsafeRawBufferPointer {
    func readBigEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int = 0) -> T {
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { target in
            target.copyMemory(from: UnsafeRawBufferPointer(rebasing: self[offset..<offset + MemoryLayout<T>.size]))
        }
        return T(bigEndian: value)
    }
}

extension String: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> String {
        guard let bytes = cell.bytes else { throw .unexpectedNull }
        if cell.type.isTextual || cell.type == .json || cell.type == .bytea {
            return String(decoding: bytes, as: UTF8.self)
        }
        switch cell.type {
        case .jsonb:
            guard bytes.count >= 1, bytes[0] == 1 else { throw PostgresDecodingFailure("unsupported jsonb version") }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[1...]), as: UTF8.self)
        case .uuid:
            return try UUID.decode(from: cell).uuidString.lowercased()
        case .numeric:
            return try PostgresNumeric.string(from: bytes)
        case .int2, .int4, .int8:
            return String(try Int64.decode(from: cell))
        default:
            throw .typeMismatch(String.self, cell.type)
        }
    }
}

extension Int64: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Int64 {
        guard let bytes = cell.bytes else { throw .unexpectedNull }
        switch cell.type {
        case .int8 where bytes.count == 8: return bytes.readBigEndian(Int64.self)
        case .int4 where bytes.count == 4: return Int64(bytes.readBigEndian(Int32.self))
        case .int2 where bytes.count == 2: return Int64(bytes.readBigEndian(Int16.self))
        case .oid where bytes.count == 4: return Int64(bytes.readBigEndian(UInt32.self))
        case .numeric:
            let text = try PostgresNumeric.string(from: bytes)
            guard let value = Int64(text) else {
                throw PostgresDecodingFailure("numeric value is not a whole number in Int64's range")
            }
            return value
        default: throw .typeMismatch(Int64.self, cell.type)
        }
    }
}

extension Int: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Int {
        Int(try Int64.decode(from: cell))
    }
}

extension Int32: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Int32 {
        let value = try Int64.decode(from: cell)
        guard let narrowed = Int32(exactly: value) else { throw PostgresDecodingFailure("value out of Int32's range") }
        return narrowed
    }
}

extension Int16: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Int16 {
        let value = try Int64.decode(from: cell)
        guard let narrowed = Int16(exactly: value) else { throw PostgresDecodingFailure("value out of Int16's range") }
        return narrowed
    }
}

extension Bool: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Bool {
        guard let bytes = cell.bytes else { throw .unexpectedNull }
        guard cell.type == .bool, bytes.count == 1 else { throw .typeMismatch(Bool.self, cell.type) }
        return bytes[0] != 0
    }
}

extension Double: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Double {
        guard let bytes = cell.bytes else { throw .unexpectedNull }
        switch cell.type {
        case .float8 where bytes.count == 8: return Double(bitPattern: bytes.readBigEndian(UInt64.self))
        case .float4 where bytes.count == 4: return Double(Float(bitPattern: bytes.readBigEndian(UInt32.self)))
        case .int2, .int4, .int8: return Double(try Int64.decode(from: cell))
        case .numeric:
            let text = try PostgresNumeric.string(from: bytes)
            guard let value = Double(text) else { throw PostgresDecodingFailure("numeric value is not a number") }
            return value
        default: throw .typeMismatch(Double.self, cell.type)
        }
    }
}

extension UUID: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> UUID {
        guard let bytes = cell.bytes else { throw .unexpectedNull }
        switch cell.type {
        case .uuid where bytes.count == 16:
            var raw: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &raw) { $0.copyMemory(from: bytes) }
            return UUID(uuid: raw)
        case let type where type.isTextual:
            guard let uuid = UUID(uuidString: String(decoding: bytes, as: UTF8.self)) else {
                throw PostgresDecodingFailure("text is not a UUID")
            }
            return uuid
        default:
            throw .typeMismatch(UUID.self, cell.type)
        }
    }
}

extension Date: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Date {
        guard let bytes = cell.bytes else { throw .unexpectedNull }
        switch cell.type {
        case .timestamptz where bytes.count == 8, .timestamp where bytes.count == 8:
            let micros = bytes.readBigEndian(Int64.self)
            if micros == Int64.max { return .distantFuture }
            if micros == Int64.min { return .distantPast }
            return Date(timeIntervalSince1970: PostgresTimestamp.epochOffset + Double(micros) / 1_000_000)
        case .date where bytes.count == 4:
            let days = bytes.readBigEndian(Int32.self)
            return Date(timeIntervalSince1970: PostgresTimestamp.epochOffset + Double(days) * 86_400)
        default:
            throw .typeMismatch(Date.self, cell.type)
        }
    }
}

extension Duration: PostgresDecodable {
    /// Decodes an `interval` without months (a month has no fixed length); days count as 24 hours.
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> Duration {
        guard let bytes = cell.bytes else { throw .unexpectedNull }
        guard cell.type == .interval, bytes.count == 16 else { throw .typeMismatch(Duration.self, cell.type) }
        let micros = bytes.readBigEndian(Int64.self)
        let days = bytes.readBigEndian(Int32.self, at: 8)
        let months = bytes.readBigEndian(Int32.self, at: 12)
        guard months == 0 else { throw PostgresDecodingFailure("an interval with months has no fixed duration") }
        return .microseconds(micros) + .seconds(Int64(days) * 86_400)
    }
}

extension PostgresBytes: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> PostgresBytes {
        guard let bytes = cell.bytes else { throw .unexpectedNull }
        guard cell.type == .bytea else { throw .typeMismatch(PostgresBytes.self, cell.type) }
        return PostgresBytes(Array(bytes))
    }
}

extension PostgresJSON: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> PostgresJSON {
        guard cell.type == .json || cell.type == .jsonb || cell.type.isTextual else {
            throw .typeMismatch(PostgresJSON.self, cell.type)
        }
        return PostgresJSON(text: try String.decode(from: cell))
    }
}

extension Array: PostgresDecodable where Element: PostgresDecodable {
    /// Decodes a one-dimensional array (an empty array has no dimensions).
    public static func decode(from cell: PostgresCell) throws(PostgresDecodingFailure) -> [Element] {
        guard let bytes = cell.bytes else { throw .unexpectedNull }
        guard bytes.count >= 12 else { throw .typeMismatch([Element].self, cell.type) }
        let dimensions = bytes.readBigEndian(Int32.self)
        let elementType = PostgresDataType(rawValue: bytes.readBigEndian(UInt32.self, at: 8))
        if dimensions == 0 { return [] }
        guard dimensions == 1, bytes.count >= 20 else {
            throw PostgresDecodingFailure("only one-dimensional arrays are supported")
        }
        let count = Int(bytes.readBigEndian(Int32.self, at: 12))
        var offset = 20
        var elements: [Element] = []
        elements.reserveCapacity(count)
        for _ in 0..<count {
            guard offset + 4 <= bytes.count else { throw PostgresDecodingFailure("truncated array") }
            let length = Int(bytes.readBigEndian(Int32.self, at: offset))
            offset += 4
            if length < 0 {
                elements.append(try Element.decode(from: PostgresCell(bytes: nil, type: elementType)))
                continue
            }
            guard offset + length <= bytes.count else { throw PostgresDecodingFailure("truncated array") }
            let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length])
            elements.append(try Element.decode(from: PostgresCell(bytes: slice, type: elementType)))
            offset += length
        }
        return elements
    }
}

// MARK: - Helpers

/// Conversions between `Date` and PostgreSQL timestamps.
enum PostgresTimestamp {
    /// Seconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
    static let epochOffset: Double = 946_684_800

    /// Formats a date as `YYYY-MM-DD HH:MM:SS.ffffff+00`.
    static func format(_ date: Date) -> String {
        let totalMicros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        var days = totalMicros / 86_400_000_000
        var micros = totalMicros % 86_400_000_000
        if micros < 0 {
            micros += 86_400_000_000
            days -= 1
        }
        let (year, month, day) = civil(fromDays: days)
        let seconds = micros / 1_000_000
        let fraction = micros % 1_000_000
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let yearText = year > 0 ? pad(year, 4) : "\(pad(1 - year, 4))"
        let suffix = year > 0 ? "+00" : "+00 BC"
        return "\(yearText)-\(pad(month, 2))-\(pad(day, 2)) \(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):"
            + "\(pad(seconds % 60, 2)).\(pad(fraction, 6))\(suffix)"
    }

    /// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}

/// Decoding of PostgreSQL's binary `numeric` format.
enum PostgresNumeric {
    static func string(from bytes: UnsafeRawBufferPointer) throws(PostgresDecodingFailure) -> String {
        guard bytes.count >= 8 else { throw PostgresDecodingFailure("truncated numeric") }
        let digitCount = Int(bytes.readBigEndian(Int16.self))
        let weight = Int(bytes.readBigEndian(Int16.self, at: 2))
        let sign = bytes.readBigEndian(UInt16.self, at: 4)
        let scale = Int(bytes.readBigEndian(Int16.self, at: 6))
        guard bytes.count >= 8 + digitCount * 2 else { throw PostgresDecodingFailure("truncated numeric") }
        switch sign {
        case 0xC000: return "NaN"
        case 0xD000: return "Infinity"
        case 0xF000: return "-Infinity"
        default: break
        }
        let digits = (0..<digitCount).map { Int(bytes.readBigEndian(Int16.self, at: 8 + $0 * 2)) }
        func pad4(_ value: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: 4 - text.count) + text
        }
        var integerPart = ""
        if weight < 0 {
            integerPart = "0"
        } else {
            for index in 0...weight {
                let digit = index < digits.count ? digits[index] : 0
                integerPart += index == 0 ? String(digit) : pad4(digit)
            }
        }
        var fractionPart = ""
        if scale > 0 {
            var index = weight + 1
            while fractionPart.count < scale {
                let digit = index >= 0 && index < digits.count ? digits[index] : 0
                fractionPart += pad4(digit)
                index += 1
            }
            fractionPart = String(fractionPart.prefix(scale))
        }
        let text = scale > 0 ? "\(integerPart).\(fractionPart)" : integerPart
        return sign == 0x4000 ? "-" + text : text
    }
}
