public import PostgresClient

/// `retry_task(...)`: puts a dead or cancelled task back to pending with fresh attempts. Returns the resulting state
/// (the unchanged one for a task in another state), or `nil` when the task does not exist.
public struct RetryTask: PostgresStatement {
    /// The task.
    public let id: Int64

    /// Creates the statement.
    public init(id: Int64) {
        self.id = id
    }

    public var query: PostgresQuery { "SELECT retry_task(\(id)) AS state" }

    public func decode(_ rows: PostgresRows) throws -> TaskState? {
        guard let text = try rows.single?.decode(String?.self, "state") else { return nil }
        guard let state = TaskState(rawValue: text) else {
            throw PostgresError.unexpectedResult("retry_task returned '\(text)'")
        }
        return state
    }
}
