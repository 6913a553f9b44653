internal import CSystemd
internal import Glibc
public import Logging

/// Turns metadata keys into journal field names journald accepts.
///
/// journald silently drops a field whose name is not `[A-Z0-9_]`, starts with `_` (reserved for
/// trusted fields) or a digit, or is longer than 64 characters.
public enum JournalFieldName {
    /// The longest field name journald accepts.
    public static let maximumLength = 64

    /// The prefix that makes a name valid when it would start with `_` or a digit, or be empty.
    public static let prefix = "META"

    /// Maps a metadata key to a valid field name: `task.id` → `TASK_ID`, `pg-sqlstate` → `PG_SQLSTATE`,
    /// `_hidden` → `META_HIDDEN`, `2fa` → `META_2FA`.
    ///
    /// ASCII letters are uppercased, digits kept, every other character (including `.` and `-`)
    /// becomes `_`; the result is cut to ``maximumLength``.
    public static func make(_ key: String) -> String {
        var name = ""
        name.reserveCapacity(key.utf8.count)
        for scalar in key.unicodeScalars {
            switch scalar {
            case "A"..."Z", "0"..."9", "_":
                name.unicodeScalars.append(scalar)
            case "a"..."z":
                name.unicodeScalars.append(Unicode.Scalar(scalar.value - 32)!)
            default:
                name.append("_")
            }
        }
        switch name.first {
        case nil:
            name = prefix
        case "_":
            name = prefix + name
        case let first? where first.isASCII && first.isNumber:
            name = prefix + "_" + name
        default:
            break
        }
        return String(name.prefix(maximumLength))
    }

    /// Whether journald accepts `name` as a field set by a client.
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= maximumLength else { return false }
        guard first != "_", !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}

/// A swift-log handler that writes structured entries to the systemd journal with `sd_journal_sendv(3)`.
///
/// Each entry carries `MESSAGE`, `PRIORITY` (syslog severity), `SYSLOG_IDENTIFIER`, `CODE_FILE`,
/// `CODE_LINE`, `CODE_FUNC`, `LOGGER` (the logger's label), `ERROR` when the call passed one, and one
/// field per metadata value, named by ``JournalFieldName/make(_:)``: `task.id` → `TASK_ID`. Nested
/// dictionaries are joined with `_` (`["pg": ["sqlstate": …]]` → `PG_SQLSTATE`); arrays become repeated
/// fields, which `journalctl FIELD=value` matches element by element. A metadata key that would
/// overwrite one of the fields above gets the ``JournalFieldName/prefix``: `message` → `META_MESSAGE`.
///
/// When journald cannot take the entry (other than the socket being absent, where libsystemd drops it
/// silently), the entry is written to standard error as logfmt instead.
public struct JournalLogHandler: LogHandler {
    private var state: HandlerState
    private let syslogIdentifier: String
    private let fallback: LogOutput

    /// Creates a handler.
    /// - Parameters:
    ///   - label: the logger's label, sent as `LOGGER=`.
    ///   - level: the shared level this handler follows until its own `logLevel` is set.
    ///   - syslogIdentifier: sent as `SYSLOG_IDENTIFIER=`, e.g. `queue-worker`.
    ///   - metadataProvider: contributes metadata to every entry.
    public init(
        label: String,
        level: LogLevelSetting,
        syslogIdentifier: String,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.init(
            label: label,
            level: level,
            syslogIdentifier: syslogIdentifier,
            metadataProvider: metadataProvider,
            fallback: .standardError
        )
    }

    init(
        label: String,
        level: LogLevelSetting,
        syslogIdentifier: String,
        metadataProvider: Logger.MetadataProvider?,
        fallback: LogOutput
    ) {
        state = HandlerState(label: label, levelSetting: level, metadataProvider: metadataProvider)
        self.syslogIdentifier = syslogIdentifier
        self.fallback = fallback
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

    /// Sends one entry to the journal.
    public func log(event: LogEvent) {
        let record = state.record(for: event)
        let fields = Self.fields(for: record, syslogIdentifier: syslogIdentifier)
        if Self.send(fields) < 0 {
            fallback.write(line: Logfmt.render(record))
        }
    }

    // MARK: - Fields (internal for tests)

    /// The fields this handler writes itself; metadata may not overwrite them.
    static let ownFields: Set<String> = [
        "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "LOGGER", "ERROR",
    ]

    /// syslog(3) severity for a swift-log level.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7  // LOG_DEBUG
        case .info: 6  // LOG_INFO
        case .notice: 5  // LOG_NOTICE
        case .warning: 4  // LOG_WARNING
        case .error: 3  // LOG_ERR
        case .critical: 2  // LOG_CRIT
        }
    }

    /// The field name for a (flattened, dotted) metadata key.
    static func metadataFieldName(_ key: String) -> String {
        let name = JournalFieldName.make(key)
        return ownFields.contains(name) ? String((JournalFieldName.prefix + "_" + name).prefix(64)) : name
    }

    /// Every `NAME=value` pair of one entry, in sending order.
    static func fields(for record: LogRecord, syslogIdentifier: String) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = [
            ("MESSAGE", record.message),
            ("PRIORITY", String(priority(record.level))),
            ("SYSLOG_IDENTIFIER", syslogIdentifier),
            ("CODE_FILE", record.file),
            ("CODE_LINE", String(record.line)),
            ("CODE_FUNC", record.function),
            ("LOGGER", record.label),
        ]
        if let error = record.error {
            fields.append(("ERROR", error))
        }
        for (key, value) in MetadataFlattener.flatten(record.metadata, arrays: .repeatKey) {
            fields.append((metadataFieldName(key), value))
        }
        return fields
    }

    /// Sends the fields in one `sd_journal_sendv` call and returns its result (a negative errno on failure).
    ///
    /// All fields live in one byte buffer that stays alive, unmoved, for the whole call; the iovecs point into it.
    static func send(_ fields: [(name: String, value: String)]) -> Int32 {
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(fields.count)
        for (name, value) in fields {
            let start = bytes.count
            bytes.append(contentsOf: name.utf8)
            bytes.append(UInt8(ascii: "="))
            bytes.append(contentsOf: value.utf8)
            ranges.append(start..<bytes.count)
        }
        return bytes.withUnsafeMutableBytes { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return 0 }
            var vectors = ranges.map { iovec(iov_base: base + $0.lowerBound, iov_len: $0.count) }
            return vectors.withUnsafeMutableBufferPointer { iov in
                sd_journal_sendv(iov.baseAddress, Int32(iov.count))
            }
        }
    }
}
