import Foundation
import Logging
import PostgresClient
import TaskQueue

#if canImport(Glibc)
    import Glibc
#endif

/// The benchmark's own connection to the database it measures: resetting the queue, filling it, and reading the
/// database's timestamps, which every drain and latency figure comes from (never the benchmark's clock).
struct BenchDatabase: Sendable {
    let configuration: PostgresConfiguration
    let connection: PostgresConnection
    let logger: Logger
    /// The postmaster's pid when the server runs on this host (for its CPU time), else nil.
    let postmaster: pid_t?

    static func connect(url: String, logger: Logger) async throws -> BenchDatabase {
        let configuration = try PostgresConfiguration(connectionString: url, applicationName: "aq-bench")
        let connection = try await PostgresConnection.connect(configuration: configuration, logger: logger)
        let pid = ProcSample.parent(of: connection.backendPID)
        let postmaster = pid.flatMap { ProcSample.read(pid: $0) } == nil ? nil : pid
        return BenchDatabase(
            configuration: configuration, connection: connection, logger: logger, postmaster: postmaster)
    }

    /// Applies the bundled migrations up to `version` (all when nil). An earlier schema keeps the functions its own
    /// migrations defined: the current function files and grants are applied only with the whole schema.
    func migrate(upTo version: Int?) async throws -> Int {
        let migrations = Migrator.bundled.filter { version == nil || $0.version <= version! }
        let complete = migrations.count == Migrator.bundled.count
        try await Migrator(
            migrations: migrations, functions: complete ? Migrator.bundledFunctions : [],
            grants: complete ? Migrator.bundledGrants : nil, logger: logger
        ).migrate(on: connection)
        return try await Migrator.currentVersion(on: connection)
    }

    /// Empties every table the scenarios write to, so each run starts from the same state (CASCADE: with the tables
    /// that refer to them, such as `publications` from schema 8 on).
    func reset() async throws {
        try await connection.simpleQuery(
            """
            TRUNCATE tasks, task_events, task_checkpoints, review_history, findings, agent_performance,
                pull_requests, workers CASCADE;
            """
        )
    }

    /// Enqueues `count` tasks of `kind` with `payload` through `enqueue_tasks`, 5,000 per statement, then
    /// vacuums and analyzes the table and takes a checkpoint, so that runs start from comparable states.
    /// With `numbered`, each payload gets its own `pr_number` (1, 2, …), as reviews of different pull requests.
    func fill(count: Int, kind: String = "noop", payload: String = "{}", numbered: Bool = false) async throws {
        var done = 0
        while done < count {
            let chunk = min(count - done, 5000)
            try await connection.query(
                """
                SELECT count(*) AS n FROM enqueue_tasks((
                    SELECT jsonb_agg(jsonb_build_object('kind', \(kind)::text, 'payload', CASE WHEN \(numbered)
                        THEN \(payload)::jsonb || jsonb_build_object('pr_number', g) ELSE \(payload)::jsonb END))
                    FROM generate_series(\(done + 1)::integer, \(done + chunk)::integer) AS g))
                """
            )
            done += chunk
        }
        try await settle()
    }

    /// VACUUM ANALYZE of the queue's tables and a CHECKPOINT: no run pays for the previous run's garbage.
    func settle() async throws {
        try await connection.simpleQuery("VACUUM ANALYZE tasks")
        try await connection.simpleQuery("VACUUM ANALYZE task_events")
        try await connection.simpleQuery("CHECKPOINT")
    }

    /// Tasks not finished yet (pending or running), counted through the partial indexes.
    func unfinished() async throws -> Int {
        let rows = try await connection.query(
            """
            SELECT (SELECT count(*) FROM tasks WHERE state = 'pending')
                 + (SELECT count(*) FROM tasks WHERE state = 'running') AS n
            """
        )
        return try rows.single?.decode(Int.self, "n") ?? 0
    }

    /// Waits until no task is pending or running; false after `timeout`.
    func waitUntilDrained(timeout: Duration, every interval: Duration = .milliseconds(100)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await unfinished() == 0 { return true }
            try await Task.sleep(for: interval)
        }
        return try await unfinished() == 0
    }

    /// How a set of tasks went, from the database's own timestamps.
    struct Span: Sendable {
        var succeeded: Int
        var failed: Int
        /// From the first claim to the last completion, seconds.
        var seconds: Double
        /// Mean and median time from claim to completion of one task, seconds.
        var meanRunSeconds: Double
        var medianRunSeconds: Double

        var perSecond: Double { seconds > 0 ? Double(succeeded) / seconds : 0 }
    }

    func span(kind: String) async throws -> Span {
        let rows = try await connection.query(
            """
            SELECT count(*) FILTER (WHERE state = 'succeeded') AS ok,
                   count(*) FILTER (WHERE state <> 'succeeded') AS failed,
                   coalesce(extract(epoch FROM max(finished_at) - min(started_at)), 0)::float8 AS seconds,
                   coalesce(avg(extract(epoch FROM finished_at - started_at)), 0)::float8 AS mean_run,
                   coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)),
                            0)::float8 AS median_run
            FROM tasks WHERE kind = \(kind)
            """
        )
        guard let row = rows.single else { throw BenchError("no span") }
        return Span(
            succeeded: try row.decode(Int.self, "ok"), failed: try row.decode(Int.self, "failed"),
            seconds: try row.decode(Double.self, "seconds"), meanRunSeconds: try row.decode(Double.self, "mean_run"),
            medianRunSeconds: try row.decode(Double.self, "median_run")
        )
    }

    /// Enqueue→start latency percentiles (seconds) of succeeded tasks: `started_at - created_at`, both stamped by
    /// the database.
    func startLatencies(kind: String) async throws -> [Double] {
        let rows = try await connection.query(
            """
            SELECT extract(epoch FROM started_at - created_at)::float8 AS latency
            FROM tasks WHERE kind = \(kind) AND state = 'succeeded' ORDER BY 1
            """
        )
        return try rows.map { try $0.decode(Double.self, "latency") }
    }

    /// Rows in `task_events` (to check that events are written).
    func eventCount() async throws -> Int {
        try await connection.query("SELECT count(*) AS n FROM task_events").single?.decode(Int.self, "n") ?? 0
    }

    /// How many of these worker processes have registered (the `workers` row a worker writes as it starts).
    func registeredWorkers(pids: [pid_t]) async throws -> Int {
        let numbers = pids.map { Int($0) }
        return try await connection.query(
            "SELECT count(*) AS n FROM workers WHERE state = 'running' AND pid = ANY (\(numbers)::integer[])"
        ).single?.decode(Int.self, "n") ?? 0
    }

    /// The server's version and the settings that matter for these figures.
    func serverSettings() async throws -> [String: String] {
        var settings: [String: String] = [:]
        let names = [
            "server_version", "fsync", "synchronous_commit", "wal_sync_method", "full_page_writes",
            "shared_buffers", "max_connections", "max_wal_size", "checkpoint_timeout", "wal_level",
        ]
        for name in names {
            let rows = try await connection.query("SELECT current_setting(\(name)) AS value")
            settings[name] = try rows.single?.decode(String.self, "value")
        }
        return settings
    }

    /// CPU seconds the database server has used so far, when it runs on this host.
    func serverCPUSeconds() -> Double? {
        postmaster.flatMap { ProcSample.serverCPUSeconds(postmaster: $0) }
    }
}
