public import PostgresClient

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A task's checkpoints in the order their nodes started, without their outputs (for `show`'s timeline). A checkpoint
/// written before migration 009 has no start time: its node is taken to have started its duration before the write.
public struct ListCheckpoints: PostgresStatement {
    /// The task.
    public let taskID: Int64

    /// Creates the statement.
    public init(taskID: Int64) {
        self.taskID = taskID
    }

    public var query: PostgresQuery {
        """
        SELECT node, attempt, worker, duration_ms, created_at,
            coalesce(started_at, created_at - duration_ms * interval '1 millisecond') AS started_at
        FROM task_checkpoints
        WHERE task_id = \(taskID) ORDER BY 6, node
        """
    }

    public func decode(_ rows: PostgresRows) throws -> [CheckpointRow] {
        try rows.map { row in
            CheckpointRow(
                node: try row.decode(String.self, "node"),
                attempt: try row.decode(Int.self, "attempt"),
                worker: try row.decode(String.self, "worker"),
                durationMilliseconds: try row.decode(Double.self, "duration_ms"),
                createdAt: try row.decode(Date.self, "created_at"),
                startedAt: try row.decode(Date.self, "started_at")
            )
        }
    }
}
