public import PostgresClient

// The statements behind `stats` and `top`. ``QueueClient/stats(estimateAbove:exact:)`` runs them on one connection
// and assembles ``QueueStats``.

/// Pending (ready, scheduled, oldest ready age) and running counts per queue: exact, one branch per state, so that
/// each matches the predicate of its partial index (`tasks_claim_idx`, `tasks_lease_idx`).
public struct CountLiveTasks: PostgresStatement {
    /// One queue's live counts.
    public struct Counts: Sendable {
        /// The queue.
        public var queue: String
        /// Pending tasks.
        public var pending = 0
        /// Pending tasks whose time has come.
        public var ready = 0
        /// Running tasks.
        public var running = 0
        /// Seconds since the oldest ready task's time came.
        public var oldestReadySeconds: Double?
    }

    /// Creates the statement.
    public init() {}

    public var query: PostgresQuery {
        """
        SELECT queue, 'pending' AS state, count(*) AS n,
               count(*) FILTER (WHERE run_after <= now()) AS ready,
               extract(epoch FROM now() - min(run_after) FILTER (WHERE run_after <= now()))::float8 AS oldest
        FROM tasks WHERE state = 'pending'
        GROUP BY queue
        UNION ALL
        SELECT queue, 'running', count(*), 0, NULL FROM tasks WHERE state = 'running' GROUP BY queue
        """
    }

    public func decode(_ rows: PostgresRows) throws -> [String: Counts] {
        var byQueue: [String: Counts] = [:]
        for row in rows {
            let queue = try row.decode(String.self, "queue")
            var counts = byQueue[queue] ?? Counts(queue: queue)
            let count = try row.decode(Int.self, "n")
            if try row.decode(String.self, "state") == "running" {
                counts.running = count
            } else {
                counts.pending = count
                counts.ready = try row.decode(Int.self, "ready")
                counts.oldestReadySeconds = try row.decode(Double?.self, "oldest")
            }
            byQueue[queue] = counts
        }
        return byQueue
    }
}

/// The planner's row count of the tasks table (`pg_class.reltuples`), when known.
public struct EstimateTaskRows: PostgresStatement {
    /// Creates the statement.
    public init() {}

    public var query: PostgresQuery {
        "SELECT reltuples::float8 AS n FROM pg_class WHERE oid = to_regclass('tasks')"
    }

    public func decode(_ rows: PostgresRows) throws -> Int? {
        guard let rows = try rows.single?.decode(Double.self, "n"), rows >= 0 else { return nil }
        return Int(rows.rounded())
    }
}

/// Terminal counts per (queue, state): exact (`estimated` false) with a count over the table, or estimated
/// (`queuectl_state_estimates()`, a SECURITY DEFINER function: `pg_stats_ext` shows extended statistics only to the
/// table's owner, and queuectl may run as a reader).
public struct CountTerminalTasks: PostgresStatement {
    /// Read the planner's statistics instead of counting.
    public let estimated: Bool

    /// Creates the statement.
    public init(estimated: Bool) {
        self.estimated = estimated
    }

    public var query: PostgresQuery {
        estimated
            ? "SELECT queue, state, estimate AS n FROM queuectl_state_estimates()"
            : """
            SELECT queue, state, count(*)::float8 AS n FROM tasks
            WHERE state IN ('succeeded', 'dead', 'cancelled') GROUP BY queue, state
            """
    }

    public func decode(_ rows: PostgresRows) throws -> [(queue: String, state: TaskState, count: Int)] {
        try rows.compactMap { row in
            guard let state = TaskState(rawValue: try row.decode(String.self, "state")), state.isTerminal else {
                return nil
            }
            return (try row.decode(String.self, "queue"), state, Int(try row.decode(Double.self, "n").rounded()))
        }
    }
}

/// Tasks finished in the last minute and the last hour per (queue, state), through the index on `finished_at`.
public struct CountRecentlyFinished: PostgresStatement {
    /// Creates the statement.
    public init() {}

    public var query: PostgresQuery {
        """
        SELECT queue, state, count(*) FILTER (WHERE finished_at >= now() - interval '1 minute') AS minute,
               count(*) AS hour
        FROM tasks
        WHERE state IN ('succeeded', 'dead', 'cancelled') AND finished_at >= now() - interval '1 hour'
        GROUP BY queue, state
        """
    }

    public func decode(_ rows: PostgresRows) throws -> [(queue: String, state: TaskState, minute: Int, hour: Int)] {
        try rows.compactMap { row in
            guard let state = TaskState(rawValue: try row.decode(String.self, "state")) else { return nil }
            return (
                try row.decode(String.self, "queue"), state, try row.decode(Int.self, "minute"),
                try row.decode(Int.self, "hour")
            )
        }
    }
}
