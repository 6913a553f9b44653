public import PostgresClient

/// `rescue_tasks(...)`: moves running tasks whose lease expired (or, with an owner prefix, every task held by earlier
/// boots of a restarted worker) back to pending, or to dead when they are out of rescues and attempts, or to cancelled
/// when their cancellation was requested. SKIP LOCKED: any number of workers may run it at once.
public struct RescueTasks: PostgresStatement {
    /// The most tasks moved by one call.
    public let limit: Int
    /// The backoff before the rescued tasks run again.
    public let retry: RetryPolicy
    /// `host/instance/`: rescue every task held by any boot of this identity except `currentOwner`.
    public let ownerPrefix: String?
    /// The current boot, excluded with `ownerPrefix`.
    public let currentOwner: String?

    /// Rescues tasks whose lease expired.
    public static func expired(limit: Int = 100, retry: RetryPolicy) -> RescueTasks {
        RescueTasks(limit: limit, retry: retry, ownerPrefix: nil, currentOwner: nil)
    }

    /// Rescues every task held by earlier boots of a worker identity.
    public static func previousBoots(ownerPrefix: String, currentOwner: String, retry: RetryPolicy) -> RescueTasks {
        RescueTasks(limit: 10_000, retry: retry, ownerPrefix: ownerPrefix, currentOwner: currentOwner)
    }

    public var query: PostgresQuery {
        """
        SELECT id, state, lease_owner FROM rescue_tasks(\(limit)::integer, \(retry.base)::interval,
            \(retry.maximum)::interval, \(ownerPrefix)::text, \(currentOwner)::text)
        """
    }

    public func decode(_ rows: PostgresRows) throws -> [RescuedTask] {
        try rows.map { row in
            let text = try row.decode(String.self, "state")
            guard let state = TaskState(rawValue: text) else {
                throw PostgresError.unexpectedResult("rescue_tasks returned an unknown state '\(text)'")
            }
            return RescuedTask(
                id: try row.decode(Int64.self, "id"), state: state,
                previousOwner: try row.decode(String?.self, "lease_owner"))
        }
    }
}
