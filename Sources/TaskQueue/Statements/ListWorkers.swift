public import PostgresClient

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The worker registry with each worker's running tasks; stopped workers only with `includeStopped`.
public struct ListWorkers: PostgresStatement {
    /// Include workers that stopped.
    public let includeStopped: Bool

    /// Creates the statement.
    public init(includeStopped: Bool) {
        self.includeStopped = includeStopped
    }

    public var query: PostgresQuery {
        """
        SELECT w.id, w.host, w.instance, w.pid, w.version, w.queues, w.concurrency, w.state, w.stale,
               w.tasks_done, w.tasks_failed, w.started_at, w.heartbeat_at, w.stopped_at,
               extract(epoch FROM now() - w.heartbeat_at)::float8 AS heartbeat_age,
               coalesce(r.running, 0) AS running
        FROM workers_status w
        LEFT JOIN (SELECT lease_owner, count(*) AS running FROM tasks WHERE state = 'running' GROUP BY lease_owner) r
            ON r.lease_owner = w.id
        WHERE \(includeStopped) OR w.state <> 'stopped'
        ORDER BY w.state = 'stopped', w.host, w.instance, w.started_at DESC
        """
    }

    public func decode(_ rows: PostgresRows) throws -> [WorkerRow] {
        try rows.map { row in
            WorkerRow(
                id: try row.decode(String.self, "id"),
                host: try row.decode(String.self, "host"),
                instance: try row.decode(String.self, "instance"),
                pid: try row.decode(Int.self, "pid"),
                version: try row.decode(String.self, "version"),
                queues: try row.decode([String].self, "queues"),
                concurrency: try row.decode(Int.self, "concurrency"),
                state: try row.decode(String.self, "state"),
                stale: try row.decode(Bool?.self, "stale") ?? false,
                running: try row.decode(Int.self, "running"),
                tasksDone: try row.decode(Int.self, "tasks_done"),
                tasksFailed: try row.decode(Int.self, "tasks_failed"),
                startedAt: try row.decode(Date.self, "started_at"),
                heartbeatAt: try row.decode(Date.self, "heartbeat_at"),
                heartbeatAgeSeconds: try row.decode(Double.self, "heartbeat_age"),
                stoppedAt: try row.decode(Date?.self, "stopped_at")
            )
        }
    }
}
