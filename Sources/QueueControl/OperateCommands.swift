import ArgumentParser
import PostgresClient
import TaskQueue

/// `queuectl cancel ID…`.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel tasks: pending ones at once, running ones at their worker's next heartbeat.",
        discussion: """
            All or nothing: when one of the ids does not exist, nothing is cancelled and the exit status is 3. \
            A task that already finished is left as it is (reported, exit 0).

            Instead of ids, a filter (--queue, --kind, --state pending|running, --older-than) cancels every \
            matching pending or running task in one statement; --dry-run counts them first.

            Examples:
              queuectl cancel 42
              queuectl cancel 42 43 44 --json
              queuectl cancel --queue bulk --state pending --older-than 1h --dry-run
            """
    )

    @Argument(help: ArgumentHelp("Task ids.", valueName: "id"))
    var ids: [Int64] = []

    @OptionGroup var bulk: BulkFilterOptions

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        try bulk.validate(ids: ids, allowed: [.pending, .running], operation: "cancel")
        if !ids.isEmpty { _ = try uniqueTaskIDs(ids) }
    }

    struct BulkOutput: Encodable {
        let cancelled: Int
        let cancelRequested: Int
        let dryRun: Bool

        enum CodingKeys: String, CodingKey {
            case cancelled
            case cancelRequested = "cancel_requested"
            case dryRun = "dry_run"
        }
    }

    private func cancelMatching(_ pool: PostgresConnectionPool) async throws {
        let counts = try await pool.run(CancelTasksMatching(bulk.filter, dryRun: bulk.dryRun))
        if json {
            try printJSON(
                BulkOutput(cancelled: counts.cancelled, cancelRequested: counts.cancelRequested, dryRun: bulk.dryRun))
            return
        }
        let pending = "\(formatCount(counts.cancelled)) pending task\(counts.cancelled == 1 ? "" : "s")"
        let running = "\(formatCount(counts.cancelRequested)) running"
        if bulk.dryRun {
            print("would cancel \(pending) and ask \(running) to stop (\(bulk.description); dry run: nothing changed)")
        } else {
            print(
                "cancelled \(pending); asked \(running) to stop at their workers' next heartbeat (\(bulk.description))")
        }
    }

    struct Output: Encodable {
        let id: Int64
        let before: String
        let outcome: String
    }

    func run() async throws {
        try await reportingErrors {
            try await database.withPool(logger: makeCLILogger()) { pool in
                if bulk.isSet { return try await cancelMatching(pool) }
                let outcomes: [(id: Int64, before: String, outcome: String)]
                do {
                    outcomes = try await QueueClient(pool: pool).cancel(ids: try uniqueTaskIDs(ids)).map {
                        ($0.id, $0.before.rawValue, $0.outcome.rawValue)
                    }
                } catch let missing as MissingTasks {
                    throw CLIFailure(notFoundMessage(missing, action: "cancelled"), exitCode: CLIExit.notFound)
                }
                if json {
                    try printJSON(outcomes.map { Output(id: $0.id, before: $0.before, outcome: $0.outcome) })
                    return
                }
                for outcome in outcomes {
                    switch (outcome.before, outcome.outcome) {
                    case ("pending", "cancelled"): print("task \(outcome.id): cancelled")
                    case (_, "cancel_requested"):
                        print("task \(outcome.id): cancel requested; its worker stops it at its next heartbeat")
                    case let (before, _): print("task \(outcome.id): already \(before); nothing changed")
                    }
                }
            }
        }
    }
}

