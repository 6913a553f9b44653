public import FoundationEssentials
import Logging
public import PostgresClient
public import TaskQueue

/// A migrated schema of its own, with a queue client, for one test.
public struct QueueFixture: Sendable {
    /// The schema.
    public let schema: TestSchema
    /// A pool on the schema.
    public let pool: PostgresConnectionPool
    /// A queue client on the pool.
    public let queue: QueueClient

    /// Runs `body` against a freshly migrated schema that is dropped afterwards.
    public static func with<T>(poolSize: Int = 8, _ body: (QueueFixture) async throws -> T) async throws -> T {
        try await TestDatabase.withSchema { schema in
            let connection = try await schema.connect()
            try await Migrator(logger: TestDatabase.logger).migrate(on: connection)
            await connection.close()
            let pool = schema.pool(size: poolSize)
            let fixture = QueueFixture(
                schema: schema, pool: pool, queue: QueueClient(pool: pool))
            do {
                let value = try await body(fixture)
                await pool.close()
                return value
            } catch {
                await pool.close()
                throw error
            }
        }
    }

    /// A database URL whose sessions use this schema (for child processes).
    public var url: String {
        get throws {
            let base = try TestDatabase.url
            return "\(base)\(base.contains("?") ? "&" : "?")options=-csearch_path%3D\(schema.name)"
        }
    }

    /// The environment of a worker process on this schema, with short timings for tests (lease 2 s, heartbeat
    /// 0.5 s, poll 200 ms, rescue every 0.2 s, fast retries), overridden by `extra`.
    public func workerEnvironment(_ extra: [String: String] = [:]) throws -> [String: String] {
        var environment = [
            "DATABASE_URL": try url,
            "WORKER_CONCURRENCY": "4",
            "WORKER_LEASE_SECONDS": "2",
            "WORKER_HEARTBEAT_SECONDS": "0.5",
            "WORKER_POLL_INTERVAL_MS": "200",
            "WORKER_RESCUE_INTERVAL_SECONDS": "0.2",
            "WORKER_RETRY_BASE_SECONDS": "0.05",
            "WORKER_RETRY_MAX_SECONDS": "0.2",
            "WORKER_SHUTDOWN_GRACE_SECONDS": "5",
            "LOG_LEVEL": "info",
            "LOG_FORMAT": "logfmt",
        ]
        for (key, value) in extra { environment[key] = value }
        return environment
    }

    /// Runs a scalar query.
    public func scalar<T: PostgresDecodable>(_ type: T.Type, _ query: PostgresQuery) async throws -> T {
        guard let row = try await pool.query(query).single else { throw TestDatabaseError("no row for \(query.sql)") }
        return try row.decode(T.self, at: 0)
    }
}

/// A task description with a JSON payload from a literal.
public func task(
    _ kind: String = "noop",
    payload: String = "{}",
    queue: String = "default",
    priority: Int16 = 0,
    runAfter: Date? = nil,
    maxAttempts: Int = 3,
    dedupeKey: String? = nil
) -> NewTask {
    NewTask(
        kind: kind, payload: PostgresJSON(text: payload), queue: queue, priority: priority, runAfter: runAfter,
        maxAttempts: maxAttempts, dedupeKey: dedupeKey
    )
}

extension QueueFixture {
    /// Completes one task with `complete_tasks` (``CompleteTasks``), fenced by its lease.
    public func complete(_ lease: Lease, result: PostgresJSON? = nil) async throws -> FencedWrite {
        try await pool.run(CompleteTasks([(lease, result)])).contains(lease.taskID) ? .written : .leaseLost
    }
}
