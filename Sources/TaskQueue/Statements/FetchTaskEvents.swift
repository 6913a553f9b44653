public import PostgresClient

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A task's state transitions, oldest first.
public struct FetchTaskEvents: PostgresStatement {
    /// The task.
    public let taskID: Int64

    /// Creates the statement.
    public init(taskID: Int64) {
        self.taskID = taskID
    }

    public var query: PostgresQuery {
        """
        SELECT task_id, at, from_state, to_state, attempt, worker, reason FROM task_events
        WHERE task_id = \(taskID) ORDER BY at, to_state
        """
    }

    public func decode(_ rows: PostgresRows) throws -> [TaskEvent] {
        try rows.map { row in
            TaskEvent(
                taskID: try row.decode(Int64.self, "task_id"), at: try row.decode(Date.self, "at"),
                fromState: try row.decode(String?.self, "from_state"), toState: try row.decode(String.self, "to_state"),
                attempt: try row.decode(Int.self, "attempt"), worker: try row.decode(String?.self, "worker"),
                reason: try row.decode(String?.self, "reason")
            )
        }
    }
}