/// `queuectl retry ID…`.
struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Put dead or cancelled tasks back to pending, with a fresh set of attempts.",
        discussion: """
            All or nothing: when one of the ids does not exist (exit 3) or is not dead or cancelled (exit 1), \
            nothing is changed. A task whose dedupe key another live task now holds cannot be retried.

            Instead of ids, a filter (--queue, --kind, --state dead|cancelled, --older-than) retries every matching \
            dead or cancelled task in one statement, skipping (and counting) those whose dedupe key a live task \
            holds; --dry-run counts them first.

            Examples:
              queuectl retry 42
              queuectl retry --queue default --kind review --state dead --dry-run
              queuectl retry --state dead --older-than 10m
            """
    )

    @Argument(help: ArgumentHelp("Task ids.", valueName: "id"))
    var ids: [Int64] = []

    @OptionGroup var bulk: BulkFilterOptions

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        try bulk.validate(ids: ids, allowed: [.dead, .cancelled], operation: "retry")
        if !ids.isEmpty { _ = try uniqueTaskIDs(ids) }
    }

    struct BulkOutput: Encodable {
        let retried: Int
        let skipped: Int
        let dryRun: Bool

        enum CodingKeys: String, CodingKey {
            case retried, skipped
            case dryRun = "dry_run"
        }
    }

    private func retryMatching(_ pool: PostgresConnectionPool) async throws {
        let counts = try await pool.run(RetryTasksMatching(bulk.filter, dryRun: bulk.dryRun))
        if json {
            try printJSON(BulkOutput(retried: counts.retried, skipped: counts.skipped, dryRun: bulk.dryRun))
            return
        }
        let tasks = "\(formatCount(counts.retried)) task\(counts.retried == 1 ? "" : "s")"
        let skipped =
            counts.skipped == 0
            ? "" : "; \(formatCount(counts.skipped)) skipped: a live or newer task holds their dedupe key"
        print(
            bulk.dryRun
                ? "would retry \(tasks) (\(bulk.description))\(skipped) (dry run: nothing changed)"
                : "retried \(tasks): pending again with fresh attempts (\(bulk.description))\(skipped)")
    }

    struct Output: Encodable {
        let id: Int64
        let before: String
        let state: String
    }

    func run() async throws {
        try await reportingErrors {
            try await database.withPool(logger: makeCLILogger()) { pool in
                if bulk.isSet { return try await retryMatching(pool) }
                let retried: [(id: Int64, before: String)]
                do {
                    retried = try await QueueClient(pool: pool).retry(ids: try uniqueTaskIDs(ids)).map {
                        ($0.id, $0.before.rawValue)
                    }
                } catch let missing as MissingTasks {
                    throw CLIFailure(notFoundMessage(missing, action: "retried"), exitCode: CLIExit.notFound)
                } catch let unsuitable as UnsuitableTasks {
                    let list = unsuitable.tasks.map { "task \($0.id) is \($0.state)" }.joined(separator: ", ")
                    throw CLIFailure(
                        "\(list): only dead or cancelled tasks can be retried; nothing was retried "
                            + "(cancel a running task first, or leave it out)"
                    )
                }
                if json {
                    try printJSON(retried.map { Output(id: $0.id, before: $0.before, state: "pending") })
                    return
                }
                for task in retried { print("task \(task.id): \(task.before) → pending") }
            }
        }
    }
}

/// The message for ids that do not exist, after an all-or-nothing operation changed nothing.
func notFoundMessage(_ missing: MissingTasks, action: String) -> String {
    let ids = missing.ids.map(String.init).joined(separator: ", ")
    let subject = missing.ids.count == 1 ? "task \(ids) does not exist" : "tasks \(ids) do not exist"
    return "\(subject); nothing was \(action) (check the ids with `queuectl list`)"
}

