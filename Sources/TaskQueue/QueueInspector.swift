public import PostgresClient

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

// The read side of the queue for operators (queuectl's list, show, stats, workers, top) and the multi-task
// operations that must be all or nothing (cancel, retry). They only read the queue's tables or call its SQL
// functions.

/// A task as `list` shows it (never its payload, which can be megabytes).
public struct TaskSummary: Encodable, Sendable {
    public let id: Int64
    public let kind: String
    public let queue: String
    public let state: String
    public let priority: Int
    public let attempt: Int
    public let maxAttempts: Int
    public let runAfter: Date
    public let createdAt: Date
    public let startedAt: Date?
    public let finishedAt: Date?
    public let worker: String?
    public let dedupeKey: String?
    public let cancelRequested: Bool
    public let lastError: String?

    enum CodingKeys: String, CodingKey {
        case id, kind, queue, state, priority, attempt, worker
        case maxAttempts = "max_attempts"
        case runAfter = "run_after"
        case createdAt = "created_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case dedupeKey = "dedupe_key"
        case cancelRequested = "cancel_requested"
        case lastError = "last_error"
    }
}

/// Everything `show` prints about a task.
public struct TaskDetail: Sendable {
    public let summary: TaskSummary
    public let rescues: Int
    public let leaseExpiresAt: Date?
    public let heartbeatAt: Date?
    public let updatedAt: Date
    public let errors: [TaskErrorEntry]
    /// The payload, with an inline diff replaced by its size.
    public let payload: String
    public let result: String?
    public let now: Date
}

/// One checkpoint of the agent graph.
public struct CheckpointRow: Encodable, Sendable {
    public let node: String
    public let attempt: Int
    public let worker: String
    public let durationMilliseconds: Double
    public let createdAt: Date

    enum CodingKeys: String, CodingKey {
        case node, attempt, worker
        case durationMilliseconds = "duration_ms"
        case createdAt = "created_at"
    }
}

/// Counts of one queue (or of all queues), as `stats` and `top` show them.
public struct QueueCounts: Encodable, Sendable {
    public var queue: String
    public var pending = 0
    public var ready = 0
    public var scheduled = 0
    public var running = 0
    public var succeeded = 0
    public var dead = 0
    public var cancelled = 0
    public var oldestReadySeconds: Double?
    public var succeededLastMinute = 0
    public var succeededLastHour = 0
    public var deadLastMinute = 0
    public var deadLastHour = 0

    init(queue: String) { self.queue = queue }

    enum CodingKeys: String, CodingKey {
        case queue, pending, ready, scheduled, running, succeeded, dead, cancelled
        case oldestReadySeconds = "oldest_ready_seconds"
        case succeededLastMinute = "succeeded_last_minute"
        case succeededLastHour = "succeeded_last_hour"
        case deadLastMinute = "dead_last_minute"
        case deadLastHour = "dead_last_hour"
    }

    public mutating func add(_ other: QueueCounts) {
        pending += other.pending
        ready += other.ready
        scheduled += other.scheduled
        running += other.running
        succeeded += other.succeeded
        dead += other.dead
        cancelled += other.cancelled
        succeededLastMinute += other.succeededLastMinute
        succeededLastHour += other.succeededLastHour
        deadLastMinute += other.deadLastMinute
        deadLastHour += other.deadLastHour
        if let age = other.oldestReadySeconds { oldestReadySeconds = max(oldestReadySeconds ?? age, age) }
    }
}

/// The queue's figures at one moment.
public struct QueueStats: Encodable, Sendable {
    public var queues: [QueueCounts]
    public var totals: QueueCounts
    /// Whether succeeded, dead and cancelled counts are estimates (pending and running are always exact).
    public var terminalCountsEstimated: Bool
    /// The planner's row count of the tasks table (`pg_class.reltuples`), when known.
    public var tableRowsEstimate: Int?
    /// Above this many rows, terminal counts are estimated.
    public var estimateAbove: Int
    public var collectedAt: Date

    enum CodingKeys: String, CodingKey {
        case queues, totals
        case terminalCountsEstimated = "terminal_counts_estimated"
        case tableRowsEstimate = "table_rows_estimate"
        case estimateAbove = "estimate_above_rows"
        case collectedAt = "collected_at"
    }
}

