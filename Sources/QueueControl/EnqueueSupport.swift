import ArgumentParser
import Dispatch
import Logging
import PostgresClient
import ReviewAgents
import ReviewStore
import ReviewWorkflow
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

/// Where and when a task runs: shared by `enqueue review` and `enqueue task` (defaults for `--from` lines).
struct TaskPlacementOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp("Queue to put the task in; workers serve the queues of WORKER_QUEUES.", valueName: "name"))
    var queue = "default"

    @Option(parsing: .unconditional, help: ArgumentHelp("Lower runs first (-32768 to 32767).", valueName: "n"))
    var priority: Int16 = 0

    @Option(
        name: .customLong("run-after"),
        help: ArgumentHelp(
            "Not before this delay (10m, 2h) or time (2026-11-22T10:15:00Z; a date alone is midnight UTC).",
            valueName: "delay|time"
        ),
        completion: DurationText.completion,
        transform: { try RunAfter.parse($0) }
    )
    var runAfter: RunAfter?

    @Option(
        name: .customLong("max-attempts"),
        help: ArgumentHelp("Attempts before the task is dead (1-1000).", valueName: "n"))
    var maxAttempts = 3

    func validate() throws {
        if let problem = TaskValidation.queueProblem(queue) { throw ValidationError(problem) }
        guard (1...1000).contains(maxAttempts) else {
            throw ValidationError("--max-attempts must be between 1 and 1000 (got \(maxAttempts))")
        }
    }
}

/// `--wait` and `--timeout`.
struct WaitOptions: ParsableArguments {
    @Flag(help: "Wait until the task finishes and print its outcome; the exit status reflects it.")
    var wait = false

    @Option(
        help: ArgumentHelp(
            "With --wait: give up waiting after this long (exit 4; the task keeps its place).", valueName: "duration"),
        completion: DurationText.completion,
        transform: DurationText.argument
    )
    var timeout: Duration?

    func validate() throws {
        if timeout != nil, !wait { throw ValidationError("--timeout only makes sense with --wait") }
    }
}

/// `--from FILE` options: batching and progress.
struct BatchOptions: ParsableArguments {
    @Option(
        name: .customLong("batch-size"),
        help: ArgumentHelp("With --from: tasks per transaction (1-10000).", valueName: "n")
    )
    var batchSize = 1000

    @Option(help: ArgumentHelp("With --from: skip the first n lines (to resume after a failure).", valueName: "n"))
    var skip = 0

    @Option(
        help:
            "With --from: progress on standard error: auto (a bar on a terminal), bar, lines or none (not even a summary)."
    )
    var progress: ProgressReporter.Mode = .auto

    func validate() throws {
        guard (1...10_000).contains(batchSize) else {
            throw ValidationError("--batch-size must be between 1 and 10000 (got \(batchSize))")
        }
        guard skip >= 0 else { throw ValidationError("--skip must be 0 or more") }
    }
}

/// One task read from a `--from` file, with its line number.
struct NumberedTask: Sendable {
    let line: Int
    let task: NewTask
}

/// What enqueueing printed, as `--json`.
struct EnqueuedOutput: Encodable {
    let id: Int64
    let deduplicated: Bool
    let kind: String
    let queue: String
    let dedupeKey: String?

    enum CodingKeys: String, CodingKey {
        case id, deduplicated, kind, queue
        case dedupeKey = "dedupe_key"
    }
}

/// The outcome of a `--from` run, as `--json`.
struct BatchOutput: Encodable {
    let enqueued: Int
    let deduplicated: Int
    let batches: Int
    let ids: [Int64]
}

/// Splits an input file into non-blank lines with their 1-based numbers, after skipping `skip` lines.
func numberedLines(_ bytes: [UInt8], skip: Int) throws(CLIFailure) -> [(number: Int, text: String)] {
    var lines: [(number: Int, text: String)] = []
    var number = 0
    var start = 0
    func take(_ end: Int) throws(CLIFailure) {
        number += 1
        guard number > skip else { return }
        var slice = bytes[start..<end]
        if slice.last == UInt8(ascii: "\r") { slice = slice.dropLast() }
        guard slice.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { return }
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw CLIFailure("line \(number): not valid UTF-8 text", exitCode: CLIExit.usage)
        }
        lines.append((number, text))
    }
    for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
        try take(index)
        start = index + 1
    }
    if start < bytes.count { try take(bytes.count) }
    return lines
}