/// `queuectl purge`.
struct PurgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Delete finished tasks (with their events and checkpoints) older than a given age.",
        discussion: """
            Deletes tasks that finished more than --older-than ago, in short batches (each its own transaction, \
            so workers are never blocked for long). Review history, findings and agent performance are kept for \
            the analytics reports.

            Examples:
              queuectl purge --older-than 30d
              queuectl purge --older-than 7d --state dead --state cancelled --dry-run
            """
    )

    @Option(
        name: .customLong("older-than"),
        help: ArgumentHelp("Delete tasks that finished longer ago than this (e.g. 30d, 12h).", valueName: "duration"),
        completion: DurationText.completion,
        transform: DurationText.argument
    )
    var olderThan: Duration

    @Option(
        name: .customLong("state"),
        help: ArgumentHelp(
            "Only tasks in this finished state (repeatable; default: succeeded, dead and cancelled).",
            valueName: "state")
    )
    var states: [StateArgument] = []

    @Option(
        name: .customLong("batch-size"), help: ArgumentHelp("Tasks deleted per transaction (1-100000).", valueName: "n")
    )
    var batchSize = 1000

    @Flag(name: .customLong("dry-run"), help: "Count what would be deleted; delete nothing.")
    var dryRun = false

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if let live = states.first(where: { $0 == .pending || $0 == .running }) {
            throw ValidationError(
                "purge deletes finished tasks only: --state \(live.rawValue) is not allowed (cancel them first)")
        }
        guard (1...100_000).contains(batchSize) else {
            throw ValidationError("--batch-size must be between 1 and 100000")
        }
    }

    struct Output: Encodable {
        let deleted: Int
        let dryRun: Bool
        let olderThanSeconds: Double
        let states: [String]

        enum CodingKeys: String, CodingKey {
            case deleted, states
            case dryRun = "dry_run"
            case olderThanSeconds = "older_than_seconds"
        }
    }

    func run() async throws {
        try await reportingErrors {
            let logger = makeCLILogger()
            let chosen =
                states.isEmpty
                ? [TaskState.succeeded, .dead, .cancelled] : states.compactMap { TaskState(rawValue: $0.rawValue) }
            try await database.withPool(logger: logger) { pool in
                let count: Int
                if dryRun {
                    count = try await pool.run(CountPurgeCandidates(olderThan: olderThan, states: chosen))
                } else {
                    count = try await QueueClient(pool: pool).prune(
                        olderThan: olderThan, states: chosen, batchSize: batchSize
                    )
                }
                if json {
                    try printJSON(
                        Output(
                            deleted: count, dryRun: dryRun, olderThanSeconds: seconds(olderThan),
                            states: chosen.map(\.rawValue))
                    )
                    return
                }
                let what =
                    "\(formatCount(count)) \(chosen.map(\.rawValue).joined(separator: "/")) task\(count == 1 ? "" : "s") "
                    + "finished more than \(DurationText.format(olderThan)) ago"
                print(dryRun ? "would delete \(what) (dry run: nothing deleted)" : "deleted \(what)")
            }
        }
    }
}

