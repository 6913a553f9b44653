public import PostgresClient

/// Locks tasks in id order (so that concurrent callers cannot deadlock) until the transaction ends and returns their
/// states (`lock_task_states`, which an operator may call); a task that does not exist is missing from the result.
public struct LockTaskStates: PostgresStatement {
    /// The tasks.
    public let ids: [Int64]

    /// Creates the statement.
    public init(ids: [Int64]) {
        self.ids = ids
    }

    public var query: PostgresQuery {
        "SELECT id, state FROM lock_task_states(\(ids)::bigint[])"
    }

    public func decode(_ rows: PostgresRows) throws -> [Int64: TaskState] {
        var states: [Int64: TaskState] = [:]
        for row in rows {
            let text = try row.decode(String.self, "state")
            guard let state = TaskState(rawValue: text) else {
                throw PostgresError.unexpectedResult("a task has an unknown state '\(text)'")
            }
            states[try row.decode(Int64.self, "id")] = state
        }
        return states
    }
}
