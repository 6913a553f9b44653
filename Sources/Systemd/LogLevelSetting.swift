public import Logging
internal import Synchronization

/// The log level shared by every handler made by one ``LogHandlerFactory``, changeable at run time.
///
/// A SIGHUP reload calls ``level`` 's setter once and every existing `Logger` follows, because the
/// handlers read this box on each log call. A `Logger` whose `logLevel` was set explicitly keeps its
/// own level (swift-log's value semantics) and no longer follows the shared one.
public final class LogLevelSetting: Sendable {
    private let storage: Atomic<UInt8>

    /// Creates a setting that starts at `level`.
    public init(_ level: Logger.Level = .info) {
        storage = Atomic(Self.code(level))
    }

    /// The current level; setting it takes effect for the next log call on any thread.
    public var level: Logger.Level {
        get { Self.level(storage.load(ordering: .relaxed)) }
        set { storage.store(Self.code(newValue), ordering: .relaxed) }
    }

    private static let levels = Logger.Level.allCases

    private static func code(_ level: Logger.Level) -> UInt8 {
        UInt8(levels.firstIndex(of: level) ?? 0)
    }

    private static func level(_ code: UInt8) -> Logger.Level {
        levels[Int(code)]
    }
}
