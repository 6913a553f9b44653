import TaskQueue

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reading JSON text without re-encoding it: a payload is sent exactly as it was written.
enum JSONText {
    /// One member of a JSON object: its key (unescaped) and its value as the original text.
    struct Member {
        let key: String
        let value: Substring
    }

    /// Why `text` is not a JSON object that PostgreSQL's `jsonb` can store, or `nil`.
    static func objectProblem(_ text: String) -> String? {
        if let problem = JSONSyntax.problem(in: text) { return problem }
        guard text.utf8.first(where: { !isWhitespace($0) }) == UInt8(ascii: "{") else {
            return "expected a JSON object ({...})"
        }
        return storageProblem(text)
    }

    /// What `jsonb` refuses although JSON allows it: lone surrogate escapes (`\u0000` is already refused by
    /// ``JSONSyntax``).
    static func storageProblem(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        var index = 0
        var inString = false
        while index < bytes.count {
            let byte = bytes[index]
            if !inString {
                if byte == UInt8(ascii: "\"") { inString = true }
                index += 1
                continue
            }
            if byte == UInt8(ascii: "\"") {
                inString = false
                index += 1
                continue
            }
            guard byte == UInt8(ascii: "\\"), index + 1 < bytes.count else {
                index += 1
                continue
            }
            if bytes[index + 1] == UInt8(ascii: "u"), let unit = hexUnit(bytes, at: index + 2) {
                if (0xD800...0xDBFF).contains(unit) {
                    let next = index + 6
                    guard next + 1 < bytes.count, bytes[next] == UInt8(ascii: "\\"),
                        bytes[next + 1] == UInt8(ascii: "u"),
                        let low = hexUnit(bytes, at: next + 2), (0xDC00...0xDFFF).contains(low)
                    else {
                        return
                            "a \\u escape has a high surrogate without its low surrogate (PostgreSQL cannot store it)"
                    }
                    index = next + 6
                    continue
                }
                if (0xDC00...0xDFFF).contains(unit) {
                    return "a \\u escape has a low surrogate without its high surrogate (PostgreSQL cannot store it)"
                }
                index += 6
                continue
            }
            index += 2
        }
        return nil
    }

    /// The members of a JSON object that is already known to be valid (see ``objectProblem(_:)``).
    static func members(of text: String) -> [Member] {
        let utf8 = text.utf8
        var members: [Member] = []
        var index = utf8.startIndex
        func skipWhitespace() {
            while index < utf8.endIndex, isWhitespace(utf8[index]) { index = utf8.index(after: index) }
        }
        func skipString() {
            index = utf8.index(after: index)
            while index < utf8.endIndex {
                let byte = utf8[index]
                if byte == UInt8(ascii: "\\") {
                    index = utf8.index(index, offsetBy: 2)
                    continue
                }
                index = utf8.index(after: index)
                if byte == UInt8(ascii: "\"") { return }
            }
        }
        func skipValue() {
            var depth = 0
            while index < utf8.endIndex {
                let byte = utf8[index]
                switch byte {
                case UInt8(ascii: "\""):
                    skipString()
                    if depth == 0 { return }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return }
                    depth -= 1
                    if depth == 0 {
                        index = utf8.index(after: index)
                        return
                    }
                case UInt8(ascii: ","):
                    if depth == 0 { return }
                default:
                    if depth == 0, isWhitespace(byte) { return }
                }
                index = utf8.index(after: index)
            }
        }
        skipWhitespace()
        guard index < utf8.endIndex, utf8[index] == UInt8(ascii: "{") else { return [] }
        index = utf8.index(after: index)
        while true {
            skipWhitespace()
            guard index < utf8.endIndex, utf8[index] == UInt8(ascii: "\"") else { return members }
            let keyStart = index
            skipString()
            let key = unescape(text[keyStart..<index])
            skipWhitespace()
            index = utf8.index(after: index)  // ':'
            skipWhitespace()
            let valueStart = index
            skipValue()
            members.append(Member(key: key, value: text[valueStart..<index]))
            skipWhitespace()
            guard index < utf8.endIndex, utf8[index] == UInt8(ascii: ",") else { return members }
            index = utf8.index(after: index)
        }
    }

    /// The string a JSON string literal (with its quotes) stands for; the literal must be valid.
    static func unescape(_ literal: Substring) -> String {
        let bytes = Array(literal.utf8.dropFirst().dropLast())
        var scalars = String.UnicodeScalarView()
        var plain: [UInt8] = []
        func flush() {
            if !plain.isEmpty {
                scalars.append(contentsOf: String(decoding: plain, as: UTF8.self).unicodeScalars)
                plain.removeAll(keepingCapacity: true)
            }
        }
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\"), index + 1 < bytes.count else {
                plain.append(byte)
                index += 1
                continue
            }
            flush()
            let escaped = bytes[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "u"):
                guard let unit = hexUnit(bytes, at: index) else { continue }
                index += 4
                var value = UInt32(unit)
                if (0xD800...0xDBFF).contains(unit), index + 5 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                    bytes[index + 1] == UInt8(ascii: "u"), let low = hexUnit(bytes, at: index + 2),
                    (0xDC00...0xDFFF).contains(low)
                {
                    value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                    index += 6
                }
                scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
            default: scalars.append(Unicode.Scalar(escaped))
            }
        }
        flush()
        return String(scalars)
    }

    /// Whether a value's text is a JSON string, a whole number, `null`, an object.
    static func isString(_ value: Substring) -> Bool { value.utf8.first == UInt8(ascii: "\"") }
    static func isNull(_ value: Substring) -> Bool { value == "null" }
    static func isObject(_ value: Substring) -> Bool { value.utf8.first == UInt8(ascii: "{") }

    /// The whole number a value's text stands for, or `nil` when it is not one.
    static func integer(_ value: Substring) -> Int? {
        guard value.utf8.allSatisfy({ $0.isASCIIDigit || $0 == UInt8(ascii: "-") }) else { return nil }
        return Int(value)
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    private static func hexUnit(_ bytes: [UInt8], at index: Int) -> UInt16? {
        guard index + 4 <= bytes.count else { return nil }
        return UInt16(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
    }
}

/// Any JSON value, for printing stored JSON (payloads, results) inside `--json` output.
enum JSONValue: Codable, Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses JSON text; invalid text becomes a string holding it (so that output never fails on odd data).
    init(text: String) {
        self = (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .string(text)
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
