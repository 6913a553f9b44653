public import PostgresClient

/// `lock_task_lease(...)`: checks, inside a transaction, that a lease is still held and locks the task row until the
/// transaction ends, so that no rescue or cancel can slip in before the transaction's writes commit. The first
/// statement of every finish transaction (``QueueClient/finish(_:records:)``).
public struct LockLease: PostgresStatement {
    /// The attempt's lease.
    public let lease: Lease

    /// Creates the statement.
    public init(_ lease: Lease) {
        self.lease = lease
    }

    public var query: PostgresQuery {
        PostgresQuery("SELECT lock_task_lease(\(lease.taskID), \(lease.token)::uuid) AS held").preparedStatement()
    }

    public func decode(_ rows: PostgresRows) throws -> FencedWrite {
        try rows.single?.decode(Bool.self, "held") == true ? .written : .leaseLost
    }
}
