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
    private let flexible: [Int]
    private let optional: [Int]
    private let painted: Set<Int>
    private var rows: [[String]] = []

    /// A table. On a terminal narrower than the table, the `flexible` columns (by default the last one, when it is
    /// left-aligned) are narrowed, in order, and then the `optional` ones left out, in order.
    /// The first word of each cell of a `painted` column gets its colour (``Palette``), when colour is on.
    init(
        headers: [String], rightAligned: Set<Int> = [], flexible: [Int]? = nil, optional: [Int] = [],
        painted: Set<Int> = []
    ) {
        self.headers = headers
        self.rightAligned = rightAligned
        self.painted = painted
        let last = headers.count - 1
        self.flexible = flexible ?? (rightAligned.contains(last) ? [] : [last])
        self.optional = optional
    }

    /// Adds a row; control characters in the cells are shown escaped (``terminalSafe(_:)``).
    func add(_ row: [String]) {
        rows.append(row.map { terminalSafe($0) })
    }

    var isEmpty: Bool { rows.isEmpty }

    /// The table as text. On a terminal it fits the terminal's width (see ``init(headers:rightAligned:flexible:optional:)``);
    /// cells of narrowed columns are cut with `…`, at the end for the last column and in the middle for the others,
    /// so that ids keep their distinct ends. Piped, nothing is cut or left out.
    func render(width: Int? = Terminal.isTerminal(1) ? Terminal.columns(1) : nil) -> String {
        let all = [headers] + rows
        var widths = [Int](repeating: 0, count: headers.count)
        for row in all {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        var shown = Set(widths.indices)
        if let width { fit(&widths, shown: &shown, into: width) }
        let lastShown = shown.max() ?? 0
        var output = ""
        for (rowIndex, row) in all.enumerated() {
            var line = ""
            for (index, original) in row.enumerated() where shown.contains(index) || index >= widths.count {
                let isLast = index == lastShown
                let columnWidth = index < widths.count ? widths[index] : 0
                var cell = original.count <= columnWidth ? original : Self.cut(original, to: columnWidth, atEnd: isLast)
                let padding = String(repeating: " ", count: max(0, columnWidth - cell.count))
                if rowIndex > 0, painted.contains(index) { cell = Palette.paintLeadingWord(cell) }
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

    /// Narrows flexible columns (to 20 characters, or their header), leaves out optional ones, then narrows flexible
    /// columns further (to 8, or their header), until the table fits `total` characters or nothing more can go.
    private func fit(_ widths: inout [Int], shown: inout Set<Int>, into total: Int) {
        func length() -> Int { shown.map { widths[$0] }.reduce(0, +) + 2 * max(0, shown.count - 1) }
        func narrow(to floor: Int) {
            for column in flexible where shown.contains(column) && length() > total {
                let minimum = max(floor, headers[column].count)
                widths[column] = max(min(widths[column], minimum), widths[column] - (length() - total))
            }
        }
        guard length() > total else { return }
        narrow(to: 20)
        for column in optional where length() > total { shown.remove(column) }
        narrow(to: 8)
    }

    /// `text` in `width` characters: `abcdefg…` at the end, or `abc…xyz` in the middle.
    static func cut(_ text: String, to width: Int, atEnd: Bool) -> String {
        guard width > 1 else { return String(text.prefix(width)) }
        if atEnd { return String(text.prefix(width - 1)) + "…" }
        let tail = (width - 1) / 2
        return String(text.prefix(width - 1 - tail)) + "…" + String(text.suffix(tail))
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

/// `count` events in `seconds` as a rate people can read: per second from one a second up (`12.5/s`), per minute
/// below (`4.0/min`, `0.25/min`, where per second would print `0.07/s` and `0.00/s`), `0/s` for none.
func formatRate(_ count: Int, perSeconds seconds: Double) -> String {
    let perSecond = Double(count) / seconds
    if count == 0 { return "0/s" }
    if perSecond >= 1 { return format1(perSecond) + "/s" }
    let perMinute = perSecond * 60
    return (perMinute >= 1 ? format1(perMinute) : format2(perMinute)) + "/min"
}

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

    /// The terminal's width in columns (from the terminal, else `COLUMNS`, else 80).
    static func columns(_ descriptor: Int32 = 1) -> Int {
        var size = winsize()
        if Console.current.isProcessConsole, isTerminal(descriptor), ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0,
            size.ws_col > 0
        {
            return Int(size.ws_col)
        }
        if let text = environment("COLUMNS"), let value = Int(text), value > 0 { return value }
        return 80
    }

    /// The terminal's height in rows (24 when unknown).
    static func rows(_ descriptor: Int32 = 1) -> Int {
        var size = winsize()
        if Console.current.isProcessConsole, isTerminal(descriptor), ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0,
            size.ws_row > 0
        {
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
