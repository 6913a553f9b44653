import ArgumentParser

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// A plain-text table with columns separated by two spaces; chosen columns are right-aligned (numbers).
final class TextTable {
    private let headers: [String]
    private let rightAligned: Set<Int>
    private var rows: [[String]] = []

    init(headers: [String], rightAligned: Set<Int> = []) {
        self.headers = headers
        self.rightAligned = rightAligned
    }

    /// Adds a row; control characters in the cells are shown escaped (``terminalSafe(_:)``).
    func add(_ row: [String]) {
        rows.append(row.map { terminalSafe($0) })
    }

    var isEmpty: Bool { rows.isEmpty }

    func render() -> String {
        let all = [headers] + rows
        var widths = [Int](repeating: 0, count: headers.count)
        for row in all {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        var output = ""
        for row in all {
            var line = ""
            for (index, cell) in row.enumerated() {
                let isLast = index == row.count - 1
                let padding = String(
                    repeating: " ", count: max(0, (index < widths.count ? widths[index] : 0) - cell.count))
                if rightAligned.contains(index) {
                    line += padding + cell + (isLast ? "" : "  ")
                } else {
                    line += isLast ? cell : cell + padding + "  "
                }
            }
            while line.last == " " { line.removeLast() }
            output += line + "\n"
        }
        return output
    }
}

/// How analytics and listings are printed.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json, csv
}

/// Options that choose between a table, JSON and CSV (`--json` is short for `--format json`).
struct FormatOptions: ParsableArguments {
    @Option(help: "Output format: table, json or csv.")
    var format: OutputFormat = .table

    @Flag(help: "Print machine-readable JSON (same as --format json).")
    var json = false

    var effective: OutputFormat { json ? .json : format }

    func validate() throws {
        if json, format != .table, format != .json {
            throw ValidationError("--json and --format \(format.rawValue) contradict each other: use one")
        }
    }
}

/// One CSV record (RFC 4180): fields with a comma, quote or line break are quoted; other control characters are shown
/// escaped (``terminalSafe(_:keepingLineBreaks:)``), so that a CSV printed on a terminal cannot drive it.
func csvRecord(_ fields: [String]) -> String {
    fields.map { terminalSafe($0, keepingLineBreaks: true) }.map { field in
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacing("\"", with: "\"\"") + "\""
    }.joined(separator: ",")
}

/// Prints a header and rows as CSV on standard output.
func printCSV(headers: [String], rows: [[String]]) {
    print(csvRecord(headers))
    for row in rows { print(csvRecord(row)) }
}

/// Formats a date as `2026-11-22 10:15:30Z` (UTC, seconds).
func formatTimestamp(_ date: Date) -> String {
    let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
    var days = seconds / 86_400
    var rest = seconds % 86_400
    if rest < 0 {
        rest += 86_400
        days -= 1
    }
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let day = doy - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(year)-\(two(month))-\(two(day)) \(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))Z"
}

/// A date as an ISO 8601 string (for CSV).
func isoTimestamp(_ date: Date) -> String {
    formatTimestamp(date).replacing(" ", with: "T")
}

/// A length of time for people: `45s`, `12m03s`, `3h07m`, `5d04h`.
func formatAge(seconds: Double) -> String {
    let total = Int(max(0, seconds).rounded(.down))
    func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
    if total < 60 { return "\(total)s" }
    if total < 3600 { return "\(total / 60)m\(two(total % 60))s" }
    if total < 86_400 { return "\(total / 3600)h\(two(total / 60 % 60))m" }
    return "\(total / 86_400)d\(two(total / 3600 % 24))h"
}

/// Milliseconds for people: `40µs`, `12.5ms`, `850ms`, `1.25s`, `2m05s`.
func formatMilliseconds(_ milliseconds: Double) -> String {
    // A rule agent's work on a small diff takes microseconds: "0.0ms" would say nothing.
    if milliseconds > 0 && milliseconds < 0.95 { return "\(Int((milliseconds * 1000).rounded()))µs" }
    if milliseconds < 100 { return format1(milliseconds) + "ms" }
    if milliseconds < 1000 { return "\(Int(milliseconds.rounded()))ms" }
    if milliseconds < 60_000 { return format2(milliseconds / 1000) + "s" }
    return formatAge(seconds: milliseconds / 1000)
}

/// A count with thousands separators: `12,345`.
func formatCount(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var result = ""
    for (index, character) in digits.enumerated() {
        if index > 0, (digits.count - index) % 3 == 0 { result.append(",") }
        result.append(character)
    }
    return value < 0 ? "-" + result : result
}

/// A number with one decimal: `12.5`.
func format1(_ value: Double) -> String { fixed(value, decimals: 1) }

/// A number with two decimals: `12.50`.
func format2(_ value: Double) -> String { fixed(value, decimals: 2) }

