public import PostgresClient

/// `finish_cancelled_task(...)`: stops a running task whose cancellation was requested, fenced by its lease.
public struct FinishCancelledTask: PostgresStatement {
    /// The attempt's lease.
    public let lease: Lease

    /// Creates the statement.
    public init(_ lease: Lease) {
        self.lease = lease
    }

    public var query: PostgresQuery {
        "SELECT finish_cancelled_task(\(lease.taskID), \(lease.token)::uuid) AS done"
    }

    public func decode(_ rows: PostgresRows) throws -> FencedWrite {
        try rows.single?.decode(Bool.self, "done") == true ? .written : .leaseLost
    }
}
