public import PostgresClient

/// How many finished tasks a prune with the same age and states would delete.
public struct CountPurgeCandidates: PostgresStatement {
    /// The age of the newest task counted.
    public let olderThan: Duration
    /// The terminal states counted.
    public let states: [TaskState]

    /// Creates the statement.
    public init(olderThan: Duration, states: [TaskState]) {
        self.olderThan = olderThan
        self.states = states
    }

    public var query: PostgresQuery {
        """
        SELECT count(*) AS n FROM tasks
        WHERE state IN ('succeeded', 'dead', 'cancelled') AND state = ANY (\(states.map(\.rawValue))::text[])
          AND finished_at < now() - \(olderThan)::interval
        """
    }

    public func decode(_ rows: PostgresRows) throws -> Int {
        try rows.single?.decode(Int.self, "n") ?? 0
    }
}
