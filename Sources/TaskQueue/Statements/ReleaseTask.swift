public import PostgresClient

/// `release_task(...)`: hands a running task back without spending an attempt (shutdown), fenced by its lease. A task
/// whose cancellation was requested is cancelled instead of going back to pending.
public struct ReleaseTask: PostgresStatement {
    /// The attempt's lease.
    public let lease: Lease
    /// Why (recorded in the task's events).
    public let reason: String

    /// Creates the statement.
    public init(_ lease: Lease, reason: String) {
        self.lease = lease
        self.reason = reason
    }

    public var query: PostgresQuery {
        "SELECT release_task(\(lease.taskID), \(lease.token)::uuid, \(reason)) AS released"
    }

    public func decode(_ rows: PostgresRows) throws -> FencedWrite {
        try rows.single?.decode(Bool.self, "released") == true ? .written : .leaseLost
    }
}