/// A worker as the registry shows it.
public struct WorkerRow: Encodable, Sendable {
    public let id: String
    public let host: String
    public let instance: String
    public let pid: Int
    public let version: String
    public let queues: [String]
    public let concurrency: Int
    public let state: String
    public let stale: Bool
    public let running: Int
    public let tasksDone: Int
    public let tasksFailed: Int
    public let startedAt: Date
    public let heartbeatAt: Date
    public let heartbeatAgeSeconds: Double
    public let stoppedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, host, instance, pid, version, queues, concurrency, state, stale, running
        case tasksDone = "tasks_done"
        case tasksFailed = "tasks_failed"
        case startedAt = "started_at"
        case heartbeatAt = "heartbeat_at"
        case heartbeatAgeSeconds = "heartbeat_age_seconds"
        case stoppedAt = "stopped_at"
    }
}

/// What `--wait` polls.
public struct TaskProgress: Sendable {
    public let kind: String
    public let state: TaskState
    public let attempt: Int
    public let maxAttempts: Int
    public let worker: String?
    public let lastError: String?
    public let result: String?
}

/// Tasks that do not exist, found by an all-or-nothing operation (which then changed nothing).
public struct MissingTasks: Error {
    public let ids: [Int64]
}

/// Tasks in a state the operation does not apply to (nothing was changed).
public struct UnsuitableTasks: Error {
    public let tasks: [(id: Int64, state: String)]
}

/// The statements behind the operators' inspection commands (`queuectl list`, `show`, `stats`, `workers`, `top`).
public struct QueueInspector: Sendable {
    /// The pool the statements run on.
    public let pool: PostgresConnectionPool

    /// Creates an inspector over a pool.
    public init(pool: PostgresConnectionPool) {
        self.pool = pool
    }

    /// The database's clock (delays and ages are computed against it, not the local clock).
    public func now() async throws -> Date {
        guard let row = try await pool.query("SELECT now() AS now").single else {
            throw PostgresError.unexpectedResult("SELECT now() returned no row")
        }
        return try row.decode(Date.self, "now")
    }

    // MARK: list and show

    static let summaryColumns: PostgresQuery = """
        id, kind, queue, state, priority, attempt, max_attempts, run_after, created_at, started_at, finished_at, \
        lease_owner, dedupe_key, cancel_requested, errors -> -1 ->> 'message' AS last_error
        """

    private static func summary(_ row: PostgresRow) throws -> TaskSummary {
        TaskSummary(
            id: try row.decode(Int64.self, "id"),
            kind: try row.decode(String.self, "kind"),
            queue: try row.decode(String.self, "queue"),
            state: try row.decode(String.self, "state"),
            priority: try row.decode(Int.self, "priority"),
            attempt: try row.decode(Int.self, "attempt"),
            maxAttempts: try row.decode(Int.self, "max_attempts"),
            runAfter: try row.decode(Date.self, "run_after"),
            createdAt: try row.decode(Date.self, "created_at"),
            startedAt: try row.decode(Date?.self, "started_at"),
            finishedAt: try row.decode(Date?.self, "finished_at"),
            worker: try row.decode(String?.self, "lease_owner"),
            dedupeKey: try row.decode(String?.self, "dedupe_key"),
            cancelRequested: try row.decode(Bool.self, "cancel_requested"),
            lastError: try row.decode(String?.self, "last_error")
        )
    }

    /// Tasks matching the filters, newest first (or oldest first).
    public func list(states: [String], queue: String?, kind: String?, limit: Int, oldestFirst: Bool) async throws
        -> [TaskSummary]
    {
        let order: PostgresQuery = oldestFirst ? "ORDER BY id" : "ORDER BY id DESC"
        let stateFilter: [String]? = states.isEmpty ? nil : states
        let rows = try await pool.query(
            """
            SELECT \(fragment: Self.summaryColumns) FROM tasks
            WHERE (\(stateFilter)::text[] IS NULL OR state = ANY (\(stateFilter)::text[]))
              AND (\(queue)::text IS NULL OR queue = \(queue)::text)
              AND (\(kind)::text IS NULL OR kind = \(kind)::text)
            \(fragment: order)
            LIMIT \(limit)::integer
            """
        )
        return try rows.map(Self.summary)
    }

