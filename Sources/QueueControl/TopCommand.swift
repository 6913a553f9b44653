import ArgumentParser
import Dispatch
import PostgresClient
import Synchronization
import TaskQueue

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// `queuectl top`: a live view of the queue and its workers.
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "A live view of queue depth by state, throughput, the oldest ready task, and the workers.",
        discussion: """
            Redraws every --interval (1s) until you press q or Ctrl-C. When standard output is not a terminal \
            (a pipe, a file, a script), prints one snapshot and exits; --once does the same on a terminal.

            Examples:
              queuectl top
              queuectl top --interval 5s
              queuectl top --once --json
            """
    )

    @Option(
        help: ArgumentHelp("Time between refreshes.", valueName: "duration"),
        completion: DurationText.completion,
        transform: DurationText.argument
    )
    var interval: Duration = .seconds(1)

    @Flag(help: "Print one snapshot and exit.")
    var once = false

    @Flag(help: "Print one snapshot as JSON and exit.")
    var json = false

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard interval >= .milliseconds(100) else { throw ValidationError("--interval must be at least 100ms") }
    }

    struct Snapshot: Encodable {
        let stats: QueueStats
        let workers: [WorkerRow]

        /// The stats, with the queues no live worker serves marked from the registry read at the same time.
        init(stats: QueueStats, workers: [WorkerRow], paused: [PausedQueue]) {
            var stats = stats
            stats.markUnserved(by: workers, paused: paused)
            self.stats = stats
            self.workers = workers
        }
    }

    func run() async throws {
        try await reportingErrors {
            let logger = makeCLILogger()
            let target = try database.configuration().redactedDescription
            try await database.withPool(logger: logger, connections: 1) { pool in
                let queries = QueueClient(pool: pool)
                if json || once || !Terminal.isTerminal(1) {
                    let snapshot = Snapshot(
                        stats: try await queries.stats(estimateAbove: 1_000_000, exact: false),
                        workers: try await queries.pool.run(ListWorkers(includeStopped: false)),
                        paused: try await queries.pool.run(ListPausedQueues())
                    )
                    if json {
                        try printJSON(snapshot)
                    } else {
                        print(render(snapshot, target: target), terminator: "")
                    }
                    return
                }
                try await live(queries, target: target)
            }
        }
    }

    private func render(_ snapshot: Snapshot, target: String) -> String {
        "queuectl top · \(target) · \(formatTimestamp(snapshot.stats.collectedAt))\n\n"
            + renderStats(snapshot.stats) + "\n" + renderWorkers(snapshot.workers, now: snapshot.stats.collectedAt)
    }

    /// Redraws until q, Ctrl-C or a termination signal; the terminal is restored in every case.
    private func live(_ queries: QueueClient, target: String) async throws {
        let screen = LiveScreen()
        screen.start()
        defer { screen.stop() }
        var problem: String?
        var last: Snapshot?
        while !screen.quitRequested {
            do {
                last = Snapshot(
                    stats: try await queries.stats(estimateAbove: 1_000_000, exact: false),
                    workers: try await queries.pool.run(ListWorkers(includeStopped: false)),
                    paused: try await queries.pool.run(ListPausedQueues())
                )
                problem = nil
            } catch let error as PostgresError {
                problem = "database: \(describe(error)) (retrying)"
            }
            var frame = last.map { render($0, target: target) } ?? "queuectl top · \(target)\n\n"
            if let problem { frame += "\n" + problem + "\n" }
            frame += "\nq or Ctrl-C quits · refresh every \(DurationText.format(interval))"
            screen.draw(frame)
            let deadline = ContinuousClock.now + interval
            while !screen.quitRequested, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}

/// The terminal while `top` runs: alternate screen, hidden cursor, keys read without echo. Quits on q, Q, Ctrl-C,
/// Ctrl-D, SIGINT, SIGTERM or SIGHUP.
///
/// `@unchecked Sendable`: the dispatch sources and saved terminal settings are set up and torn down by the owner;
/// the sources' handlers only touch the atomic `quit` flag.
final class LiveScreen: @unchecked Sendable {
    private let quit = Atomic<Bool>(false)
    private var savedTerminal: termios?
    private var sources: [any DispatchSourceProtocol] = []
    private let queue = DispatchQueue(label: "queuectl.top.input")

    var quitRequested: Bool { quit.load(ordering: .relaxed) }

    func start() {
        if Terminal.isTerminal(0) {
            var settings = termios()
            if tcgetattr(0, &settings) == 0 {
                savedTerminal = settings
                var raw = settings
                raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG)
                withUnsafeMutableBytes(of: &raw.c_cc) { cc in
                    cc[Int(VMIN)] = 1
                    cc[Int(VTIME)] = 0
                }
                tcsetattr(0, TCSANOW, &raw)
            }
            let input = DispatchSource.makeReadSource(fileDescriptor: 0, queue: queue)
            input.setEventHandler { [self] in
                var buffer = [UInt8](repeating: 0, count: 64)
                let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if count <= 0 || buffer[0..<count].contains(where: { [0x71, 0x51, 0x03, 0x04].contains($0) }) {
                    quit.store(true, ordering: .relaxed)
                }
            }
            input.resume()
            sources.append(input)
        }
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [self] in quit.store(true, ordering: .relaxed) }
            source.resume()
            sources.append(source)
        }
        writeOut("\u{1B}[?1049h\u{1B}[?25l\u{1B}[H\u{1B}[2J")
    }

    /// Draws a frame from the top-left corner, cut to the terminal's size.
    func draw(_ frame: String) {
        let columns = Terminal.columns(1)
        let rows = Terminal.rows(1)
        let lines = frame.split(separator: "\n", omittingEmptySubsequences: false).prefix(rows)
        let text = lines.map { String($0.prefix(columns)) + "\u{1B}[K" }.joined(separator: "\r\n")
        writeOut("\u{1B}[H" + text + "\u{1B}[J")
    }

    func stop() {
        for source in sources { source.cancel() }
        sources = []
        if var saved = savedTerminal {
            tcsetattr(0, TCSANOW, &saved)
            savedTerminal = nil
        }
        writeOut("\u{1B}[?25h\u{1B}[?1049l")
    }

    private func writeOut(_ text: String) {
        flushStandardOutput()
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0, errno == EINTR { continue }
            if written <= 0 { break }
            offset += written
        }
    }
}
