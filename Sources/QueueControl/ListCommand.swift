import ArgumentParser
import PostgresClient
import TaskQueue

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A task state as a command-line value.
enum StateArgument: String, ExpressibleByArgument, CaseIterable, Sendable {
    case pending, running, succeeded, dead, cancelled
}

/// `queuectl list`: tasks, newest first, with filters.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List tasks, newest first.",
        discussion: """
            Shows id, state, kind, queue, priority, attempts, age and the last error; never the payload \
            (see `queuectl show ID`).

            Examples:
              queuectl list
              queuectl list --state dead --queue default --limit 20
              queuectl list --state pending --state running --kind review --json
              queuectl list --state pending --oldest-first --format csv > backlog.csv
            """
    )

    @Option(
        name: .customLong("state"), help: ArgumentHelp("Only tasks in this state (repeatable).", valueName: "state"))
    var states: [StateArgument] = []

    @Option(help: ArgumentHelp("Only tasks of this queue.", valueName: "name"))
    var queue: String?

    @Option(help: ArgumentHelp("Only tasks of this kind.", valueName: "kind"))
    var kind: String?

    @Option(help: ArgumentHelp("At most this many tasks (1-10000).", valueName: "n"))
    var limit = 50

    @Flag(name: .customLong("oldest-first"), help: "Oldest first instead of newest first.")
    var oldestFirst = false

    @OptionGroup var output: FormatOptions

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard (1...10_000).contains(limit) else {
            throw ValidationError("--limit must be between 1 and 10000 (got \(limit))")
        }
        if let queue, let problem = TaskValidation.queueProblem(queue) { throw ValidationError(problem) }
        if let kind, let problem = TaskValidation.kindProblem(kind) { throw ValidationError(problem) }
    }

    func run() async throws {
        try await reportingErrors {
            try await database.withPool(logger: makeCLILogger()) { pool in
                let now = try await pool.run(DatabaseNow())
                let tasks = try await pool.run(
                    ListTasks(
                        states: states.compactMap { TaskState(rawValue: $0.rawValue) }, queue: queue, kind: kind,
                        limit: limit, oldestFirst: oldestFirst)
                )
                switch output.effective {
                case .json:
                    try printJSON(tasks)
                case .csv:
                    printCSV(
                        headers: [
                            "id", "state", "kind", "queue", "priority", "attempt", "max_attempts", "created_at",
                            "run_after",
                            "finished_at", "worker", "dedupe_key", "last_error", "verdict_status", "finding_count",
                            "queue_paused",
                        ],
                        rows: tasks.map { task in
                            [
                                String(task.id), task.state, task.kind, task.queue, String(task.priority),
                                String(task.attempt),
                                String(task.maxAttempts), isoTimestamp(task.createdAt), isoTimestamp(task.runAfter),
                                task.finishedAt.map(isoTimestamp) ?? "", task.worker ?? "", task.dedupeKey ?? "",
                                task.lastError ?? "", task.verdictStatus ?? "",
                                task.findingCount.map(String.init) ?? "", String(task.queuePaused),
                            ]
                        }
                    )
                case .table:
                    guard !tasks.isEmpty else {
                        printError("no tasks match (queuectl stats shows what the queue holds)")
                        return
                    }
                    let table = TextTable(
                        headers: ["ID", "STATE", "KIND", "QUEUE", "PRI", "ATTEMPT", "AGE", "NOTE"],
                        rightAligned: [0, 4], painted: [1, 7]
                    )
                    for task in tasks {
                        table.add([
                            String(task.id), task.state, task.kind, task.queue, String(task.priority),
                            "\(task.attempt)/\(task.maxAttempts)",
                            formatAge(seconds: now.timeIntervalSince(task.createdAt)), note(task, now: now),
                        ])
                    }
                    print(table.render(), terminator: "")
                }
            }
        }
    }

    /// The most useful extra fact about a task, in a few words.
    private func note(_ task: TaskSummary, now: Date) -> String {
        switch task.state {
        case "pending":
            if task.queuePaused { return "queue paused (queuectl resume \(task.queue))" }
            if task.runAfter > now { return "runs in \(formatAge(seconds: task.runAfter.timeIntervalSince(now)))" }
            return task.lastError.map { "retry after: " + oneLine($0, 60) } ?? ""
        case "running":
            return (task.worker.map { "on \($0)" } ?? "") + (task.cancelRequested ? " (cancel requested)" : "")
        case "dead":
            return task.lastError.map { oneLine($0, 60) } ?? ""
        case "succeeded":
            // A review's outcome says more than its dedupe key.
            if let verdict = task.verdictStatus {
                let count = task.findingCount.map { " · \($0) finding\($0 == 1 ? "" : "s")" } ?? ""
                return oneLine(verdict + count, 60)
            }
            return task.dedupeKey.map { oneLine($0, 60) } ?? ""
        default:
            return task.dedupeKey.map { oneLine($0, 60) } ?? ""
        }
    }
}

/// Text on one line; on a terminal, cut to `limit` characters with an ellipsis. Piped, nothing is cut: a script
/// gets the whole text.
func oneLine(_ text: String, _ limit: Int) -> String {
    let flat = terminalSafe(text.split(whereSeparator: \.isNewline).joined(separator: " "))
    guard Terminal.isTerminal(1) else { return flat }
    return flat.count <= limit ? flat : String(flat.prefix(limit - 1)) + "…"
}