    /// One task with everything but the raw payload of an inline diff; `nil` when it does not exist.
    public func detail(id: Int64) async throws -> TaskDetail? {
        let rows = try await pool.query(
            """
            SELECT \(fragment: Self.summaryColumns), rescues, lease_expires_at, heartbeat_at, updated_at, errors, result,
                   now() AS now,
                   CASE WHEN jsonb_typeof(payload #> '{source,diff}') = 'string'
                        THEN jsonb_set(payload, '{source,diff}',
                                       to_jsonb(format('(%s bytes of diff)', octet_length(payload #>> '{source,diff}'))))
                        ELSE payload END AS payload
            FROM tasks WHERE id = \(id)
            """
        )
        guard let row = rows.single else { return nil }
        return TaskDetail(
            summary: try Self.summary(row),
            rescues: try row.decode(Int.self, "rescues"),
            leaseExpiresAt: try row.decode(Date?.self, "lease_expires_at"),
            heartbeatAt: try row.decode(Date?.self, "heartbeat_at"),
            updatedAt: try row.decode(Date.self, "updated_at"),
            errors: try row.decode(PostgresJSON.self, "errors").decode([TaskErrorEntry].self),
            payload: try row.decode(PostgresJSON.self, "payload").text,
            result: try row.decode(PostgresJSON?.self, "result")?.text,
            now: try row.decode(Date.self, "now")
        )
    }

    /// A task's checkpoints in the order they were written.
    public func checkpoints(taskID: Int64) async throws -> [CheckpointRow] {
        let rows = try await pool.query(
            """
            SELECT node, attempt, worker, duration_ms, created_at FROM task_checkpoints
            WHERE task_id = \(taskID) ORDER BY created_at, node
            """
        )
        return try rows.map { row in
            CheckpointRow(
                node: try row.decode(String.self, "node"),
                attempt: try row.decode(Int.self, "attempt"),
                worker: try row.decode(String.self, "worker"),
                durationMilliseconds: try row.decode(Double.self, "duration_ms"),
                createdAt: try row.decode(Date.self, "created_at")
            )
        }
    }

    /// What `--wait` needs to know about a task; `nil` when it no longer exists.
    public func progress(id: Int64) async throws -> TaskProgress? {
        let rows = try await pool.query(
            """
            SELECT kind, state, attempt, max_attempts, lease_owner, errors -> -1 ->> 'message' AS last_error,
                   CASE WHEN state = 'succeeded' THEN result END AS result
            FROM tasks WHERE id = \(id)
            """
        )
        guard let row = rows.single else { return nil }
        let stateText = try row.decode(String.self, "state")
        guard let state = TaskState(rawValue: stateText) else {
            throw PostgresError.unexpectedResult("task \(id) has an unknown state '\(stateText)'")
        }
        return TaskProgress(
            kind: try row.decode(String.self, "kind"),
            state: state,
            attempt: try row.decode(Int.self, "attempt"),
            maxAttempts: try row.decode(Int.self, "max_attempts"),
            worker: try row.decode(String?.self, "lease_owner"),
            lastError: try row.decode(String?.self, "last_error"),
            result: try row.decode(PostgresJSON?.self, "result")?.text
        )
    }

    // MARK: cancel and retry (all or nothing)

    /// Locks the tasks (in id order, so that concurrent callers cannot deadlock) and returns their states; throws
    /// ``MissingTasks`` when some do not exist.
    private static func lockStates(_ ids: [Int64], on connection: PostgresConnection) async throws -> [Int64: String] {
        let rows = try await connection.query(
            "SELECT id, state FROM tasks WHERE id = ANY (\(ids)::bigint[]) ORDER BY id FOR UPDATE"
        )
        var states: [Int64: String] = [:]
        for row in rows { states[try row.decode(Int64.self, "id")] = try row.decode(String.self, "state") }
        let missing = ids.filter { states[$0] == nil }
        if !missing.isEmpty { throw MissingTasks(ids: missing) }
        return states
    }

    /// Cancels every task, or none when one of them does not exist. Returns, per id in order, the state before and
    /// what `cancel_task` did (`cancelled`, `cancel_requested`, or the unchanged terminal state).
    public func cancel(ids: [Int64]) async throws -> [(id: Int64, before: String, outcome: String)] {
        try await pool.withTransaction { connection in
            let before = try await Self.lockStates(ids, on: connection)
            var outcomes: [(id: Int64, before: String, outcome: String)] = []
            for id in ids {
                let rows = try await connection.query("SELECT cancel_task(\(id)) AS outcome")
                let outcome = try rows.single?.decode(String?.self, "outcome") ?? "missing"
                outcomes.append((id, before[id] ?? "missing", outcome))
            }
            return outcomes
        }
    }

