import ArgumentParser

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Lengths of time on the command line: `90s`, `15m`, `2h`, `30d`, `1w`, `500ms`, or a combination such as
/// `1h30m`. A bare number is refused (its unit would be a guess).
enum DurationText {
    /// Parses an option's value, with a message saying what is accepted (an argument parser transform).
    static func argument(_ text: String) throws -> Duration {
        guard let duration = parse(text) else { throw ValidationError(expected) }
        return duration
    }

    /// Completions offered for duration options.
    static let completion = CompletionKind.list(["30s", "5m", "1h", "1d", "7d", "30d"])

    /// What a valid duration looks like, for error messages.
    static let expected = "use a number and a unit, e.g. 90s, 15m, 2h, 30d or 1h30m (units: ms s m h d w)"

    /// Parses `text`, or returns `nil` when it is not a duration.
    static func parse(_ text: String) -> Duration? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var index = 0
        var total: Duration = .zero
        let units: [(String, Double)] = [
            ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800),
        ]
        while index < bytes.count {
            let numberStart = index
            while index < bytes.count, bytes[index].isASCIIDigit || bytes[index] == UInt8(ascii: ".") { index += 1 }
            guard index > numberStart,
                let value = Double(String(decoding: bytes[numberStart..<index], as: UTF8.self)), value.isFinite
            else { return nil }
            let unitStart = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "a"), bytes[index] <= UInt8(ascii: "z") {
                index += 1
            }
            let unit = String(decoding: bytes[unitStart..<index], as: UTF8.self)
            guard let multiplier = units.first(where: { $0.0 == unit })?.1 else { return nil }
            let seconds = value * multiplier
            guard seconds < 100 * 365 * 86_400 else { return nil }
            total += .milliseconds(Int64((seconds * 1000).rounded()))
        }
        return total
    }

    /// A human form of a duration: `30d`, `1h30m`, `45s`, `250ms`.
    static func format(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if milliseconds < 1000 { return "\(milliseconds)ms" }
        if milliseconds < 60_000, milliseconds % 1000 != 0 { return format2(Double(milliseconds) / 1000) + "s" }
        var rest = milliseconds / 1000
        var text = ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text
    }
}

/// When a task may run: a delay from now (`10m`) or a point in time (`2026-11-22T10:15:00Z`, `2026-11-22`).
enum RunAfter: Sendable, Hashable {
    case delay(Duration)
    case at(Date)

    /// Parses a duration or a timestamp, or throws a message saying what is accepted.
    static func parse(_ text: String) throws(CLIFailure) -> RunAfter {
        if let delay = DurationText.parse(text) { return .delay(delay) }
        switch Timestamp.parse(text) {
        case .success(let date): return .at(date)
        case .failure(let problem):
            let looksLikeTime = text.utf8.count >= 8 && text.utf8.prefix(4).allSatisfy(\.isASCIIDigit)
            throw CLIFailure(
                looksLikeTime
                    ? problem.description
                    : "give a delay such as 90s, 15m, 2h, 30d or 1h30m (units: ms s m h d w), "
                        + "or a time such as 2026-11-22T10:15:00Z",
                exitCode: CLIExit.usage
            )
        }
    }

    /// The moment, with delays counted from `now` (the database's clock).
    func resolve(now: Date) -> Date {
        switch self {
        case .delay(let duration):
            let (seconds, attoseconds) = duration.components
            return now.addingTimeInterval(Double(seconds) + Double(attoseconds) / 1e18)
        case .at(let date): return date
        }
    }
}

/// ISO 8601 timestamps as people type them: `2026-11-22`, `2026-11-22T10:15Z`, `2026-11-22 10:15:30.5+02:00`.
/// A time needs a zone (`Z` or an offset); a date alone means midnight UTC.
enum Timestamp {
    /// Parses a timestamp, or says what is wrong with it.
    static func parse(_ text: String) -> Result<Date, CLIFailure> {
        func failure(_ message: String) -> Result<Date, CLIFailure> {
            .failure(CLIFailure(message, exitCode: CLIExit.usage))
        }
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count, bytes[index..<index + digits].allSatisfy(\.isASCIIDigit) else {
                return nil
            }
            defer { index += digits }
            return Int(String(decoding: bytes[index..<index + digits], as: UTF8.self))
        }
        func expect(_ character: Character) -> Bool {
            guard index < bytes.count, bytes[index] == character.asciiValue! else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2) else {
            return failure("use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z (or an offset such as +02:00)")
        }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day) else {
            return failure("\(text) is not a date of the calendar")
        }
        var seconds = Double(daysFromCivil(year: year, month: month, day: day)) * 86_400
        guard index < bytes.count else { return .success(Date(timeIntervalSince1970: seconds)) }
        guard expect("T") || expect("t") || expect(" ") else {
            return failure("expected T between the date and the time")
        }
        guard let hour = number(2), expect(":"), let minute = number(2), hour < 24, minute < 60 else {
            return failure("the time must be HH:MM[:SS] (24-hour clock)")
        }
        var second = 0.0
        if expect(":") {
            guard let whole = number(2), whole < 60 else { return failure("seconds must be 00-59") }
            second = Double(whole)
            if expect(".") || expect(",") {
                let start = index
                while index < bytes.count, bytes[index].isASCIIDigit { index += 1 }
                guard index > start else { return failure("expected digits after the decimal point") }
                second += Double("0." + String(decoding: bytes[start..<index], as: UTF8.self)) ?? 0
            }
        }
        seconds += Double(hour * 3600 + minute * 60) + second
        guard index < bytes.count else {
            return failure("add a time zone: Z for UTC or an offset such as +02:00 (e.g. \(text)Z)")
        }
        if expect("Z") || expect("z") {
        } else if bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "+") ? 1.0 : -1.0
            index += 1
            guard let offsetHours = number(2), offsetHours <= 18 else { return failure("invalid time zone offset") }
            var offsetMinutes = 0
            if expect(":") || (index < bytes.count && bytes[index].isASCIIDigit) {
                guard let minutes = number(2), minutes < 60 else { return failure("invalid time zone offset") }
                offsetMinutes = minutes
            }
            seconds -= sign * Double(offsetHours * 3600 + offsetMinutes * 60)
        } else {
            return failure("add a time zone: Z for UTC or an offset such as +02:00")
        }
        guard index == bytes.count else { return failure("unexpected text after the time zone") }
        return .success(Date(timeIntervalSince1970: seconds))
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's days-from-civil algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

extension UInt8 {
    var isASCIIDigit: Bool { self >= 0x30 && self <= 0x39 }
}

/// Task ids given on the command line: positive, duplicates removed, order kept.
func uniqueTaskIDs(_ ids: [Int64]) throws -> [Int64] {
    var seen = Set<Int64>()
    var result: [Int64] = []
    for id in ids {
        guard id > 0 else { throw ValidationError("task ids are positive numbers (got \(id))") }
        if seen.insert(id).inserted { result.append(id) }
    }
    return result
}