/// Enqueues tasks read from a file in batches (one `enqueue_tasks` transaction each), with progress.
///
/// Every line was validated before the first batch is sent, so bad input stores nothing. When the database fails
/// part-way, the batches before stay committed and the message says which line to resume from (`--skip`).
func enqueueBatches(
    _ tasks: [NumberedTask],
    pool: PostgresConnectionPool,
    options: BatchOptions,
    json: Bool
) async throws {
    guard !tasks.isEmpty else {
        throw CLIFailure(
            "the file has no tasks (only blank lines after --skip \(options.skip))", exitCode: CLIExit.usage)
    }
    let progress = ProgressReporter(total: tasks.count, noun: "tasks", mode: options.progress)
    var ids: [Int64] = []
    ids.reserveCapacity(tasks.count)
    var duplicates = 0
    var batches = 0
    var lastLine = options.skip
    var start = 0
    while start < tasks.count {
        let end = min(start + options.batchSize, tasks.count)
        let batch = tasks[start..<end]
        let results: [EnqueueResult]
        do {
            results = try await pool.run(try EnqueueTasks(batch.map(\.task)))
        } catch {
            progress.finish()
            let reason: String
            if let error = error as? PostgresError {
                reason = describe(error)
            } else {
                reason = "\(error)"
            }
            let done =
                start == 0
                ? "nothing was enqueued"
                : "lines up to \(lastLine) were enqueued (\(start) tasks, \(batches) batches); "
                    + "nothing from line \(batch.first!.line) on was stored: fix the cause and rerun with --skip \(lastLine)"
            throw CLIFailure(
                "batch \(batches + 1) (lines \(batch.first!.line)-\(batch.last!.line)) failed: \(reason); \(done)")
        }
        batches += 1
        for result in results {
            ids.append(result.id)
            if result.deduplicated { duplicates += 1 }
        }
        lastLine = batch.last!.line
        progress.update(done: end)
        start = end
    }
    progress.finish()
    if json {
        try printJSON(
            BatchOutput(enqueued: ids.count - duplicates, deduplicated: duplicates, batches: batches, ids: ids))
        return
    }
    for id in ids { print(id) }
    flushStandardOutput()
    // --progress none: nothing on standard error but errors.
    guard options.progress != .none else { return }
    let duplicateNote =
        duplicates == 0 ? "" : " (\(formatCount(duplicates)) already pending or running: their ids are printed)"
    printError(
        "enqueued \(formatCount(ids.count - duplicates)) tasks from \(formatCount(tasks.count)) lines in \(batches) "
            + "batch\(batches == 1 ? "" : "es")\(duplicateNote)"
    )
}

/// Enqueues one task and prints its id (or JSON); notes on stderr when a live duplicate was returned instead.
private func enqueueAndPrint(_ task: NewTask, pool: PostgresConnectionPool, json: Bool, quietID: Bool = false)
    async throws
    -> EnqueueResult
{
    let result: EnqueueResult
    do {
        result = try await pool.run(try EnqueueTask(task))
    } catch let error as TaskValidationError {
        throw CLIFailure(error.description, exitCode: CLIExit.usage)
    }
    if json {
        if !quietID {
            try printJSON(
                EnqueuedOutput(
                    id: result.id, deduplicated: result.deduplicated, kind: task.kind, queue: task.queue,
                    dedupeKey: task.dedupeKey
                )
            )
        }
    } else if !quietID {
        print(result.id)
        flushStandardOutput()
    }
    if result.deduplicated, !json {
        printError(
            "queuectl: note: task \(result.id) with dedupe key '\(task.dedupeKey ?? "")' is already pending or running; "
                + "it was not enqueued again (use --force to enqueue a new one)"
        )
    }
    return result
}

/// Enqueues one task and, with `--wait`, waits for it. Ctrl-C is taken over before the task is stored, so that an
/// interrupted wait always ends by saying what became of the task.
func enqueueOne(
    _ task: NewTask, pool: PostgresConnectionPool, json: Bool, waiting: WaitOptions, failOn: FailOnSeverity? = nil
) async throws {
    let interruption = waiting.wait ? WaitInterruption() : nil
    defer { interruption?.end() }
    let result = try await enqueueAndPrint(task, pool: pool, json: json, quietID: waiting.wait)
    guard let interruption else { return }
    try await waitForTask(
        result, pool: pool, timeout: waiting.timeout, json: json, failOn: failOn, interruption: interruption)
}