/// `cancel` and `retry` by filter: `--queue`, `--kind`, `--state`, `--older-than`, `--dry-run`.
struct BulkFilterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Every matching task of this queue (instead of ids).", valueName: "name"))
    var queue: String?

    @Option(help: ArgumentHelp("Every matching task of this kind (instead of ids).", valueName: "kind"))
    var kind: String?

    @Option(
        name: .customLong("state"),
        help: ArgumentHelp("Only tasks in this state (repeatable; instead of ids).", valueName: "state"))
    var states: [StateArgument] = []

    @Option(
        name: .customLong("older-than"),
        help: ArgumentHelp(
            "Only tasks created longer ago than this (e.g. 1h, 7d; instead of ids).", valueName: "duration"),
        completion: DurationText.completion,
        transform: DurationText.argument
    )
    var olderThan: Duration?

    @Flag(name: .customLong("dry-run"), help: "With a filter: count what would change; change nothing.")
    var dryRun = false

    /// Whether any filter was given.
    var isSet: Bool { queue != nil || kind != nil || !states.isEmpty || olderThan != nil }

    /// Checks the filter against the ids and the states the operation applies to.
    func validate(ids: [Int64], allowed: [StateArgument], operation: String) throws {
        if isSet, !ids.isEmpty {
            throw ValidationError("give task ids or a filter (--queue, --kind, --state, --older-than), not both")
        }
        if !isSet, ids.isEmpty {
            throw ValidationError(
                "give the tasks to \(operation): ids, or a filter (--queue, --kind, --state, --older-than)")
        }
        if dryRun, !isSet { throw ValidationError("--dry-run goes with a filter; ids are shown by `queuectl show`") }
        if let other = states.first(where: { !allowed.contains($0) }) {
            throw ValidationError(
                "\(operation) applies to \(allowed.map(\.rawValue).joined(separator: " and ")) tasks: "
                    + "--state \(other.rawValue) is not allowed")
        }
        if let queue, let problem = TaskValidation.queueProblem(queue) { throw ValidationError(problem) }
    }

    var filter: TaskFilter {
        TaskFilter(
            queue: queue, kind: kind, states: states.compactMap { TaskState(rawValue: $0.rawValue) },
            olderThan: olderThan)
    }

    /// `queue bulk, kind noop, created more than 1h ago` for messages.
    var description: String {
        var parts: [String] = []
        if let queue { parts.append("queue \(queue)") }
        if let kind { parts.append("kind \(kind)") }
        if !states.isEmpty { parts.append(states.map(\.rawValue).joined(separator: "/")) }
        if let olderThan { parts.append("created more than \(DurationText.format(olderThan)) ago") }
        return parts.joined(separator: ", ")
    }
}

/// `queuectl pause QUEUE`.
struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Pause a queue: workers stop claiming its tasks at their next claim; running ones finish.",
        discussion: """
            Pending tasks of a paused queue stay pending, untouched (no attempt is spent); `queuectl stats` and \
            `top` show the queue as paused. Pausing a paused queue keeps its first time and reason. \
            `queuectl resume QUEUE` ends it and wakes the workers at once.

            Examples:
              queuectl pause reviews --reason "model provider outage"
              queuectl resume reviews
            """
    )

    @Argument(help: ArgumentHelp("The queue.", valueName: "queue"))
    var queue: String

    @Option(help: ArgumentHelp("Why, shown by stats and top.", valueName: "text"))
    var reason: String?

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if let problem = TaskValidation.queueProblem(queue) { throw ValidationError(problem) }
        if let reason, reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw ValidationError("--reason cannot contain control characters")
        }
    }

    struct Output: Encodable {
        let queue: String
        let paused: Bool
        let alreadyPaused: Bool

        enum CodingKeys: String, CodingKey {
            case queue, paused
            case alreadyPaused = "already_paused"
        }
    }

    func run() async throws {
        try await reportingErrors {
            try await database.withPool(logger: makeCLILogger()) { pool in
                let newly = try await pool.run(PauseQueue(queue: queue, reason: reason))
                if json {
                    try printJSON(Output(queue: queue, paused: true, alreadyPaused: !newly))
                } else if newly {
                    print("queue \(queue): paused; workers claim none of its tasks until `queuectl resume \(queue)`")
                } else {
                    print("queue \(queue): already paused; nothing changed")
                }
            }
        }
    }
}

/// `queuectl resume QUEUE`.
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Resume a paused queue: its workers are woken and claim its tasks again.",
        discussion: """
            Examples:
              queuectl resume reviews
            """
    )

    @Argument(help: ArgumentHelp("The queue.", valueName: "queue"))
    var queue: String

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if let problem = TaskValidation.queueProblem(queue) { throw ValidationError(problem) }
    }

    struct Output: Encodable {
        let queue: String
        let resumed: Bool
    }

    func run() async throws {
        try await reportingErrors {
            try await database.withPool(logger: makeCLILogger()) { pool in
                let resumed = try await pool.run(ResumeQueue(queue: queue))
                if json {
                    try printJSON(Output(queue: queue, resumed: resumed))
                } else {
                    print(resumed ? "queue \(queue): resumed" : "queue \(queue): was not paused; nothing changed")
                }
            }
        }
    }
}
