public import PostgresClient

/// What `--wait` polls about a task; `nil` when it no longer exists.
public struct FetchTaskProgress: PostgresStatement {
    /// The task.
    public let id: Int64

    /// Creates the statement.
    public init(id: Int64) {
        self.id = id
    }

    public var query: PostgresQuery {
        """
        SELECT kind, state, attempt, max_attempts, lease_owner, errors -> -1 ->> 'message' AS last_error,
               CASE WHEN state = 'succeeded' THEN result END AS result
        FROM tasks WHERE id = \(id)
        """
    }

    public func decode(_ rows: PostgresRows) throws -> TaskProgress? {
        guard let row = rows.single else { return nil }
        let stateText = try row.decode(String.self, "state")
        guard let state = TaskState(rawValue: stateText) else {
            throw PostgresError.unexpectedResult("task \(id) has an unknown state '\(stateText)'")
        }
        return TaskProgress(
            kind: try row.decode(String.self, "kind"),
            state: state,
            attempt: try row.decode(Int.self, "attempt"),
            maxAttempts: try row.decode(Int.self, "max_attempts"),
            worker: try row.decode(String?.self, "lease_owner"),
            lastError: try row.decode(String?.self, "last_error"),
            result: try row.decode(PostgresJSON?.self, "result")?.text
        )
    }
}
