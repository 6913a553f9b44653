public import PostgresClient

/// How many tasks of some queues are pending, counting at most `cap` (for STATUS=; never a scan of a huge backlog).
public struct CountPendingTasks: PostgresStatement {
    /// The queues.
    public let queues: [String]
    /// The most rows counted.
    public let cap: Int

    /// Creates the statement.
    public init(queues: [String], cap: Int = 100_000) {
        self.queues = queues
        self.cap = cap
    }

    public var query: PostgresQuery {
        """
        SELECT count(*) AS n FROM (
            SELECT 1 FROM tasks WHERE state = 'pending' AND queue = ANY (\(queues)::text[]) LIMIT \(cap)::integer
        ) AS pending
        """
    }

    public func decode(_ rows: PostgresRows) throws -> Int {
        try rows.single?.decode(Int.self, "n") ?? 0
    }
}
