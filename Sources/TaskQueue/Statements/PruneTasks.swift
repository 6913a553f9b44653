public import PostgresClient

/// `prune_tasks(...)`: deletes up to `batchSize` finished tasks (with their events and checkpoints) that finished
/// before `olderThan` ago, oldest first. Returns how many it deleted; run it until that is below `batchSize`
/// (``QueueClient/prune(olderThan:states:batchSize:)``).
public struct PruneTasks: PostgresStatement {
    /// The age of the newest task deleted.
    public let olderThan: Duration
    /// The terminal states to delete.
    public let states: [TaskState]
    /// The most tasks per statement.
    public let batchSize: Int

    /// Creates the statement.
    public init(olderThan: Duration, states: [TaskState], batchSize: Int) {
        self.olderThan = olderThan
        self.states = states
        self.batchSize = batchSize
    }

    public var query: PostgresQuery {
        """
        SELECT prune_tasks(\(olderThan)::interval, \(states.map(\.rawValue))::text[], \(batchSize)::integer) AS n
        """
    }

    public func decode(_ rows: PostgresRows) throws -> Int {
        try rows.single?.decode(Int.self, "n") ?? 0
    }
}
