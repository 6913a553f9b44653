import Foundation
import PostgresClient
import TaskQueue
import TestSupport
import Testing

/// `stats --json`.
struct StatsJSON: Decodable {
    struct Counts: Decodable, Equatable {
        let queue: String
        let pending: Int
        let ready: Int
        let scheduled: Int
        let running: Int
        let succeeded: Int
        let dead: Int
        let cancelled: Int
        let oldest_ready_seconds: Double?
        let succeeded_last_minute: Int
        let succeeded_last_hour: Int
        let dead_last_minute: Int
        let dead_last_hour: Int
    }
    let queues: [Counts]
    let totals: Counts
    let terminal_counts_estimated: Bool
    let table_rows_estimate: Int?
}

/// `workers --json`.
struct WorkerJSON: Decodable {
    let id: String
    let state: String
    let stale: Bool
    let running: Int
    let concurrency: Int
    let tasks_done: Int
    let queues: [String]
}

/// Seeds a known mix of tasks: per queue, how many are in each state, and when they finished.
func seedStats(_ fixture: QueueFixture) async throws {
    try await fixture.pool.execute(
        """
        INSERT INTO tasks (kind, queue, state, run_after, finished_at, lease_owner, lease_token, lease_expires_at, attempt)
        SELECT 'noop', s.queue, s.state, now() + s.run_in, now() - s.finished_ago,
               CASE WHEN s.state = 'running' THEN 'h1/1/b1' END,
               CASE WHEN s.state = 'running' THEN gen_random_uuid() END,
               CASE WHEN s.state = 'running' THEN now() + interval '1 minute' END,
               CASE WHEN s.state = 'running' THEN 1 ELSE 0 END
        FROM (VALUES
            ('default', 'pending',   interval '-30 seconds', NULL::interval),
            ('default', 'pending',   interval '-10 seconds', NULL),
            ('default', 'pending',   interval '0 seconds',   NULL),
            ('default', 'pending',   interval '1 hour',      NULL),
            ('default', 'pending',   interval '2 hours',     NULL),
            ('default', 'running',   interval '-1 minute',   NULL),
            ('default', 'running',   interval '-1 minute',   NULL),
            ('default', 'succeeded', interval '0 seconds',   interval '10 seconds'),
            ('default', 'succeeded', interval '0 seconds',   interval '20 seconds'),
            ('default', 'succeeded', interval '0 seconds',   interval '30 minutes'),
            ('default', 'succeeded', interval '0 seconds',   interval '2 hours'),
            ('default', 'dead',      interval '0 seconds',   interval '5 seconds'),
            ('default', 'dead',      interval '0 seconds',   interval '3 days'),
            ('default', 'cancelled', interval '0 seconds',   interval '15 seconds'),
            ('bulk',    'pending',   interval '-120 seconds', NULL),
            ('bulk',    'succeeded', interval '0 seconds',   interval '40 minutes'),
            ('bulk',    'succeeded', interval '0 seconds',   interval '41 minutes'),
            ('bulk',    'succeeded', interval '0 seconds',   interval '42 minutes')
        ) AS s(queue, state, run_in, finished_ago)
        """
    )
}

@Suite("queuectl stats, workers, top, migrate", .serialized)
struct StatsTests {
    /// What the seed holds, counted by hand.
    static let expectedDefault = (
        pending: 5, ready: 3, scheduled: 2, running: 2, succeeded: 4, dead: 2, cancelled: 1,
        succeededMinute: 2, succeededHour: 3, deadMinute: 1, deadHour: 1
    )
    static let expectedBulk = (
        pending: 1, ready: 1, scheduled: 0, running: 0, succeeded: 3, dead: 0, cancelled: 0,
        succeededMinute: 0, succeededHour: 3, deadMinute: 0, deadHour: 0
    )

    static func check(
        _ counts: StatsJSON.Counts?,
        _ expected: (
            pending: Int, ready: Int, scheduled: Int, running: Int,
            succeeded: Int, dead: Int, cancelled: Int, succeededMinute: Int, succeededHour: Int, deadMinute: Int,
            deadHour: Int
        ),
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let counts else {
            Issue.record("missing queue", sourceLocation: sourceLocation)
            return
        }
        #expect(counts.pending == expected.pending, sourceLocation: sourceLocation)
        #expect(counts.ready == expected.ready, sourceLocation: sourceLocation)
        #expect(counts.scheduled == expected.scheduled, sourceLocation: sourceLocation)
        #expect(counts.running == expected.running, sourceLocation: sourceLocation)
        #expect(counts.succeeded == expected.succeeded, sourceLocation: sourceLocation)
        #expect(counts.dead == expected.dead, sourceLocation: sourceLocation)
        #expect(counts.cancelled == expected.cancelled, sourceLocation: sourceLocation)
        #expect(counts.succeeded_last_minute == expected.succeededMinute, sourceLocation: sourceLocation)
        #expect(counts.succeeded_last_hour == expected.succeededHour, sourceLocation: sourceLocation)
        #expect(counts.dead_last_minute == expected.deadMinute, sourceLocation: sourceLocation)
        #expect(counts.dead_last_hour == expected.deadHour, sourceLocation: sourceLocation)
    }

