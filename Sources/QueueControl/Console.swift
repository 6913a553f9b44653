import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where queuectl's input and output go: the process's standard streams, or — in tests, which run commands in-process
/// (``QueueCtl/run(_:)``) — buffers of their own, with an environment of their own.
///
/// Every command reads and writes only through ``Console/current`` (a task-local), so that commands running side by
/// side in one test process do not mix their output.
public struct Console: Sendable {
    /// The process's standard streams and environment.
    public static let process = Console(
        writeOutput: { writeAll(1, $0) },
        writeError: { writeAll(2, $0) },
        inputDescriptor: 0,
        environment: { name in getenv(name).map { String(cString: $0) } },
        isTerminal: { isatty($0) == 1 },
        isProcessConsole: true
    )

    /// The console of the running command.
    @TaskLocal public static var current = Console.process

    let writeOutput: @Sendable (String) -> Void
    let writeError: @Sendable (String) -> Void
    /// The descriptor standard input is read from (`--diff -`, `--from -`).
    let inputDescriptor: Int32
    let environment: @Sendable (String) -> String?
    let isTerminal: @Sendable (Int32) -> Bool
    /// Whether this is the process's own console: the command may take over SIGINT and SIGTERM and ask the terminal
    /// its size (never on a test's console).
    let isProcessConsole: Bool

    /// A console that collects the output and error streams in `capture`, reads standard input from
    /// `inputDescriptor`, and sees only `environment`. With `terminal`, its standard output and error pretend to be a
    /// terminal `COLUMNS` (from `environment`) wide; otherwise they are pipes.
    public static func capturing(
        into capture: ConsoleCapture,
        environment: [String: String],
        inputDescriptor: Int32 = -1,
        terminal: Bool = false
    ) -> Console {
        Console(
            writeOutput: { capture.append(output: $0) },
            writeError: { capture.append(error: $0) },
            inputDescriptor: inputDescriptor,
            environment: { environment[$0] },
            isTerminal: { terminal && ($0 == 1 || $0 == 2) },
            isProcessConsole: false
        )
    }

    /// Flushes what the process wrote through C's standard I/O (nothing else buffers: output is written directly).
    func flush() {
        fflush(nil)
    }
}

/// What a command wrote to a capturing console.
public final class ConsoleCapture: Sendable {
    private let streams = Mutex((output: "", error: ""))

    /// Creates an empty capture.
    public init() {}

    func append(output text: String) { streams.withLock { $0.output += text } }
    func append(error text: String) { streams.withLock { $0.error += text } }

    /// Everything written to standard output.
    public var standardOutput: String { streams.withLock { $0.output } }
    /// Everything written to standard error.
    public var standardError: String { streams.withLock { $0.error } }
}

/// Writes a line (or `terminator`) to the console's standard output. It stands in for the standard library's `print`
/// throughout queuectl, so that tests running commands in-process see what they print.
func print(_ text: String = "", terminator: String = "\n") {
    Console.current.writeOutput(text + terminator)
}

/// Writes a value's description as a line on the console's standard output.
func print(_ value: some CustomStringConvertible, terminator: String = "\n") {
    Console.current.writeOutput(value.description + terminator)
}

/// Writes one line to the console's standard error.
func printError(_ message: String) {
    Console.current.writeError(message.hasSuffix("\n") ? message : message + "\n")
}

/// Writes text to the console's standard error as it is (no newline added), for progress bars.
func writeStandardError(_ text: String) {
    Console.current.writeError(text)
}

/// Flushes standard output (before writing to standard error, or between frames of `top`).
func flushStandardOutput() {
    Console.current.flush()
}

/// Reads a variable of the console's environment.
func environment(_ name: String) -> String? {
    Console.current.environment(name)
}

/// Writes all of `text` to a descriptor, retrying short writes and EINTR.
private func writeAll(_ descriptor: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0, errno == EINTR { continue }
        if written <= 0 { break }
        offset += written
    }
}

/// A log handler that writes to the console's standard error (warnings and errors of the CLI's libraries).
struct ConsoleLogHandler: LogHandler {
    var logLevel: Logger.Level = .warning
    var metadata: Logger.Metadata = [:]
    let label: String

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let details = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        printError("\(label): \(event.level): \(event.message)\(details.isEmpty ? "" : " " + details)")
    }
}
