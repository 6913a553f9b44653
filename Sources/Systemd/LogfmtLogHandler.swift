public import Logging

/// A swift-log handler that writes one readable `key=value` line per entry to standard error.
///
/// ```
/// ts=2026-11-22T00:23:45.123Z level=info logger=queue-worker msg="task claimed" agent=security task.id=42
/// ```
/// Fields: `ts` (RFC 3339, UTC), `level`, `logger` (the label), `msg`, `error` when the call passed one,
/// then the metadata sorted by key, nested dictionaries as dotted keys (`pg.sqlstate`) and arrays as
/// `[a,b]`. Values with spaces, `=`, quotes, backslashes or control characters are quoted and escaped
/// (`\"`, `\\`, `\n`, `\t`, `\u001b`), so every entry stays on one line.
public struct LogfmtLogHandler: LogHandler {
    private var state: HandlerState
    private let output: LogOutput

    /// Creates a handler.
    /// - Parameters:
    ///   - label: the logger's label, written as `logger=`.
    ///   - level: the shared level this handler follows until its own `logLevel` is set.
    ///   - metadataProvider: contributes metadata to every entry.
    ///   - output: where lines go; standard error unless a test collects them.
    public init(
        label: String,
        level: LogLevelSetting,
        metadataProvider: Logger.MetadataProvider? = nil,
        output: LogOutput = .standardError
    ) {
        state = HandlerState(label: label, levelSetting: level, metadataProvider: metadataProvider)
        self.output = output
    }

    /// The level of this logger: the shared ``LogLevelSetting`` unless set on this logger.
    public var logLevel: Logger.Level {
        get { state.logLevel }
        set { state.logLevel = newValue }
    }

    /// Metadata added to every entry of this logger.
    public var metadata: Logger.Metadata {
        get { state.metadata }
        set { state.metadata = newValue }
    }

    /// Contributes metadata (e.g. task-local values) to every entry.
    public var metadataProvider: Logger.MetadataProvider? {
        get { state.metadataProvider }
        set { state.metadataProvider = newValue }
    }

    /// One metadata value of this logger.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { state.metadata[key] }
        set { state.metadata[key] = newValue }
    }

    /// Writes one line.
    public func log(event: LogEvent) {
        output.write(line: Logfmt.render(state.record(for: event)))
    }
}

/// The logfmt rendering, shared with the journal handler's fallback.
enum Logfmt {
    /// Keys the line starts with; metadata under the same key is renamed with a `meta.` prefix.
    static let ownKeys: Set<String> = ["ts", "level", "logger", "msg", "error"]

    /// One line, with its newline.
    static func render(_ record: LogRecord) -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(128)
        append(key: "ts", value: record.timestamp.rfc3339, to: &line)
        append(key: "level", value: record.level.rawValue, to: &line)
        append(key: "logger", value: record.label, to: &line)
        append(key: "msg", value: record.message, to: &line)
        if let error = record.error {
            append(key: "error", value: error, to: &line)
        }
        for (key, value) in MetadataFlattener.flatten(record.metadata, arrays: .compact) {
            append(key: ownKeys.contains(key) ? "meta." + key : key, value: value, to: &line)
        }
        line.append(UInt8(ascii: "\n"))
        return line
    }

    private static func append(key: String, value: String, to line: inout [UInt8]) {
        if !line.isEmpty {
            line.append(UInt8(ascii: " "))
        }
        line.append(contentsOf: self.key(key).utf8)
        line.append(UInt8(ascii: "="))
        line.append(contentsOf: self.value(value).utf8)
    }

    /// A key with every space, `=`, quote and control character replaced by `_`; `_` when empty.
    static func key(_ key: String) -> String {
        guard !key.isEmpty else { return "_" }
        return String(
            String.UnicodeScalarView(
                key.unicodeScalars.map { needsQuoting($0) || $0 == "\\" ? "_" : $0 }
            )
        )
    }

    /// A value as is when that is unambiguous, else quoted and escaped.
    static func value(_ value: String) -> String {
        guard value.isEmpty || value.unicodeScalars.contains(where: needsQuoting) else { return value }
        var quoted = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            default:
                if isControl(scalar) {
                    quoted += unicodeEscape(scalar)
                } else {
                    quoted.unicodeScalars.append(scalar)
                }
            }
        }
        return quoted + "\""
    }

    private static func needsQuoting(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "=" || scalar == "\"" || scalar == "\\" || isControl(scalar)
    }
}

/// C0 and C1 controls, DEL, and the Unicode line and paragraph separators: anything that could break a line.
func isControl(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
}

/// `\u` and four lowercase hex digits, as JSON writes it.
func unicodeEscape(_ scalar: Unicode.Scalar) -> String {
    let hex = String(scalar.value, radix: 16)
    return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
}
