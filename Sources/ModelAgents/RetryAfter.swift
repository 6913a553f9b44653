/// Reads how long a server asks the client to wait: `Retry-After` (RFC 9110 §10.2.3: delay-seconds or an
/// HTTP-date) and OpenAI's `retry-after-ms`.
enum RetryAfter {
    /// The wait a response asks for, or nil when it asks for none we can read. A date in the past means zero.
    ///
    /// `header` looks a header up case-insensitively; `now` is seconds since 1970.
    static func delay(header: (String) -> String?, now: Double) -> Duration? {
        if let text = header("retry-after-ms"), let milliseconds = Double(text.trimmed), milliseconds >= 0,
            milliseconds.isFinite
        {
            return .milliseconds(Int64(milliseconds.rounded(.up)))
        }
        guard let text = header("retry-after") else { return nil }
        return parse(text, now: now)
    }

    /// Parses a `Retry-After` value: a number of seconds or an HTTP-date.
    static func parse(_ value: String, now: Double) -> Duration? {
        let text = value.trimmed
        if let seconds = Double(text) {
            guard seconds.isFinite, seconds >= 0 else { return nil }
            return .milliseconds(Int64((seconds * 1000).rounded(.up)))
        }
        guard let date = httpDate(text) else { return nil }
        let seconds = max(0, date - now)
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Seconds since 1970 of an HTTP-date in any of its three forms: IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`,
    /// RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT`, or asctime `Sun Nov  6 08:49:37 1994`.
    static func httpDate(_ text: String) -> Double? {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" || $0 == ":" }).map(String.init)
        var day: Int?
        var month: Int?
        var year: Int?
        var time: (Int, Int, Int)?
        switch tokens.count {
        case 8 where tokens[7].uppercased() == "GMT":
            // IMF-fixdate or RFC 850: weekday, day, month, year, hour, minute, second, GMT.
            day = Int(tokens[1])
            month = months.firstIndex(of: tokens[2].lowercased()).map { $0 + 1 }
            if let value = Int(tokens[3]) {
                if tokens[3].count == 4 {
                    year = value
                } else if tokens[3].count == 2 {
                    // RFC 9110: a two-digit year more than 50 years in the future means the past century.
                    year = value < 70 ? 2000 + value : 1900 + value
                }
            }
            if let hour = Int(tokens[4]), let minute = Int(tokens[5]), let second = Int(tokens[6]) {
                time = (hour, minute, second)
            }
        case 7:
            // asctime: weekday, month, day, hour, minute, second, year.
            month = months.firstIndex(of: tokens[1].lowercased()).map { $0 + 1 }
            day = Int(tokens[2])
            if let hour = Int(tokens[3]), let minute = Int(tokens[4]), let second = Int(tokens[5]) {
                time = (hour, minute, second)
            }
            if tokens[6].count == 4 { year = Int(tokens[6]) }
        default:
            return nil
        }
        guard let day, let month, let year, let (hour, minute, second) = time, (1...31).contains(day),
            (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second), year >= 1970
        else { return nil }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        return Double(days * 86_400 + hour * 3_600 + minute * 60 + second)
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

extension String {
    fileprivate var trimmed: String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}