/// Waits for a task to finish and reports it: exit 0 when it succeeded (a review: ``reviewExitCode(verdict:findings:failOn:)``),
/// 1 when it is dead or cancelled, 3 when it disappeared, 4 on timeout, 130 on Ctrl-C (saying that the task keeps
/// its place).
func waitForTask(
    _ enqueued: EnqueueResult,
    pool: PostgresConnectionPool,
    timeout: Duration?,
    json: Bool,
    failOn: FailOnSeverity?,
    interruption: WaitInterruption
) async throws {
    let id = enqueued.id
    let started = ContinuousClock.now
    let showStatus = Terminal.isTerminal(2) && !json
    var interval: Duration = .milliseconds(100)
    var lastStatus = ""
    while true {
        guard let progress = try await pool.run(FetchTaskProgress(id: id)) else {
            if showStatus { writeStandardError("\r\u{1B}[2K") }
            throw CLIFailure("task \(id) no longer exists (was it purged?)", exitCode: CLIExit.notFound)
        }
        if progress.state.isTerminal {
            if showStatus { writeStandardError("\r\u{1B}[2K") }
            try report(progress, id: id, deduplicated: enqueued.deduplicated, json: json, failOn: failOn)
            return
        }
        let waited = ContinuousClock.now - started
        if let timeout, waited >= timeout {
            if showStatus { writeStandardError("\r\u{1B}[2K") }
            if json {
                try printJSON(
                    WaitOutput(
                        id: id, deduplicated: enqueued.deduplicated, state: progress.state.rawValue, verdictStatus: nil,
                        result: nil, error: "timed out"
                    )
                )
            }
            throw CLIFailure(
                "task \(id) is still \(progress.state.rawValue) after \(DurationText.format(timeout)); it keeps its place: "
                    + "follow it with `queuectl show \(id)` or wait longer with a bigger --timeout",
                exitCode: CLIExit.timeout
            )
        }
        if showStatus {
            let worker = progress.worker.map { " on \($0)" } ?? ""
            let status =
                progress.state == .running
                ? "task \(id): running (attempt \(progress.attempt) of \(progress.maxAttempts))\(worker)"
                : "task \(id): \(progress.state.rawValue)"
                    + (progress.lastError.map { " (retrying after: \($0.prefix(60)))" } ?? "")
            let line = "\(status) · waited \(formatAge(seconds: seconds(waited))) · Ctrl-C stops waiting, not the task"
            if line != lastStatus {
                writeStandardError("\r\u{1B}[2K" + String(line.prefix(max(20, Terminal.columns(2) - 1))))
                lastStatus = line
            }
        }
        var sleep = interval
        if let timeout { sleep = min(sleep, max(.milliseconds(10), timeout - waited)) }
        let wakeUp = ContinuousClock.now + sleep
        while ContinuousClock.now < wakeUp, !interruption.requested {
            try await Task.sleep(for: min(.milliseconds(50), wakeUp - ContinuousClock.now))
        }
        if interruption.requested {
            if showStatus { writeStandardError("\r\u{1B}[2K") }
            printError(
                "queuectl: stopped waiting: task \(id) is still \(progress.state.rawValue) and keeps its place "
                    + "(follow it with `queuectl show \(id)`, stop it with `queuectl cancel \(id)`)")
            throw CLIExit.interrupted
        }
        interval = min(interval * 2, .seconds(1))
    }
}

/// Ctrl-C (SIGINT) or SIGTERM while `--wait` waits: noted, so that the wait ends by saying what became of the task.
/// Only on the process's own console; a test's in-process console leaves the process's signals alone.
///
/// `@unchecked Sendable`: `sources` is set in `init` and cleared in `end()` by the command that owns the value; the
/// handlers only touch the atomic flag.
final class WaitInterruption: @unchecked Sendable {
    private final class Flag: Sendable {
        let raised = Atomic<Bool>(false)
    }

    private let flag = Flag()
    private var sources: [any DispatchSourceSignal] = []
    private let ownsSignals = Console.current.isProcessConsole