    @Test("stats: exact counts per queue and state, oldest ready wait, throughput over the last minute and hour")
    func exactStats() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            try await seedStats(fixture)
            let stats = try await cli.json(StatsJSON.self, ["stats"])
            #expect(!stats.terminal_counts_estimated)
            #expect(stats.queues.map(\.queue) == ["bulk", "default"])
            Self.check(stats.queues.first { $0.queue == "default" }, Self.expectedDefault)
            Self.check(stats.queues.first { $0.queue == "bulk" }, Self.expectedBulk)
            #expect(stats.totals.pending == 6)
            #expect(stats.totals.succeeded == 7)
            #expect(stats.totals.succeeded_last_hour == 6)
            let defaultOldest = try #require(stats.queues.first { $0.queue == "default" }?.oldest_ready_seconds)
            #expect(defaultOldest >= 30 && defaultOldest < 45, "\(defaultOldest)")
            let oldest = try #require(stats.totals.oldest_ready_seconds)
            #expect(oldest >= 120 && oldest < 135, "the oldest of all queues: \(oldest)")

            let text = try await cli.run(["stats"])
            #expect(text.status == 0)
            let lines = text.standardOutput.split(separator: "\n")
            #expect(lines.first?.hasPrefix("QUEUE") == true)
            let defaultRow = try #require(lines.first { $0.hasPrefix("default ") }).split(separator: " ")
            #expect(Array(defaultRow.prefix(8)) == ["default", "5", "3", "2", "2", "4", "2", "1"])
            #expect(lines.contains { $0.hasPrefix("all ") })
            #expect(
                text.standardOutput.contains(
                    "succeeded: 2 in the last minute (2.0/min), 6 in the last hour (0.10/min)\ndead: "))
            #expect(text.standardOutput.contains("oldest ready task has waited 2m"))
            #expect(!text.standardOutput.contains("~"))
        }
    }

    @Test("stats above --estimate-above estimates finished counts from the statistics (marked ~); --exact counts")
    func estimatedStats() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            try await seedStats(fixture)
            // 200 more old successes, so that an estimate off by a few percent shows.
            try await fixture.pool.execute(
                """
                INSERT INTO tasks (kind, queue, state, finished_at)
                SELECT 'noop', 'bulk', 'succeeded', now() - interval '2 days' FROM generate_series(1, 200)
                """
            )
            var bulk = Self.expectedBulk
            bulk.succeeded += 200
            // Before ANALYZE the table has no statistics: exact counts, not a guess.
            #expect(
                try await cli.json(StatsJSON.self, ["stats", "--estimate-above", "5"]).terminal_counts_estimated
                    == false)
            try await fixture.pool.execute("ANALYZE tasks")
            let estimated = try await cli.json(StatsJSON.self, ["stats", "--estimate-above", "5"])
            #expect(estimated.terminal_counts_estimated)
            #expect(estimated.table_rows_estimate == 218)
            // The table is small enough for ANALYZE to read every row: the estimates equal the real counts.
            Self.check(estimated.queues.first { $0.queue == "default" }, Self.expectedDefault)
            Self.check(estimated.queues.first { $0.queue == "bulk" }, bulk)
            let text = try await cli.run(["stats", "--estimate-above", "5"])
            #expect(text.standardOutput.contains("~4"))
            #expect(text.standardOutput.contains("~203"))
            #expect(
                text.standardOutput.contains("~ estimated from planner statistics: the tasks table has about 218 rows"))
            #expect(
                try await cli.json(StatsJSON.self, ["stats", "--estimate-above", "5", "--exact"])
                    .terminal_counts_estimated == false)
            #expect(
                try await cli.json(StatsJSON.self, ["stats"]).terminal_counts_estimated == false, "218 rows < 1,000,000"
            )

            // A role that may only read the schema (like agentqueue_reader) gets the same estimates: PostgreSQL shows
            // extended statistics only to the table's owner, so they come through queuectl_state_estimates().
            let role = "qc_reader_" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
            try await fixture.pool.withConnection { connection in
                try await connection.simpleQuery(
                    """
                    CREATE ROLE \(role) LOGIN;
                    GRANT USAGE ON SCHEMA \(fixture.schema.name) TO \(role);
                    GRANT SELECT ON ALL TABLES IN SCHEMA \(fixture.schema.name) TO \(role);
                    """
                )
            }
            let outcome: Result<Void, any Error>
            do {
                let asReader = try await runQueuectl(
                    ["stats", "--estimate-above", "5", "--json"],
                    environment: ["DATABASE_URL": try fixture.url + "&user=\(role)"]
                )
                #expect(asReader.status == 0, "\(asReader.standardError)")
                let readerStats = try decodeJSON(StatsJSON.self, asReader.standardOutput)
                #expect(readerStats.terminal_counts_estimated)
                Self.check(readerStats.queues.first { $0.queue == "bulk" }, bulk)
                let direct = try await runQueuectl(
                    ["list", "--limit", "1"], environment: ["DATABASE_URL": try fixture.url + "&user=\(role)"]
                )
                #expect(direct.status == 0, "the reader can read tasks: \(direct.standardError)")
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            try await fixture.pool.withConnection { connection in
                try await connection.simpleQuery("DROP OWNED BY \(role); DROP ROLE \(role);")
            }
            try outcome.get()

            // Stale statistics stay estimates: a new succeeded task is not in them until the next ANALYZE.
            try await fixture.pool.execute(
                "INSERT INTO tasks (kind, state, finished_at) VALUES ('noop', 'succeeded', now())")
            let stale = try await cli.json(StatsJSON.self, ["stats", "--estimate-above", "5"])
            #expect(stale.queues.first { $0.queue == "default" }?.succeeded == 4)
            #expect(
                try await cli.json(StatsJSON.self, ["stats", "--exact"]).queues.first { $0.queue == "default" }?
                    .succeeded == 5)
        }
    }

    @Test("stats warns about ready tasks in a queue no live worker serves (a stale worker does not count)")
    func unservedQueues() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            for queue in ["default", "bulk", "bulk"] {
                _ = try await fixture.pool.run(try EnqueueTask(task(queue: queue)))
            }
            func register(_ id: String, queues: String, heartbeat: String) async throws {
                try await fixture.pool.execute(
                    """
                    INSERT INTO workers (id, host, instance, boot_id, pid, version, queues, concurrency,
                                         heartbeat_interval, state, tasks_done, tasks_failed, started_at, heartbeat_at)
                    VALUES (\(id), 'h', \(id), gen_random_uuid(), 1, '0.1.0', \(queues)::text[], 4, '5 seconds',
                            'running', 0, 0, now() - interval '1 hour', now() - \(heartbeat)::interval)
                    """)
            }
            try await register("h/1/a", queues: "{default}", heartbeat: "0 seconds")
            try await register("h/2/b", queues: "{bulk}", heartbeat: "10 minutes")  // stale: lost
            struct Stats: Decodable { let unserved_queues: [String]? }
            #expect(try await cli.json(Stats.self, ["stats"]).unserved_queues == ["bulk"])
            let text = try await cli.run(["stats"])
            #expect(
                text.standardOutput.contains(
                    "warning: 2 ready tasks in queue bulk, which no live worker serves: add it to a worker's WORKER_QUEUES"
                ),
                "\(text.standardOutput)")
            #expect(!text.standardOutput.contains("queue default, which"))
            try await register("h/3/c", queues: "{bulk,default}", heartbeat: "0 seconds")
            #expect(try await cli.json(Stats.self, ["stats"]).unserved_queues == [])
            #expect(!(try await cli.run(["stats"])).standardOutput.contains("warning:"))
        }
    }

    @Test(
        "tables fit an 80-column terminal (long ids cut in the middle, notes at the end), and are never cut when piped")
    func terminalWidth() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            let worker = "build-host-7/queue-worker-12/0f9c2a5e-8d4b-4c61-9e3a-7b2d5f1c8a90"
            try await fixture.pool.execute(
                """
                INSERT INTO workers (id, host, instance, boot_id, pid, version, queues, concurrency, heartbeat_interval,
                                     state, tasks_done, tasks_failed, started_at, heartbeat_at)
                VALUES (\(worker), 'build-host-7', 'queue-worker-12', gen_random_uuid(), 4242, '0.1.0', '{default,bulk}',
                        4, '5 seconds', 'running', 12345, 67, now() - interval '3 hours', now())
                """)
            let message =
                "the model provider answered 503 Service Unavailable three times in a row; giving up on this "
                + "attempt after 90 seconds"
            let id = try await fixture.pool.run(try EnqueueTask(task(payload: "{}", maxAttempts: 1))).id
            let claimed = try await claimNext(fixture)
            #expect(claimed.record.id == id)
            _ = try await fixture.pool.run(FailTask(claimed.lease, message: message, retry: RetryPolicy()))

            for command in [["list"], ["workers"], ["stats"], ["migrate", "--status"]] {
                let narrow = try await cli.run(command, environment: ["COLUMNS": "80"], terminal: true)
                #expect(narrow.status == 0, "\(narrow.standardError)")
                // Colour codes take no columns: the visible text must fit.
                let visible = narrow.standardOutput.replacing(/\x1B\[[0-9;]*m/, with: "")
                let lines = visible.split(separator: "\n")
                #expect(lines.allSatisfy { $0.count <= 80 }, "\(command): \(narrow.standardOutput)")
                let wide = try await cli.run(command, environment: ["COLUMNS": "200"], terminal: true)
                let piped = try await cli.run(command, environment: ["COLUMNS": "80"])
                if command == ["stats"] || command == ["migrate", "--status"] {
                    // Nothing to cut but columns (stats: SCHEDULED, CANCELLED and the hourly ones) or the middle of
                    // a migration's name; piped, all of them.
                    #expect(piped.standardOutput.contains("DEAD/1H") || piped.standardOutput.contains("_"))
                } else if command == ["workers"] {
                    // The id keeps both ends; the version, pid and failure count are left out before it shrinks more.
                    #expect(visible.contains("build-host"), "\(narrow.standardOutput)")
                    #expect(visible.contains("…") && visible.contains("c8a90"))
                    #expect(wide.standardOutput.contains(worker))
                    #expect(piped.standardOutput.contains(worker))
                } else {
                    #expect(visible.contains("the model provider"), "\(narrow.standardOutput)")
                    #expect(!visible.contains("90 seconds"))
                    // On a terminal the state is coloured, unless NO_COLOR or --color never says otherwise; piped,
                    // never (unless --color always).
                    #expect(narrow.standardOutput.contains("\u{1B}[31mdead\u{1B}[0m"), "\(narrow.standardOutput)")
                    let plain = try await cli.run(command, environment: ["NO_COLOR": "1"], terminal: true)
                    #expect(!plain.standardOutput.contains("\u{1B}") && plain.standardOutput.contains("dead"))
                    let never = try await cli.run(["--color", "never"] + command, terminal: true)
                    #expect(!never.standardOutput.contains("\u{1B}"))
                    #expect(!piped.standardOutput.contains("\u{1B}"))
                    let forced = try await cli.run(command + ["--color=always"])
                    #expect(forced.standardOutput.contains("\u{1B}[31mdead\u{1B}[0m"), "\(forced.standardOutput)")
                    // A terminal still cuts a note at 60 characters; a pipe gets all of it.
                    #expect(!wide.standardOutput.contains("90 seconds"))
                    #expect(piped.standardOutput.contains(message), "\(piped.standardOutput)")
                }
            }
        }
    }

    @Test("workers: the registry with running tasks per worker; stale workers flagged; stopped ones with --all")
    func workers() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            #expect(try await cli.run(["workers"]).standardOutput.contains("no workers registered"))
            try await fixture.pool.execute(
                """
                INSERT INTO workers (id, host, instance, boot_id, pid, version, queues, concurrency, heartbeat_interval,
                                     state, tasks_done, tasks_failed, started_at, heartbeat_at, stopped_at)
                VALUES ('h1/1/b1', 'h1', '1', gen_random_uuid(), 101, '0.1.0', '{default}', 4, '5 seconds', 'running',
                        10, 1, now() - interval '1 hour', now(), NULL),
                       ('h1/2/b2', 'h1', '2', gen_random_uuid(), 102, '0.1.0', '{default,bulk}', 2, '5 seconds', 'running',
                        3, 0, now() - interval '2 hours', now() - interval '1 minute', NULL),
                       ('h2/1/b3', 'h2', '1', gen_random_uuid(), 201, '0.1.0', '{default}', 4, '5 seconds', 'stopped',
                        7, 2, now() - interval '3 hours', now() - interval '2 hours', now() - interval '2 hours')
                """
            )
            try await seedStats(fixture)  // two running tasks held by h1/1/b1
            let listed = try await cli.json([WorkerJSON].self, ["workers"])
            #expect(listed.map(\.id) == ["h1/1/b1", "h1/2/b2"])
            #expect(listed.map(\.stale) == [false, true])
            #expect(listed.map(\.running) == [2, 0])
            #expect(listed.map(\.tasks_done) == [10, 3])
            #expect(listed[1].queues == ["default", "bulk"])
            let all = try await cli.json([WorkerJSON].self, ["workers", "--all"])
            #expect(all.map(\.id) == ["h1/1/b1", "h1/2/b2", "h2/1/b3"])
            #expect(all.last?.stale == false, "a stopped worker is not stale")

            let text = try await cli.run(["workers"])
            #expect(text.status == 0)
            #expect(text.standardOutput.contains("h1/2/b2  lost"))
            #expect(text.standardOutput.contains("2/4"))
            #expect(text.standardOutput.contains("2 workers: 1 running, 1 lost, 2 tasks running (lost: no heartbeat"))
        }
    }

    @Test("top prints one snapshot when standard output is not a terminal, and JSON with --json")
    func topSnapshot() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            try await seedStats(fixture)
            let output = try await cli.run(["top"], timeout: .seconds(20))
            #expect(output.status == 0, "\(output.standardError)")
            #expect(output.standardOutput.hasPrefix("queuectl top · postgresql://"))
            #expect(output.standardOutput.contains("QUEUE"))
            #expect(output.standardOutput.contains("oldest ready task has waited 2m"))
            #expect(output.standardOutput.contains("no workers registered"))
            #expect(!output.standardOutput.contains("\u{1B}"), "no terminal control sequences in a pipe")

            struct Snapshot: Decodable {
                let stats: StatsJSON
                let workers: [WorkerJSON]
            }
            let snapshot = try await cli.json(Snapshot.self, ["top"])
            StatsTests.check(snapshot.stats.queues.first { $0.queue == "default" }, Self.expectedDefault)
            #expect(snapshot.workers.isEmpty)
        }
    }

    @Test(
        "top on a terminal redraws in place until q (or Ctrl-C) and restores the terminal", arguments: ["q", "\u{03}"])
    func topLive(key: String) async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            try await seedStats(fixture)
            let started = ContinuousClock.now
            let result = try await runOnTerminal(
                "\(shellQuote(TestProcesses.executable("queuectl"))) top --interval 200ms",
                environment: ["DATABASE_URL": try fixture.url], keys: key, delay: .milliseconds(1500)
            )
            #expect(result.status == 0, "\(result.output.debugDescription)")
            #expect(ContinuousClock.now - started < .seconds(15))
            #expect(result.output.contains("\u{1B}[?1049h"), "alternate screen")
            #expect(result.output.contains("\u{1B}[?1049l"), "the terminal is restored")
            #expect(result.output.contains("\u{1B}[?25h"), "the cursor is shown again")
            let frames = result.output.components(separatedBy: "queuectl top · ").count - 1
            #expect(frames >= 3, "\(frames) frames")
            #expect(result.output.contains("q or Ctrl-C quits"))
        }
    }

    @Test("migrate applies the schema (with the queuectl statistics) and --status lists it")
    func migrate() async throws {
        try await TestDatabase.withSchema { schema in
            let base = try TestDatabase.url
            let url = "\(base)\(base.contains("?") ? "&" : "?")options=-csearch_path%3D\(schema.name)"
            let output = try await runQueuectl(["migrate"], environment: ["DATABASE_URL": url])
            #expect(output.status == 0, "\(output.standardError)")
            #expect(output.standardOutput.contains("applied 003_queuectl_stats.sql"))
            #expect(output.standardOutput.hasSuffix("schema is at version \(Migrator.latestVersion)\n"))
            struct Status: Decodable {
                let version: Int
                let state: String
            }
            let status = try await runQueuectl(["migrate", "--status", "--json"], environment: ["DATABASE_URL": url])
            let statuses = try decodeJSON([Status].self, status.standardOutput)
            #expect(statuses.map(\.version) == Array(1...Migrator.latestVersion))
            #expect(statuses.allSatisfy { $0.state == "applied" })
            let again = try await runQueuectl(["migrate"], environment: ["DATABASE_URL": url])
            #expect(again.standardOutput == "schema is up to date (version \(Migrator.latestVersion))\n")

            // Queries on a schema that was never migrated say what to do.
            try await TestDatabase.withSchema { empty in
                let emptyURL = "\(base)\(base.contains("?") ? "&" : "?")options=-csearch_path%3D\(empty.name)"
                let list = try await runQueuectl(["list"], environment: ["DATABASE_URL": emptyURL])
                expectError(list, status: 1, containing: "run `queuectl migrate`")
            }
        }
    }
}
