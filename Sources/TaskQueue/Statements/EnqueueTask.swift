public import PostgresClient

/// `enqueue_task(...)`: enqueues one task, or returns the live task with the same dedupe key.
///
/// Runs inside the caller's transaction when one is open: the task exists when that transaction commits.
public struct EnqueueTask: PostgresStatement {
    /// The task.
    public let task: NewTask

    /// Enqueues `task`, after checking it (``NewTask/validate()``) so that bad input is refused before anything is
    /// sent.
    public init(_ task: NewTask) throws(TaskValidationError) {
        try task.validate()
        self.task = task
    }

    public var query: PostgresQuery {
        """
        SELECT id, deduplicated FROM enqueue_task(\(task.kind), \(task.payload)::jsonb, \(task.queue),
            \(task.priority)::smallint, \(task.runAfter)::timestamptz, \(task.maxAttempts)::integer,
            \(task.dedupeKey)::text)
        """
    }

    public func decode(_ rows: PostgresRows) throws -> EnqueueResult {
        guard let row = rows.single else { throw PostgresError.unexpectedResult("enqueue_task returned no row") }
        return EnqueueResult(
            id: try row.decode(Int64.self, "id"), deduplicated: try row.decode(Bool.self, "deduplicated"))
    }
}
