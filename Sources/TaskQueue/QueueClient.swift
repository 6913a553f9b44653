public import PostgresClient

/// The queue operations that take more than one statement: the fenced finish transaction that callers add their
/// writes to, all-or-nothing cancel and retry of many tasks, pruning in batches, and the figures of `stats`.
///
/// Every single statement is a value in `Statements/` and runs on any connection or pool with `run(_:)`.
public struct QueueClient: Sendable {
    /// The pool every operation runs on.
    public let pool: PostgresConnectionPool

    /// Creates a client over a pool.
    public init(pool: PostgresConnectionPool) {
        self.pool = pool
    }

    // MARK: Finish

    /// Finishes a task in one transaction fenced by its lease: the task row is locked first (``LockLease``), then
    /// `records` add their rows and give the task's result, then the task is completed (``CompleteTasks``). Either
    /// everything commits or nothing does: results are recorded exactly once, and nothing is written after a lost
    /// lease.
    ///
    /// - Returns: `.written`, or `.leaseLost` when the lease was no longer held (nothing was written).
    public func finish(_ lease: Lease, records: any TaskRecords) async throws -> FencedWrite {
        try await pool.withTransaction { connection -> FencedWrite in
            guard try await connection.run(LockLease(lease)) == .written else { return .leaseLost }
            let result = try await records.write(for: lease, on: connection)
            guard try await connection.run(CompleteTasks([(lease, result)])).contains(lease.taskID) else {
                // Cannot happen while the row is locked: roll everything back rather than record half of it.
                throw PostgresError.unexpectedResult("task \(lease.taskID) could not be completed under its lease")
            }
            return .written
        }
    }

    // MARK: Operate

    /// What ``cancel(ids:)`` did to one task.
    public struct Cancellation: Sendable {
        /// The task.
        public let id: Int64
        /// Its state before.
        public let before: TaskState
        /// What `cancel_task` did.
        public let outcome: CancelOutcome
    }

    /// Cancels every task, or none when one of them does not exist (``MissingTasks``).
    public func cancel(ids: [Int64]) async throws -> [Cancellation] {
        try await pool.withTransaction { connection in
            let before = try await Self.lockStates(ids, on: connection)
            var outcomes: [Cancellation] = []
            for id in ids {
                guard let outcome = try await connection.run(CancelTask(id: id)), let state = before[id] else {
                    throw MissingTasks(ids: [id])
                }
                outcomes.append(Cancellation(id: id, before: state, outcome: outcome))
            }
            return outcomes
        }
    }

    /// Puts every task back to pending with fresh attempts, or none when one does not exist (``MissingTasks``) or is
    /// not dead or cancelled (``UnsuitableTasks``). Returns each task's state before.
    public func retry(ids: [Int64]) async throws -> [(id: Int64, before: TaskState)] {
        try await pool.withTransaction { connection in
            let before = try await Self.lockStates(ids, on: connection)
            let unsuitable = ids.compactMap { id -> (id: Int64, state: String)? in
                let state = before[id]
                return state == .dead || state == .cancelled ? nil : (id, state?.rawValue ?? "missing")
            }
            if !unsuitable.isEmpty { throw UnsuitableTasks(tasks: unsuitable) }
            for id in ids {
                let state = try await connection.run(RetryTask(id: id))
                guard state == .pending else {
                    throw PostgresError.unexpectedResult("retry_task(\(id)) returned \(state?.rawValue ?? "NULL")")
                }
            }
            return ids.map { ($0, before[$0]!) }
        }
    }

    private static func lockStates(_ ids: [Int64], on connection: PostgresConnection) async throws
        -> [Int64: TaskState]
    {
        let states = try await connection.run(LockTaskStates(ids: ids))
        let missing = ids.filter { states[$0] == nil }
        if !missing.isEmpty { throw MissingTasks(ids: missing) }
        return states
    }

    /// Deletes finished tasks (and their events, checkpoints) older than `olderThan`, in batches of short statements,
    /// and returns how many were deleted.
    public func prune(
        olderThan: Duration,
        states: [TaskState] = [.succeeded, .dead, .cancelled],
        batchSize: Int = 1000
    ) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await pool.run(PruneTasks(olderThan: olderThan, states: states, batchSize: batchSize))
            total += deleted
            if deleted < batchSize { return total }
        }
    }

    // MARK: Stats

    /// Counts per queue and state: exact for pending and running; for succeeded, dead and cancelled exact on a table
    /// of at most `estimateAbove` rows (by the planner's count), estimated from the statistics of
    /// `tasks_queue_state_stats` above it (unless `exact`). Throughput counts tasks finished in the last minute and
    /// hour.
    public func stats(estimateAbove: Int, exact: Bool) async throws -> QueueStats {
        try await pool.withConnection { connection in
            var byQueue: [String: QueueCounts] = [:]
            func update(_ queue: String, _ change: (inout QueueCounts) -> Void) {
                var counts = byQueue[queue] ?? QueueCounts(queue: queue)
                change(&counts)
                byQueue[queue] = counts
            }
            let collectedAt = try await connection.run(DatabaseNow())
            for (queue, live) in try await connection.run(CountLiveTasks()) {
                update(queue) {
                    $0.pending = live.pending
                    $0.ready = live.ready
                    $0.scheduled = live.pending - live.ready
                    $0.running = live.running
                    $0.oldestReadySeconds = live.oldestReadySeconds
                }
            }
            let tableRows = try await connection.run(EstimateTaskRows())
            var terminal: [(queue: String, state: TaskState, count: Int)] = []
            var estimated = false
            if !exact, let tableRows, tableRows > estimateAbove {
                terminal = try await connection.run(CountTerminalTasks(estimated: true))
                estimated = !terminal.isEmpty
            }
            if !estimated { terminal = try await connection.run(CountTerminalTasks(estimated: false)) }
            for entry in terminal {
                update(entry.queue) {
                    switch entry.state {
                    case .succeeded: $0.succeeded = entry.count
                    case .dead: $0.dead = entry.count
                    default: $0.cancelled = entry.count
                    }
                }
            }
            for entry in try await connection.run(CountRecentlyFinished()) {
                update(entry.queue) {
                    switch entry.state {
                    case .succeeded:
                        $0.succeededLastMinute = entry.minute
                        $0.succeededLastHour = entry.hour
                    case .dead:
                        $0.deadLastMinute = entry.minute
                        $0.deadLastHour = entry.hour
                    default: break
                    }
                }
            }
            let queues = byQueue.values.sorted { $0.queue < $1.queue }
            var totals = QueueCounts(queue: "all")
            for counts in queues { totals.add(counts) }
            return QueueStats(
                queues: queues, totals: totals, terminalCountsEstimated: estimated, tableRowsEstimate: tableRows,
                estimateAbove: estimateAbove, collectedAt: collectedAt
            )
        }
    }
}

/// Rows a task adds to its finish transaction (``QueueClient/finish(_:records:)``), such as a review's results.
public protocol TaskRecords: Sendable {
    /// Writes the rows on `connection`, inside the finish transaction, after the lease was locked; returns the result
    /// to store on the task. Every write about the task must name the lease (the queue's functions check it).
    func write(for lease: Lease, on connection: PostgresConnection) async throws -> PostgresJSON?
}