    /// Puts every task back to pending, or none when one does not exist (``MissingTasks``) or is not dead or
    /// cancelled (``UnsuitableTasks``).
    public func retry(ids: [Int64]) async throws -> [(id: Int64, before: String)] {
        try await pool.withTransaction { connection in
            let before = try await Self.lockStates(ids, on: connection)
            let unsuitable = ids.compactMap { id -> (id: Int64, state: String)? in
                let state = before[id] ?? "missing"
                return state == "dead" || state == "cancelled" ? nil : (id, state)
            }
            if !unsuitable.isEmpty { throw UnsuitableTasks(tasks: unsuitable) }
            for id in ids {
                let rows = try await connection.query("SELECT retry_task(\(id)) AS state")
                let state = try rows.single?.decode(String?.self, "state")
                guard state == "pending" else {
                    throw PostgresError.unexpectedResult("retry_task(\(id)) returned \(state ?? "NULL")")
                }
            }
            return ids.map { ($0, before[$0] ?? "missing") }
        }
    }

    /// How many finished tasks `purge` would delete.
    public func purgeCandidates(olderThan: Duration, states: [String]) async throws -> Int {
        let rows = try await pool.query(
            """
            SELECT count(*) AS n FROM tasks
            WHERE state IN ('succeeded', 'dead', 'cancelled') AND state = ANY (\(states)::text[])
              AND finished_at < now() - \(olderThan)::interval
            """
        )
        return try rows.single?.decode(Int.self, "n") ?? 0
    }

    // MARK: stats

