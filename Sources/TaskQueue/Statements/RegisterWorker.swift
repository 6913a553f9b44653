public import PostgresClient

/// `register_worker(...)`: adds a worker process to the `workers` registry (or marks it running again).
public struct RegisterWorker: PostgresStatement {
    /// The worker's id, `host/instance/boot`.
    public let id: String
    /// The host name.
    public let host: String
    /// The instance name.
    public let instance: String
    /// The per-boot id.
    public let bootID: String
    /// The process id.
    public let pid: Int
    /// AgentQueue's version.
    public let version: String
    /// The queues it claims from.
    public let queues: [String]
    /// Tasks it runs at once.
    public let concurrency: Int
    /// How often it updates its row; three missed updates make it stale.
    public let interval: Duration

    /// Creates the statement.
    public init(
        id: String, host: String, instance: String, bootID: String, pid: Int, version: String, queues: [String],
        concurrency: Int, interval: Duration
    ) {
        self.id = id
        self.host = host
        self.instance = instance
        self.bootID = bootID
        self.pid = pid
        self.version = version
        self.queues = queues
        self.concurrency = concurrency
        self.interval = interval
    }

    public var query: PostgresQuery {
        """
        SELECT register_worker(\(id), \(host), \(instance), \(bootID)::uuid, \(pid)::integer, \(version),
            \(queues)::text[], \(concurrency)::integer, \(interval)::interval)
        """
    }

    public func decode(_ rows: PostgresRows) throws {}
}
