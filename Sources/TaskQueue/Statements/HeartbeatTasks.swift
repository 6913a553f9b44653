public import PostgresClient

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// `heartbeat_tasks(...)`: extends the leases still held. Returns, per lease still held (by its token), whether its
/// task's cancellation was requested; a lease missing from the result was lost.
public struct HeartbeatTasks: PostgresStatement {
    /// The leases to extend.
    public let leases: [Lease]
    /// The new lease duration from now.
    public let lease: Duration

    /// Creates the heartbeat.
    public init(_ leases: [Lease], lease: Duration) {
        self.leases = leases
        self.lease = lease
    }

    public var query: PostgresQuery {
        PostgresQuery(
            """
            SELECT lease_token, cancel_requested FROM heartbeat_tasks(\(leases.map(\.taskID))::bigint[],
                \(leases.map(\.token))::uuid[], \(lease)::interval)
            """
        ).preparedStatement()
    }

    public func decode(_ rows: PostgresRows) throws -> [UUID: Bool] {
        var held: [UUID: Bool] = [:]
        for row in rows {
            held[try row.decode(UUID.self, "lease_token")] = try row.decode(Bool.self, "cancel_requested")
        }
        return held
    }
}