    /// Counts per queue and state: exact for pending and running; for succeeded, dead and cancelled exact on a
    /// table of at most `estimateAbove` rows (by the planner's count), estimated from the statistics of
    /// `tasks_queue_state_stats` above it (migrations 003 and 005). Throughput counts tasks finished in the last minute
    /// and hour through the index on `finished_at`.
    public func stats(estimateAbove: Int, exact: Bool) async throws -> QueueStats {
        try await pool.withConnection { connection in
            var byQueue: [String: QueueCounts] = [:]
            func update(_ queue: String, _ change: (inout QueueCounts) -> Void) {
                var counts = byQueue[queue] ?? QueueCounts(queue: queue)
                change(&counts)
                byQueue[queue] = counts
            }
            let collectedAt =
                try await connection.query("SELECT now() AS now").single?.decode(Date.self, "now") ?? Date()

            // One branch per state, so that each matches the predicate of its partial index (tasks_claim_idx,
            // tasks_lease_idx): `state IN (...)` would not, and would scan the whole table.
            let live = try await connection.query(
                """
                SELECT queue, 'pending' AS state, count(*) AS n,
                       count(*) FILTER (WHERE run_after <= now()) AS ready,
                       extract(epoch FROM now() - min(run_after) FILTER (WHERE run_after <= now()))::float8 AS oldest
                FROM tasks WHERE state = 'pending'
                GROUP BY queue
                UNION ALL
                SELECT queue, 'running', count(*), 0, NULL FROM tasks WHERE state = 'running' GROUP BY queue
                """
            )
            for row in live {
                let queue = try row.decode(String.self, "queue")
                let count = try row.decode(Int.self, "n")
                if try row.decode(String.self, "state") == "running" {
                    update(queue) { $0.running = count }
                } else {
                    let ready = try row.decode(Int.self, "ready")
                    let oldest = try row.decode(Double?.self, "oldest")
                    update(queue) {
                        $0.pending = count
                        $0.ready = ready
                        $0.scheduled = count - ready
                        $0.oldestReadySeconds = oldest
                    }
                }
            }

            let reltuples = try await connection.query(
                "SELECT reltuples::float8 AS n FROM pg_class WHERE oid = to_regclass('tasks')"
            ).single?.decode(Double.self, "n")
            let tableRows = reltuples.flatMap { $0 >= 0 ? Int($0.rounded()) : nil }
            var estimated = false
            if !exact, let tableRows, tableRows > estimateAbove {
                // Through a SECURITY DEFINER function (migration 005): pg_stats_ext shows extended statistics
                // only to the table's owner, and queuectl may run as a reader.
                let mcv = try await connection.query(
                    "SELECT queue, state, estimate FROM queuectl_state_estimates()"
                )
                if !mcv.isEmpty {
                    estimated = true
                    for row in mcv {
                        let queue = try row.decode(String.self, "queue")
                        let state = try row.decode(String.self, "state")
                        let count = Int(try row.decode(Double.self, "estimate").rounded())
                        switch state {
                        case "succeeded": update(queue) { $0.succeeded = count }
                        case "dead": update(queue) { $0.dead = count }
                        case "cancelled": update(queue) { $0.cancelled = count }
                        default: break
                        }
                    }
                }
            }
            if !estimated {
                let terminal = try await connection.query(
                    """
                    SELECT queue, state, count(*) AS n FROM tasks
                    WHERE state IN ('succeeded', 'dead', 'cancelled') GROUP BY queue, state
                    """
                )
                for row in terminal {
                    let queue = try row.decode(String.self, "queue")
                    let count = try row.decode(Int.self, "n")
                    switch try row.decode(String.self, "state") {
                    case "succeeded": update(queue) { $0.succeeded = count }
                    case "dead": update(queue) { $0.dead = count }
                    default: update(queue) { $0.cancelled = count }
                    }
                }
            }

            let throughput = try await connection.query(
                """
                SELECT queue, state, count(*) FILTER (WHERE finished_at >= now() - interval '1 minute') AS minute,
                       count(*) AS hour
                FROM tasks
                WHERE state IN ('succeeded', 'dead', 'cancelled') AND finished_at >= now() - interval '1 hour'
                GROUP BY queue, state
                """
            )
            for row in throughput {
                let queue = try row.decode(String.self, "queue")
                let minute = try row.decode(Int.self, "minute")
                let hour = try row.decode(Int.self, "hour")
                switch try row.decode(String.self, "state") {
                case "succeeded":
                    update(queue) {
                        $0.succeededLastMinute = minute
                        $0.succeededLastHour = hour
                    }
                case "dead":
                    update(queue) {
                        $0.deadLastMinute = minute
                        $0.deadLastHour = hour
                    }
                default: break
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

    // MARK: workers

    /// The worker registry with each worker's running tasks; stopped workers only with `includeStopped`.
    public func workers(includeStopped: Bool) async throws -> [WorkerRow] {
        let rows = try await pool.query(
            """
            SELECT w.id, w.host, w.instance, w.pid, w.version, w.queues, w.concurrency, w.state, w.stale,
                   w.tasks_done, w.tasks_failed, w.started_at, w.heartbeat_at, w.stopped_at,
                   extract(epoch FROM now() - w.heartbeat_at)::float8 AS heartbeat_age,
                   coalesce(r.running, 0) AS running
            FROM workers_status w
            LEFT JOIN (SELECT lease_owner, count(*) AS running FROM tasks WHERE state = 'running' GROUP BY lease_owner) r
                ON r.lease_owner = w.id
            WHERE \(includeStopped) OR w.state <> 'stopped'
            ORDER BY w.state = 'stopped', w.host, w.instance, w.started_at DESC
            """
        )
        return try rows.map { row in
            WorkerRow(
                id: try row.decode(String.self, "id"),
                host: try row.decode(String.self, "host"),
                instance: try row.decode(String.self, "instance"),
                pid: try row.decode(Int.self, "pid"),
                version: try row.decode(String.self, "version"),
                queues: try row.decode([String].self, "queues"),
                concurrency: try row.decode(Int.self, "concurrency"),
                state: try row.decode(String.self, "state"),
                stale: try row.decode(Bool?.self, "stale") ?? false,
                running: try row.decode(Int.self, "running"),
                tasksDone: try row.decode(Int.self, "tasks_done"),
                tasksFailed: try row.decode(Int.self, "tasks_failed"),
                startedAt: try row.decode(Date.self, "started_at"),
                heartbeatAt: try row.decode(Date.self, "heartbeat_at"),
                heartbeatAgeSeconds: try row.decode(Double.self, "heartbeat_age"),
                stoppedAt: try row.decode(Date?.self, "stopped_at")
            )
        }
    }
}
