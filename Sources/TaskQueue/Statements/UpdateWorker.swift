public import PostgresClient

/// `update_worker(...)`: refreshes a worker's row in the registry: its heartbeat, state and counters.
public struct UpdateWorker: PostgresStatement {
    /// The worker's id.
    public let id: String
    /// `running`, `draining` or `stopped`.
    public let state: String
    /// Tasks it finished.
    public let done: Int
    /// Tasks that failed on it.
    public let failed: Int
    /// The queues it claims from now.
    public let queues: [String]
    /// Its concurrency now.
    public let concurrency: Int

    /// Creates the statement.
    public init(id: String, state: String, done: Int, failed: Int, queues: [String], concurrency: Int) {
        self.id = id
        self.state = state
        self.done = done
        self.failed = failed
        self.queues = queues
        self.concurrency = concurrency
    }

    public var query: PostgresQuery {
        """
        SELECT update_worker(\(id), \(state), \(done)::bigint, \(failed)::bigint, \(queues)::text[],
            \(concurrency)::integer)
        """
    }

    public func decode(_ rows: PostgresRows) throws {}
}
