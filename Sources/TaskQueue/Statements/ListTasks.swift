public import PostgresClient

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Tasks matching filters, newest first (or oldest first), without their payloads.
public struct ListTasks: PostgresStatement {
    /// States to include; all when empty.
    public let states: [TaskState]
    /// Only this queue, if given.
    public let queue: String?
    /// Only this kind, if given.
    public let kind: String?
    /// The most rows.
    public let limit: Int
    /// Oldest first instead of newest first.
    public let oldestFirst: Bool

    /// Creates the statement.
    public init(states: [TaskState], queue: String?, kind: String?, limit: Int, oldestFirst: Bool) {
        self.states = states
        self.queue = queue
        self.kind = kind
        self.limit = limit
        self.oldestFirst = oldestFirst
    }

    public var query: PostgresQuery {
        let order: PostgresQuery = oldestFirst ? "ORDER BY id" : "ORDER BY id DESC"
        let stateFilter: [String]? = states.isEmpty ? nil : states.map(\.rawValue)
        return """
            SELECT \(fragment: TaskSummary.columns) FROM tasks
            WHERE (\(stateFilter)::text[] IS NULL OR state = ANY (\(stateFilter)::text[]))
              AND (\(queue)::text IS NULL OR queue = \(queue)::text)
              AND (\(kind)::text IS NULL OR kind = \(kind)::text)
            \(fragment: order)
            LIMIT \(limit)::integer
            """
    }

    public func decode(_ rows: PostgresRows) throws -> [TaskSummary] {
        try rows.map(TaskSummary.init(row:))
    }
}

extension TaskSummary {
    /// The columns a summary is read from.
    static let columns: PostgresQuery = """
        id, kind, queue, state, priority, attempt, max_attempts, run_after, created_at, started_at, finished_at, \
        lease_owner, dedupe_key, cancel_requested, errors -> -1 ->> 'message' AS last_error, \
        CASE WHEN kind = 'review' AND state = 'succeeded' THEN result ->> 'verdict_status' END AS verdict_status, \
        CASE WHEN kind = 'review' AND state = 'succeeded' AND jsonb_typeof(result -> 'findings') = 'array' \
            THEN jsonb_array_length(result -> 'findings') END AS finding_count, \
        EXISTS (SELECT 1 FROM queue_pauses p WHERE p.queue = tasks.queue) AS queue_paused
        """

    init(row: PostgresRow) throws {
        self.init(
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
            lastError: try row.decode(String?.self, "last_error"),
            verdictStatus: try row.decode(String?.self, "verdict_status"),
            findingCount: try row.decode(Int?.self, "finding_count"),
            queuePaused: try row.decode(Bool.self, "queue_paused")
        )
    }
}