    var requested: Bool { flag.raised.load(ordering: .relaxed) }

    init() {
        guard ownsSignals else { return }
        let queue = DispatchQueue(label: "queuectl.wait.signals")
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [flag] in flag.raised.store(true, ordering: .relaxed) }
            source.resume()
            sources.append(source)
        }
    }

    /// Gives SIGINT and SIGTERM back their default actions.
    func end() {
        guard ownsSignals, !sources.isEmpty else { return }
        for source in sources { source.cancel() }
        sources = []
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

/// The outcome of `--wait`, as `--json`.
struct WaitOutput: Encodable {
    let id: Int64
    let deduplicated: Bool
    let state: String
    let verdictStatus: String?
    let result: JSONValue?
    let error: String?

    enum CodingKeys: String, CodingKey {
        case id, deduplicated, state, result, error
        case verdictStatus = "verdict_status"
    }
}

private func report(
    _ progress: TaskProgress, id: Int64, deduplicated: Bool, json: Bool, failOn: FailOnSeverity?
) throws {
    switch progress.state {
    case .succeeded:
        if progress.kind == "review" {
            guard let text = progress.result, let review = try? PostgresJSON(text: text).decode(ReviewResult.self)
            else {
                throw CLIFailure(
                    "task \(id) succeeded but its result is not a review result this queuectl understands "
                        + "(see `queuectl show \(id) --json`)"
                )
            }
            if json {
                try printJSON(
                    WaitOutput(
                        id: id, deduplicated: deduplicated, state: "succeeded",
                        verdictStatus: review.verdictStatus.rawValue, result: JSONValue(text: text), error: nil
                    )
                )
            } else {
                print(reviewHeadline(review, id: id))
                if Terminal.isTerminal(1) {
                    // On a terminal, the findings for the eye, most severe first; piped, the stored Markdown summary.
                    let ordered = review.findings.sorted(by: Finding.reportOrder)
                    if !ordered.isEmpty { print("\n" + terminalFindings(ordered), terminator: "") }
                } else {
                    let summary = terminalSafe(review.summary.trimmingTrailingNewlines(), keepingLineBreaks: true)
                    if !summary.isEmpty { print(summary) }
                }
            }
            if let exit = reviewExitCode(verdict: review.verdictStatus, findings: review.findings, failOn: failOn) {
                throw exit
            }
            return
        }
        if json {
            try printJSON(
                WaitOutput(
                    id: id, deduplicated: deduplicated, state: "succeeded", verdictStatus: nil,
                    result: progress.result.map(JSONValue.init(text:)), error: nil
                )
            )
        } else {
            print("task \(id): succeeded")
            if let result = progress.result { print(result) }
        }
    case .dead, .cancelled:
        let reason = progress.lastError ?? (progress.state == .cancelled ? "cancelled on request" : "no error recorded")
        if json {
            try printJSON(
                WaitOutput(
                    id: id, deduplicated: deduplicated, state: progress.state.rawValue, verdictStatus: nil,
                    result: nil, error: reason
                )
            )
        }
        let what =
            progress.state == .dead
            ? "is dead after \(progress.attempt) attempt\(progress.attempt == 1 ? "" : "s"): \(reason)"
            : "was cancelled"
        throw CLIFailure(
            "task \(id) \(what) (details: `queuectl show \(id)`; run it again: `queuectl retry \(id)`)"
        )
    case .pending, .running:
        throw CLIFailure("task \(id) is not finished")
    }
}

/// `task 42: changes_requested · 3 findings (security 1, scale 0, quality 2, architecture 0) · 3.21s`.
func reviewHeadline(_ review: ReviewResult, id: Int64) -> String {
    let counts = ReviewAgentName.all.map { "\($0) \(review.counts[$0] ?? 0)" }.joined(separator: ", ")
    let total = review.counts.values.reduce(0, +)
    return
        "task \(id): \(Palette.paint(review.verdictStatus.rawValue)) · \(total) finding\(total == 1 ? "" : "s") (\(counts)) · "
        + formatMilliseconds(review.executionTimeMilliseconds)
}

/// A duration in seconds.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var text = Substring(self)
        while let last = text.last, last.isNewline || last == " " { text = text.dropLast() }
        return String(text)
    }
}
