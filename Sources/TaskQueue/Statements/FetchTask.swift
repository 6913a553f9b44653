public import PostgresClient

/// One task as stored, or `nil`.
public struct FetchTask: PostgresStatement {
    /// The task.
    public let id: Int64

    /// Creates the statement.
    public init(id: Int64) {
        self.id = id
    }

    public var query: PostgresQuery { "SELECT * FROM tasks WHERE id = \(id)" }

    public func decode(_ rows: PostgresRows) throws -> TaskRecord? {
        try rows.single.map(TaskRecord.init(row:))
    }
}
