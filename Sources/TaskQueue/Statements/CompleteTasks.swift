public import PostgresClient

/// `complete_tasks(...)`: finishes tasks successfully, each with its result, fenced by its lease. Returns the ids
/// finished; a missing id's lease was lost and nothing was written for it.
public struct CompleteTasks: PostgresStatement {
    /// The tasks' leases and results.
    public let completions: [(lease: Lease, result: PostgresJSON?)]

    /// Completes one or many tasks in one statement.
    public init(_ completions: [(lease: Lease, result: PostgresJSON?)]) {
        self.completions = completions
    }

    public var query: PostgresQuery {
        PostgresQuery(
            """
            SELECT complete_tasks(\(completions.map(\.lease.taskID))::bigint[], \(completions.map(\.lease.token))::uuid[],
                \(completions.map(\.result))::jsonb[]) AS id
            """
        ).preparedStatement()
    }

    public func decode(_ rows: PostgresRows) throws -> Set<Int64> {
        Set(try rows.map { try $0.decode(Int64.self, "id") })
    }
}
