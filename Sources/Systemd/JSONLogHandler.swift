public import Logging

/// A swift-log handler that writes one JSON object per line to standard error.
///
/// ```
/// {"ts":"2026-11-22T00:23:45.123Z","level":"info","logger":"queue-worker","msg":"task claimed","task.id":"42"}
/// ```
/// Keys: `ts` (RFC 3339, UTC), `level`, `logger` (the label), `msg`, `error` when the call passed one,
/// then the metadata sorted by key with its nesting kept (dictionaries as objects, arrays as arrays,
/// every leaf a string). Metadata under one of the keys above is renamed with a `meta.` prefix.
public struct JSONLogHandler: LogHandler {
    private var state: HandlerState
    private let output: LogOutput

    /// Creates a handler.
    /// - Parameters:
    ///   - label: the logger's label, written as `"logger"`.
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
        output.write(line: JSONLines.render(state.record(for: event)))
    }
}

/// The JSON-lines rendering.
enum JSONLines {
    /// One object, on one line, with its newline.
    static func render(_ record: LogRecord) -> [UInt8] {
        var members: [(String, String)] = [
            ("ts", string(record.timestamp.rfc3339)),
            ("level", string(record.level.rawValue)),
            ("logger", string(record.label)),
            ("msg", string(record.message)),
        ]
        if let error = record.error {
            members.append(("error", string(error)))
        }
        for key in record.metadata.keys.sorted() {
            let name = Logfmt.ownKeys.contains(key) ? "meta." + key : key
            members.append((name, value(record.metadata[key]!)))
        }
        return Array(object(members).utf8) + [UInt8(ascii: "\n")]
    }

    private static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    static func value(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let text):
            string(text)
        case .stringConvertible(let convertible):
            string(convertible.description)
        case .dictionary(let dictionary):
            object(dictionary.keys.sorted().map { ($0, self.value(dictionary[$0]!)) })
        case .array(let elements):
            "[" + elements.map { self.value($0) }.joined(separator: ",") + "]"
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped, other text as UTF-8.
    static func string(_ text: String) -> String {
        var literal = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": literal += "\\\""
            case "\\": literal += "\\\\"
            case "\n": literal += "\\n"
            case "\r": literal += "\\r"
            case "\t": literal += "\\t"
            case "\u{08}": literal += "\\b"
            case "\u{0C}": literal += "\\f"
            default:
                if isControl(scalar) {
                    literal += unicodeEscape(scalar)
                } else {
                    literal.unicodeScalars.append(scalar)
                }
            }
        }
        return literal + "\""
    }
}
