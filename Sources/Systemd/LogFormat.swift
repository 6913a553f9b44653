internal import Glibc
public import Logging

/// How the process writes its logs (`--log-format`, `LOG_FORMAT`).
public enum LogFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The journal when standard error is connected to it (``JournalStream``), logfmt otherwise.
    case auto
    /// Structured entries through `sd_journal_sendv(3)` (``JournalLogHandler``).
    case journal
    /// Readable `key=value` lines on standard error (``LogfmtLogHandler``).
    case logfmt
    /// One JSON object per line on standard error (``JSONLogHandler``).
    case json

    /// The name used on the command line and in the environment.
    public var description: String { rawValue }

    /// A concrete format: ``auto`` becomes ``journal`` or ``logfmt``, the others stay as they are.
    /// - Parameter journalStream: the value of `JOURNAL_STREAM`; read from the environment when omitted.
    public func resolved(journalStream: String? = JournalStream.environmentValue()) -> LogFormat {
        guard self == .auto else { return self }
        return JournalStream.isConnected(STDERR_FILENO, journalStream: journalStream) ? .journal : .logfmt
    }
}

/// Detects whether a file descriptor is the stream systemd connected to the journal.
///
/// systemd sets `JOURNAL_STREAM=<device>:<inode>` for a service whose standard output or error goes
/// to the journal; the descriptor is connected when `fstat(2)` reports the same pair. A child process
/// that inherited the variable but not the descriptor (say, stderr redirected to a file) sees a mismatch.
public enum JournalStream {
    /// The value of `JOURNAL_STREAM`, or `nil` when it is unset.
    public static func environmentValue() -> String? {
        getenv("JOURNAL_STREAM").map { String(cString: $0) }
    }

    /// Parses `"<device>:<inode>"` (both decimal); `nil` when malformed.
    public static func parse(_ value: String) -> (device: UInt64, inode: UInt64)? {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        return (device, inode)
    }

    /// Whether `descriptor` is the journal stream named by `journalStream`.
    public static func isConnected(_ descriptor: Int32, journalStream: String?) -> Bool {
        guard let journalStream, let expected = parse(journalStream) else { return false }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return false }
        return UInt64(info.st_dev) == expected.device && UInt64(info.st_ino) == expected.inode
    }
}

/// Makes the log handlers for one process: pass ``makeHandler(label:metadataProvider:)`` to
/// `LoggingSystem.bootstrap` in `main`, and keep ``level`` to change the level on reload.
///
/// ```swift
/// let logLevel = LogLevelSetting(config.logLevel)
/// let logging = LogHandlerFactory(format: config.logFormat, level: logLevel, syslogIdentifier: "queue-worker")
/// LoggingSystem.bootstrap(logging.makeHandler(label:metadataProvider:), metadataProvider: nil)
/// // on SIGHUP:
/// logLevel.level = newConfig.logLevel
/// ```
public struct LogHandlerFactory: Sendable {
    /// The concrete format in use: never ``LogFormat/auto``.
    public let format: LogFormat
    /// The level every handler made here follows.
    public let level: LogLevelSetting
    /// `SYSLOG_IDENTIFIER=` of journal entries.
    public let syslogIdentifier: String
    private let output: LogOutput

    /// Creates a factory, resolving ``LogFormat/auto`` once, now.
    /// - Parameters:
    ///   - format: the requested format.
    ///   - level: the shared, reloadable level.
    ///   - syslogIdentifier: the journal's `SYSLOG_IDENTIFIER=`; the program's name by default.
    ///   - journalStream: the value of `JOURNAL_STREAM`; read from the environment when omitted.
    ///   - output: where logfmt and JSON lines go.
    public init(
        format: LogFormat,
        level: LogLevelSetting,
        syslogIdentifier: String = LogHandlerFactory.programName,
        journalStream: String? = JournalStream.environmentValue(),
        output: LogOutput = .standardError
    ) {
        self.format = format.resolved(journalStream: journalStream)
        self.level = level
        self.syslogIdentifier = syslogIdentifier
        self.output = output
    }

    /// The last path component of `argv[0]`, e.g. `queue-worker`.
    public static var programName: String {
        guard let path = CommandLine.arguments.first, let name = path.split(separator: "/").last else {
            return "agentqueue"
        }
        return String(name)
    }

    /// A handler for a new `Logger`, in the factory's format.
    public func makeHandler(label: String, metadataProvider: Logger.MetadataProvider?) -> any LogHandler {
        switch format {
        case .journal:
            JournalLogHandler(
                label: label,
                level: level,
                syslogIdentifier: syslogIdentifier,
                metadataProvider: metadataProvider,
                fallback: output
            )
        case .json:
            JSONLogHandler(label: label, level: level, metadataProvider: metadataProvider, output: output)
        case .logfmt, .auto:
            LogfmtLogHandler(label: label, level: level, metadataProvider: metadataProvider, output: output)
        }
    }

    /// A handler for a new `Logger` without a metadata provider, for `LoggingSystem.bootstrap(_:)`.
    public func makeHandler(label: String) -> any LogHandler {
        makeHandler(label: label, metadataProvider: nil)
    }
}
