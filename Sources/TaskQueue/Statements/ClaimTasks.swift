public import PostgresClient

/// `claim_task(...)`: claims up to `limit` ready tasks of `queues` for a worker, each with a fresh lease. The only way
/// a task becomes running.
public struct ClaimTasks: PostgresStatement {
    /// The claiming worker (`host/instance/boot`), recorded as the lease owner.
    public let workerID: String
    /// The queues to claim from.
    public let queues: [String]
    /// The most tasks to claim.
    public let limit: Int
    /// How long each lease lasts without a heartbeat.
    public let lease: Duration

    /// Creates the claim.
    public init(workerID: String, queues: [String], limit: Int, lease: Duration) {
        self.workerID = workerID
        self.queues = queues
        self.limit = limit
        self.lease = lease
    }

    public var query: PostgresQuery {
        PostgresQuery(
            "SELECT * FROM claim_task(\(workerID), \(queues)::text[], \(limit)::integer, \(lease)::interval)"
        ).preparedStatement()
    }

    public func decode(_ rows: PostgresRows) throws -> [ClaimedTask] {
        try rows.map { row in
            let record = try TaskRecord(row: row)
            guard let lease = record.lease else {
                throw PostgresError.unexpectedResult("claim_task returned task \(record.id) without a lease")
            }
            return ClaimedTask(record: record, lease: lease, hasCheckpoints: try row.decode(Bool.self, "checkpointed"))
        }
    }
}