/// A number with a fixed number of decimals, without Foundation's locale-dependent formatting.
func fixed(_ value: Double, decimals: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = Int(scaled / scale)
    var text = (value < 0 && scaled != 0 ? "-" : "") + String(whole)
    if decimals > 0 {
        let fraction = String(Int(scaled - Double(whole) * scale))
        text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
    return text
}

/// Prints a value as JSON (sorted keys, one line) on standard output.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// What the process's standard streams are connected to.
enum Terminal {
    /// Whether a descriptor is a terminal (never, on a test's console).
    static func isTerminal(_ descriptor: Int32) -> Bool { Console.current.isTerminal(descriptor) }

    /// The terminal's width in columns (80 when unknown).
    static func columns(_ descriptor: Int32 = 1) -> Int {
        var size = winsize()
        if isTerminal(descriptor), ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
            return Int(size.ws_col)
        }
        if let text = environment("COLUMNS"), let value = Int(text), value > 0 { return value }
        return 80
    }

    /// The terminal's height in rows (24 when unknown).
    static func rows(_ descriptor: Int32 = 1) -> Int {
        var size = winsize()
        if isTerminal(descriptor), ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0 {
            return Int(size.ws_row)
        }
        return 24
    }
}

/// Terminal charts: horizontal bars and sparklines.
enum Chart {
    private static let sparks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
    private static let eighths: [Character] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"].compactMap(\.first)

    /// A sparkline, one character per value, scaled to the largest value: zero is a space, so that it cannot be
    /// mistaken for a small value (which is at least `▂`).
    static func sparkline(_ values: [Int]) -> String {
        let top = values.max() ?? 0
        return String(
            values.map { value -> Character in
                guard top > 0, value > 0 else { return " " }
                let level = Int((Double(value) / Double(top) * Double(sparks.count - 1)).rounded())
                return sparks[max(1, min(sparks.count - 1, level))]
            })
    }

    /// A horizontal bar of `value` out of `maximum`, at most `width` cells wide, with eighth-cell precision.
    static func bar(_ value: Double, maximum: Double, width: Int) -> String {
        guard maximum > 0, value > 0, width > 0 else { return "" }
        let cells = value / maximum * Double(width)
        let whole = Int(cells)
        let remainder = Int(((cells - Double(whole)) * 8).rounded(.down))
        var text = String(repeating: "█", count: whole)
        if remainder > 0 { text.append(eighths[remainder - 1]) }
        if text.isEmpty { text = "▏" }
        return text
    }
}

/// A progress bar redrawn in place on standard error, or one line per step when standard error is not a
/// terminal and lines were asked for.
final class ProgressReporter {
    /// How progress is shown.
    enum Mode: String, ExpressibleByArgument, CaseIterable {
        /// A bar when standard error is a terminal, nothing otherwise.
        case auto
        /// Always a bar (redrawn with carriage returns).
        case bar
        /// One line per batch.
        case lines
        /// Nothing.
        case none
    }

    private let total: Int
    private let noun: String
    private let style: Mode
    private let started = ContinuousClock.now
    private var drawn = false

    init(total: Int, noun: String, mode: Mode) {
        self.total = total
        self.noun = noun
        switch mode {
        case .auto: style = Terminal.isTerminal(2) ? .bar : .none
        default: style = mode
        }
    }

    /// Shows that `done` of `total` are done.
    func update(done: Int) {
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let percent = total == 0 ? 100 : done * 100 / total
        switch style {
        case .bar:
            let label = " \(formatCount(done))/\(formatCount(total)) \(noun) \(percent)%  \(formatCount(Int(rate)))/s"
            let width = max(10, min(40, Terminal.columns(2) - label.count - 3))
            let filled = total == 0 ? width : width * done / total
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            writeStandardError("\r\u{1B}[2K[\(bar)]\(label)")
            drawn = true
        case .lines:
            printError("enqueued \(done)/\(total) \(noun) (\(percent)%)")
        case .auto, .none:
            break
        }
    }

    /// Ends the bar's line.
    func finish() {
        if drawn { writeStandardError("\n") }
        drawn = false
    }
}

/// `text` with every control character (C0, DEL and C1: what could move the cursor, clear the screen or retitle the
/// terminal) shown in caret notation (`^[` for ESC, `^?` for DEL) or as `\u{9B}`: values stored by anyone who may
/// enqueue (titles, authors, dedupe keys, file paths of a diff) never reach the operator's terminal as commands.
func terminalSafe(_ text: String, keepingLineBreaks: Bool = false) -> String {
    guard text.unicodeScalars.contains(where: isControl) else { return text }
    var result = ""
    for scalar in text.unicodeScalars {
        if keepingLineBreaks, scalar == "\n" || scalar == "\r" || scalar == "\t" {
            result.unicodeScalars.append(scalar)
        } else if scalar.value < 0x20 {
            result += "^" + String(UnicodeScalar(UInt8(scalar.value + 0x40)))
        } else if scalar.value == 0x7F {
            result += "^?"
        } else if isControl(scalar) {
            result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        } else {
            result.unicodeScalars.append(scalar)
        }
    }
    return result
}

private func isControl(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
}
