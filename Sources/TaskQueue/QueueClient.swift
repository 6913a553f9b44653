public import Logging
public import PostgresClient

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Every operation on tasks, through the queue's SQL functions.
///
/// Writes about a running task are fenced: they name the task's ``Lease`` and return ``FencedWrite/leaseLost``
/// (writing nothing) when the lease is no longer held.
public struct QueueClient: Sendable {
    /// The pool every operation runs on.
    public let pool: PostgresConnectionPool
    let logger: Logger

    /// Creates a client over a pool.
    public init(pool: PostgresConnectionPool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    // MARK: Enqueue

    /// Enqueues one task (or returns the live task with the same dedupe key).
    public func enqueue(_ task: NewTask) async throws -> EnqueueResult {
        try await pool.withConnection { try await Self.enqueue(task, on: $0) }
    }

    /// Enqueues one task on a connection, inside the caller's transaction if one is open.
    public static func enqueue(_ task: NewTask, on connection: PostgresConnection) async throws -> EnqueueResult {
        try task.validate()
        let rows = try await connection.query(
            """
            SELECT id, deduplicated FROM enqueue_task(\(task.kind), \(task.payload)::jsonb, \(task.queue),
                \(task.priority)::smallint, \(task.runAfter)::timestamptz, \(task.maxAttempts)::integer,
                \(task.dedupeKey)::text)
            """
        )
        guard let row = rows.single else { throw PostgresError.unexpectedResult("enqueue_task returned no row") }
        return EnqueueResult(
            id: try row.decode(Int64.self, "id"), deduplicated: try row.decode(Bool.self, "deduplicated"))
    }

    /// Enqueues many tasks in one statement; all or nothing. Results are in the order of `tasks`.
    public func enqueue(_ tasks: [NewTask]) async throws -> [EnqueueResult] {
        guard !tasks.isEmpty else { return [] }
        for (index, task) in tasks.enumerated() {
            do {
                try task.validate()
            } catch {
                throw TaskValidationError("task \(index + 1) of the batch: \(error.description)")
            }
        }
        let document = Self.batchDocument(tasks)
        let rows = try await pool.withConnection { connection in
            try await connection.query("SELECT ordinal, id, deduplicated FROM enqueue_tasks(\(document)::jsonb)")
        }
        guard rows.count == tasks.count else {
            throw PostgresError.unexpectedResult("enqueue_tasks returned \(rows.count) rows for \(tasks.count) tasks")
        }
        return try rows.map { row in
            EnqueueResult(id: try row.decode(Int64.self, "id"), deduplicated: try row.decode(Bool.self, "deduplicated"))
        }
    }

    /// The JSON array `enqueue_tasks` takes. Payloads are already JSON text and are embedded as they are.
    static func batchDocument(_ tasks: [NewTask]) -> PostgresJSON {
        var text = "["
        text.reserveCapacity(tasks.reduce(2) { $0 + $1.payload.text.utf8.count + 96 })
        for (index, task) in tasks.enumerated() {
            if index > 0 { text += "," }
            text +=
                "{\"kind\":\(jsonString(task.kind)),\"queue\":\(jsonString(task.queue)),\"payload\":\(task.payload.text)"
            text += ",\"priority\":\(task.priority),\"max_attempts\":\(task.maxAttempts)"
            if let runAfter = task.runAfter, let value = runAfter.postgresText {
                text += ",\"run_after\":\(jsonString(value))"
            }
            if let dedupeKey = task.dedupeKey { text += ",\"dedupe_key\":\(jsonString(dedupeKey))" }
            text += "}"
        }
        return PostgresJSON(text: text + "]")
    }

    // MARK: Claim and fenced writes

    /// Claims up to `limit` ready tasks of `queues` for `workerID` through `claim_task(...)`.
    public func claim(workerID: String, queues: [String], limit: Int, lease: Duration) async throws -> [ClaimedTask] {
        try await pool.withConnection { connection in
            try await Self.claim(workerID: workerID, queues: queues, limit: limit, lease: lease, on: connection)
        }
    }

    /// Claims up to `limit` ready tasks on a connection (for a claim loop that keeps a connection of its own).
    public static func claim(
        workerID: String,
        queues: [String],
        limit: Int,
        lease: Duration,
        on connection: PostgresConnection
    ) async throws -> [ClaimedTask] {
        let rows = try await connection.query(
            PostgresQuery(
                "SELECT * FROM claim_task(\(workerID), \(queues)::text[], \(limit)::integer, \(lease)::interval)"
            ).preparedStatement()
        )
        return try rows.map { row in
            let record = try TaskRecord(row: row)
            guard let lease = record.lease else {
                throw PostgresError.unexpectedResult("claim_task returned task \(record.id) without a lease")
            }
            return ClaimedTask(record: record, lease: lease, hasCheckpoints: try row.decode(Bool.self, "checkpointed"))
        }
    }

    /// Extends the leases still held; returns, per task still held, whether cancellation was requested.
    /// A lease missing from the result was lost.
    public func heartbeat(_ leases: [Lease], lease duration: Duration, on connection: PostgresConnection) async throws
        -> [Int64: Bool]
    {
        guard !leases.isEmpty else { return [:] }
        return try Self.heldLeases(in: try await connection.query(Self.heartbeatStatement(leases, lease: duration)))
    }

    /// The heartbeat statement, for callers that run it on a connection of their own (see ``heldLeases(in:)``).
    public static func heartbeatStatement(_ leases: [Lease], lease duration: Duration) -> PostgresQuery {
        PostgresQuery(
            """
            SELECT id, cancel_requested FROM heartbeat_tasks(\(leases.map(\.taskID))::bigint[],
                \(leases.map(\.token))::uuid[], \(duration)::interval)
            """
        ).preparedStatement()
    }

    /// A statement that tells which of `leases` the heartbeat found gone because their own attempt completed the
    /// task (a handler that completes in its own transaction, see ``complete(_:result:on:)``), not because they
    /// were lost: the task succeeded at the lease's attempt, which only that lease's holder can have written.
    /// Read its rows with ``taskIDs(in:)``.
    public static func completedByOwnAttemptStatement(_ leases: [Lease]) -> PostgresQuery {
        PostgresQuery(
            """
            SELECT t.id FROM tasks t
            JOIN unnest(\(leases.map(\.taskID))::bigint[], \(leases.map(\.attempt))::integer[]) AS held(id, attempt)
                ON t.id = held.id AND t.attempt = held.attempt
            WHERE t.state = 'succeeded'
            """
        )
    }

    /// The `id` column of a statement's rows.
    public static func taskIDs(in rows: PostgresRows) throws -> Set<Int64> {
        Set(try rows.map { try $0.decode(Int64.self, "id") })
    }

    /// Reads the heartbeat statement's rows: per task still held, whether cancellation was requested.
    public static func heldLeases(in rows: PostgresRows) throws -> [Int64: Bool] {
        var held: [Int64: Bool] = [:]
        for row in rows { held[try row.decode(Int64.self, "id")] = try row.decode(Bool.self, "cancel_requested") }
        return held
    }

    /// Finishes a task successfully with an optional result.
    public func complete(_ lease: Lease, result: PostgresJSON? = nil) async throws -> FencedWrite {
        try await pool.withConnection { try await Self.complete(lease, result: result, on: $0) }
    }

    /// Finishes a task on a connection, inside the caller's transaction if one is open (so that results and the
    /// terminal state commit together).
    public static func complete(_ lease: Lease, result: PostgresJSON?, on connection: PostgresConnection) async throws
        -> FencedWrite
    {
        let done = try await complete([(lease, result)], on: connection)
        return done.contains(lease.taskID) ? .written : .leaseLost
    }

    /// Finishes many tasks in one statement; returns the ids finished (the others' leases were lost).
    public func complete(_ batch: [(lease: Lease, result: PostgresJSON?)]) async throws -> Set<Int64> {
        try await pool.withConnection { try await Self.complete(batch, on: $0) }
    }

    /// Finishes many tasks in one statement on a connection; returns the ids finished (the others' leases were lost).
    public static func complete(_ batch: [(lease: Lease, result: PostgresJSON?)], on connection: PostgresConnection)
        async throws -> Set<Int64>
    {
        guard !batch.isEmpty else { return [] }
        let rows = try await connection.query(
            PostgresQuery(
                """
                SELECT complete_tasks(\(batch.map(\.lease.taskID))::bigint[], \(batch.map(\.lease.token))::uuid[],
                    \(batch.map(\.result))::jsonb[]) AS id
                """
            ).preparedStatement()
        )
        return Set(try rows.map { try $0.decode(Int64.self, "id") })
    }

    /// Records a failed attempt: retry after a backoff, or dead when attempts are spent or `permanent`.
    public func fail(_ lease: Lease, message: String, permanent: Bool = false, retry: RetryPolicy) async throws
        -> FailOutcome
    {
        let rows = try await pool.withConnection { connection in
            try await connection.query(
                """
                SELECT state, run_after FROM fail_task(\(lease.taskID), \(lease.token)::uuid, \(message),
                    \(permanent), \(retry.base)::interval, \(retry.maximum)::interval)
                """
            )
        }
        guard let row = rows.single else { return .leaseLost }
        switch try row.decode(String.self, "state") {
        case "pending": return .retrying(at: try row.decode(Date.self, "run_after"))
        default: return .dead
        }
    }

    /// Hands a task back without spending an attempt (for shutdown).
    public func release(_ lease: Lease, reason: String) async throws -> FencedWrite {
        let rows = try await pool.query(
            "SELECT release_task(\(lease.taskID), \(lease.token)::uuid, \(reason)) AS released"
        )
        return try rows.single?.decode(Bool.self, "released") == true ? .written : .leaseLost
    }

    /// Stops a running task whose cancellation was requested.
    public func finishCancelled(_ lease: Lease) async throws -> FencedWrite {
        let rows = try await pool.query("SELECT finish_cancelled_task(\(lease.taskID), \(lease.token)::uuid) AS done")
        return try rows.single?.decode(Bool.self, "done") == true ? .written : .leaseLost
    }

    /// Checks that a lease is still held (for writes that must be fenced inside a caller's transaction).
    /// Locks the task row until the transaction ends, so the lease cannot be lost before it commits.
    public static func lockLease(_ lease: Lease, on connection: PostgresConnection) async throws -> FencedWrite {
        let rows = try await connection.query(
            """
            SELECT 1 AS held FROM tasks
            WHERE id = \(lease.taskID) AND lease_token = \(lease.token)::uuid AND state = 'running'
            FOR UPDATE
            """
        )
        return rows.isEmpty ? .leaseLost : .written
    }

    // MARK: Rescue

    /// Rescues running tasks whose lease expired: back to pending after a backoff, or dead when out of attempts.
    public func rescueExpired(limit: Int = 100, retry: RetryPolicy) async throws -> [RescuedTask] {
        try await rescue(limit: limit, retry: retry, ownerPrefix: nil, currentOwner: nil)
    }

    /// Rescues every running task held by earlier boots of this worker identity (`ownerPrefix`), except the
    /// current boot's.
    public func rescuePreviousBoots(ownerPrefix: String, currentOwner: String, retry: RetryPolicy) async throws
        -> [RescuedTask]
    {
        try await rescue(limit: 10_000, retry: retry, ownerPrefix: ownerPrefix, currentOwner: currentOwner)
    }

    private func rescue(limit: Int, retry: RetryPolicy, ownerPrefix: String?, currentOwner: String?) async throws
        -> [RescuedTask]
    {
        let rows = try await pool.query(
            """
            SELECT id, state, lease_owner FROM rescue_tasks(\(limit)::integer, \(retry.base)::interval,
                \(retry.maximum)::interval, \(ownerPrefix)::text, \(currentOwner)::text)
            """
        )
        return try rows.map { row in
            RescuedTask(
                id: try row.decode(Int64.self, "id"),
                state: TaskState(rawValue: try row.decode(String.self, "state")) ?? .pending,
                previousOwner: try row.decode(String?.self, "lease_owner")
            )
        }
    }

    // MARK: Operate

    /// What cancelling a task did.
    public enum CancelOutcome: String, Sendable, Codable {
        /// It was pending and is now cancelled.
        case cancelled
        /// It is running; its worker stops it at the next node boundary.
        case cancelRequested = "cancel_requested"
        /// It had already finished; nothing changed.
        case alreadySucceeded = "succeeded"
        /// It was already dead; nothing changed.
        case alreadyDead = "dead"
    }

    /// Cancels a task; `nil` when it does not exist.
    public func cancel(id: Int64) async throws -> CancelOutcome? {
        let rows = try await pool.query("SELECT cancel_task(\(id)) AS outcome")
        guard let text = try rows.single?.decode(String?.self, "outcome") else { return nil }
        if text == "cancelled" { return .cancelled }
        return CancelOutcome(rawValue: text) ?? .cancelled
    }

    /// Puts a dead or cancelled task back to pending with fresh attempts. Returns the resulting state, or `nil`
    /// when the task does not exist.
    public func retry(id: Int64) async throws -> TaskState? {
        let rows = try await pool.query("SELECT retry_task(\(id)) AS state")
        return try rows.single?.decode(String?.self, "state").flatMap(TaskState.init(rawValue:))
    }

    /// Deletes finished tasks (and their events, checkpoints) older than `olderThan`, in batches, and returns how
    /// many were deleted.
    public func prune(
        olderThan: Duration,
        states: [TaskState] = [.succeeded, .dead, .cancelled],
        batchSize: Int = 1000
    ) async throws -> Int {
        var total = 0
        while true {
            let rows = try await pool.query(
                """
                SELECT prune_tasks(\(olderThan)::interval, \(states.map(\.rawValue))::text[], \(batchSize)::integer) AS n
                """
            )
            let deleted = try rows.single?.decode(Int.self, "n") ?? 0
            total += deleted
            if deleted < batchSize { return total }
        }
    }

    /// One task, or `nil`.
    public func task(id: Int64) async throws -> TaskRecord? {
        try await pool.query("SELECT * FROM tasks WHERE id = \(id)").single.map(TaskRecord.init(row:))
    }

    /// A task's state transitions, oldest first.
    public func events(taskID: Int64) async throws -> [TaskEvent] {
        let rows = try await pool.query(
            """
            SELECT task_id, at, from_state, to_state, attempt, worker, reason FROM task_events
            WHERE task_id = \(taskID) ORDER BY at, to_state
            """
        )
        return try rows.map { row in
            TaskEvent(
                taskID: try row.decode(Int64.self, "task_id"), at: try row.decode(Date.self, "at"),
                fromState: try row.decode(String?.self, "from_state"), toState: try row.decode(String.self, "to_state"),
                attempt: try row.decode(Int.self, "attempt"), worker: try row.decode(String?.self, "worker"),
                reason: try row.decode(String?.self, "reason")
            )
        }
    }
}

/// A JSON string literal for `value`.
func jsonString(_ value: String) -> String {
    var text = "\""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": text += "\\\""
        case "\\": text += "\\\\"
        case "\n": text += "\\n"
        case "\r": text += "\\r"
        case "\t": text += "\\t"
        case let control where control.value < 0x20:
            let hex = String(control.value, radix: 16)
            text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: text.unicodeScalars.append(scalar)
        }
    }
    return text + "\""
}
