import DiffSources
import Foundation
import PostgresClient
import ReviewStore
import ReviewWorkflow
import TaskQueue
import TestSupport
import Testing
import WorkerDaemon

/// A login role that belongs to a group role, dropped afterwards; `body` gets a URL that logs in as it.
func withLoginRole(
    in group: String,
    fixture: QueueFixture,
    _ body: (String) async throws -> Void
) async throws {
    let name = "aq_test_\(group.replacing("agentqueue_", with: ""))_\(UInt32.random(in: 0...UInt32.max))"
    try await fixture.pool.execute(
        PostgresQuery(unsafeSQL: "CREATE ROLE \(PostgresQuery.quoteIdentifier(name)) LOGIN IN ROLE \(group)"))
    do {
        let base = try fixture.url
        // Replace the user of the test server's URL (postgresql://postgres@host:port/db?…).
        let url = base.replacing("://postgres@", with: "://\(name)@")
        try await body(url)
    } catch {
        try? await dropRole(name, fixture: fixture)
        throw error
    }
    try await dropRole(name, fixture: fixture)
}

private func dropRole(_ name: String, fixture: QueueFixture) async throws {
    try await fixture.pool.execute(PostgresQuery(unsafeSQL: "DROP OWNED BY \(PostgresQuery.quoteIdentifier(name))"))
    try await fixture.pool.execute(PostgresQuery(unsafeSQL: "DROP ROLE \(PostgresQuery.quoteIdentifier(name))"))
}

func connection(_ url: String) async throws -> PostgresConnection {
    try await PostgresConnection.connect(
        configuration: try PostgresConfiguration(connectionString: url), logger: TestDatabase.logger)
}

@Suite("least privilege", .serialized)
struct PrivilegeTests {
    @Test("the worker role runs real reviews but cannot DROP, ALTER, TRUNCATE, DELETE or rewrite tasks")
    func workerRole() async throws {
        try await QueueFixture.with { fixture in
            try await withLoginRole(in: "agentqueue_worker", fixture: fixture) { url in
                // A real worker process logged in as the worker role does a real review.
                let id = try await fixture.pool.run(
                    try EnqueueTask(
                        try reviewTask(ReviewRequest(source: .diff(sampleDiff), repo: "acme/api", prNumber: 1))
                    )
                ).id
                var environment = try reviewWorkerEnvironment(fixture)
                environment["DATABASE_URL"] = url
                let worker = try RunningProcess(
                    "queue-worker", ["--instance", "least-privilege"], environment: environment)
                let done = try await eventually(timeout: .seconds(20)) {
                    try await fixture.pool.run(FetchTask(id: id))?.state == .succeeded
                }
                #expect(done, "\(worker.log)")
                worker.send(SIGTERM)
                #expect(await worker.waitForExit() == 0, "\(worker.log)")
                #expect(
                    try await fixture.scalar(Int.self, "SELECT count(*) FROM review_history WHERE task_id = \(id)") == 1
                )
                #expect(
                    try await fixture.scalar(
                        String.self, "SELECT state FROM workers WHERE instance = 'least-privilege'") == "stopped")

                let session = try await connection(url)
                defer { Task { await session.close() } }
                for statement in [
                    "DROP TABLE tasks",
                    "ALTER TABLE tasks ADD COLUMN sneaky int",
                    "TRUNCATE tasks",
                    "DELETE FROM tasks",
                    "UPDATE tasks SET state = 'succeeded'",
                    "DROP FUNCTION claim_task(text, text[], integer, interval)",
                    "DELETE FROM review_history",
                    "UPDATE review_history SET verdict_status = 'approved'",
                    "INSERT INTO tasks (kind) VALUES ('noop')",
                    "SELECT agentqueue_grant_roles()",
                ] {
                    let error = await #expect(throws: PostgresError.self, "\(statement)") {
                        try await session.simpleQuery(statement)
                    }
                    #expect(error?.sqlState == "42501", "\(statement): \(error.map { "\($0)" } ?? "no error")")
                }
            }
        }
    }

    @Test(
        "after migrate every function a worker or operator may run runs with its owner's rights; nothing else is granted"
    )
    func grantsRule() async throws {
        try await QueueFixture.with { fixture in
            // Every function the two roles may execute: SECURITY DEFINER with a pinned search_path.
            let rows = try await fixture.pool.query(
                """
                SELECT p.oid::regprocedure::text AS function, p.prosecdef AS definer,
                       coalesce(array_to_string(p.proconfig, ','), '') AS config,
                       has_function_privilege('agentqueue_worker', p.oid, 'EXECUTE') AS worker,
                       has_function_privilege('agentqueue_operator', p.oid, 'EXECUTE') AS operator,
                       has_function_privilege('agentqueue_webhook', p.oid, 'EXECUTE') AS webhook
                FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace
                """
            )
            var workerFunctions: Set<String> = []
            var operatorFunctions: Set<String> = []
            var webhookFunctions: Set<String> = []
            for row in rows {
                let function = try row.decode(String.self, "function")
                let worker = try row.decode(Bool.self, "worker")
                let op = try row.decode(Bool.self, "operator")
                let webhook = try row.decode(Bool.self, "webhook")
                let name = String(function.prefix { $0 != "(" })
                if worker { workerFunctions.insert(name) }
                if op { operatorFunctions.insert(name) }
                if webhook { webhookFunctions.insert(name) }
                if worker || op || webhook {
                    #expect(try row.decode(Bool.self, "definer"), "\(function) is not SECURITY DEFINER")
                    let config = try row.decode(String.self, "config")
                    #expect(config.hasPrefix("search_path=") && config.hasSuffix("pg_temp"), "\(function): \(config)")
                }
            }
            #expect(
                workerFunctions == [
                    "claim_task", "heartbeat_tasks", "complete_tasks", "fail_task", "release_task",
                    "finish_cancelled_task", "rescue_tasks", "write_checkpoints", "lock_task_lease", "record_review",
                    "register_worker", "update_worker", "queuectl_state_estimates",
                ])
            #expect(
                operatorFunctions == [
                    "enqueue_task", "enqueue_tasks", "cancel_task", "retry_task", "cancel_tasks_matching",
                    "retry_tasks_matching", "pause_queue", "resume_queue", "lock_task_states", "prune_tasks",
                    "queuectl_state_estimates",
                ])
            #expect(
                webhookFunctions == [
                    "accept_review_request", "cancel_pull_request_reviews", "queuectl_state_estimates",
                ])
            // Tables: the worker and operator roles read; nobody writes, locks or references anything directly.
            let tables = try await fixture.pool.query(
                """
                SELECT c.relname AS name,
                       has_table_privilege('agentqueue_worker', c.oid, 'SELECT') AS worker_reads,
                       has_table_privilege('agentqueue_worker', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                           OR has_any_column_privilege('agentqueue_worker', c.oid, 'INSERT, UPDATE, REFERENCES')
                           AS worker_writes,
                       has_table_privilege('agentqueue_operator', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                           OR has_any_column_privilege('agentqueue_operator', c.oid, 'INSERT, UPDATE, REFERENCES')
                           AS operator_writes,
                       has_table_privilege('agentqueue_webhook', c.oid, 'SELECT') AS webhook_reads,
                       has_table_privilege('agentqueue_webhook', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                           OR has_any_column_privilege('agentqueue_webhook', c.oid, 'INSERT, UPDATE, REFERENCES')
                           AS webhook_writes
                FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'v', 'p')
                """
            )
            var workerReads: Set<String> = []
            var webhookReads: Set<String> = []
            for row in tables {
                let name = try row.decode(String.self, "name")
                #expect(try !row.decode(Bool.self, "worker_writes"), "the worker role may write \(name)")
                #expect(try !row.decode(Bool.self, "operator_writes"), "the operator role may write \(name)")
                #expect(try !row.decode(Bool.self, "webhook_writes"), "the webhook role may write \(name)")
                if try row.decode(Bool.self, "worker_reads") { workerReads.insert(name) }
                if try row.decode(Bool.self, "webhook_reads") { webhookReads.insert(name) }
            }
            #expect(
                workerReads == [
                    "tasks", "task_checkpoints", "workers", "workers_status", "schema_migrations", "schema_functions",
                    "review_history", "findings", "publications",
                ])
            #expect(webhookReads == ["schema_migrations", "schema_functions"])
        }
    }

    @Test("a CREATE OR REPLACE that drops SECURITY DEFINER is repaired by the next migrate")
    func grantsRepaired() async throws {
        try await QueueFixture.with { fixture in
            // As a hand-made hotfix would: the current body again, without the function's rights.
            let file = try #require(Migrator.bundledFunctions.first { $0.name == "complete_tasks.sql" })
            try await fixture.pool.withConnection { try await $0.simpleQuery(file.sql) }
            try await fixture.pool.execute("DELETE FROM schema_functions WHERE name = 'complete_tasks.sql'")
            let definer =
                "SELECT prosecdef FROM pg_proc WHERE oid = 'complete_tasks(bigint[], uuid[], jsonb[])'::regprocedure"
            #expect(try await fixture.scalar(Bool.self, PostgresQuery(unsafeSQL: definer)) == false)
            let report = try await fixture.pool.withConnection {
                try await Migrator(logger: TestDatabase.logger).migrate(on: $0)
            }
            #expect(report.functions == ["complete_tasks.sql"])
            #expect(report.grants == "granted")
            #expect(try await fixture.scalar(Bool.self, PostgresQuery(unsafeSQL: definer)) == true)
        }
    }

    @Test("the worker role cannot write a result for a task it holds no lease on, lock tasks, or take a long lease")
    func workerCannotForge() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.pool.run(try EnqueueTask(task()))
            try await withLoginRole(in: "agentqueue_worker", fixture: fixture) { url in
                let session = try await connection(url)
                defer { Task { await session.close() } }
                for statement in [
                    "INSERT INTO review_history (task_id, review_verdict, verdict_status, execution_time_ms) VALUES (1, 'x', 'approved', 1)",
                    "INSERT INTO findings (review_id, task_id, agent, rule_id, severity, path, message, fingerprint) VALUES (1, 1, 'security', 'r', 'low', 'p', 'm', 'f')",
                    "UPDATE workers SET state = 'stopped'",
                    "UPDATE pull_requests SET last_head_sha = 'x'",
                    "SELECT id FROM tasks FOR UPDATE",
                ] {
                    let error = await #expect(throws: PostgresError.self, "\(statement)") {
                        try await session.simpleQuery(statement)
                    }
                    #expect(error?.sqlState == "42501", "\(statement): \(error.map { "\($0)" } ?? "no error")")
                }
                // The fenced function writes nothing without the task's lease.
                let forged = try await session.query(
                    """
                    SELECT record_review(1, gen_random_uuid(),
                        '{"verdict_status": "approved", "summary": "forged", "execution_time_ms": 1}'::jsonb) AS id
                    """
                )
                #expect(try forged.single?.decode(Int64?.self, "id") == nil)
                #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM review_history") == 0)
                // Leases are bounded.
                for lease in ["100 years", "0 seconds", "-1 minute"] {
                    let error = await #expect(throws: PostgresError.self, "\(lease)") {
                        try await session.query(
                            "SELECT * FROM claim_task('forger', '{default}', 1, \(lease)::interval)")
                    }
                    #expect(error?.sqlState == "22023", "\(lease): \(error.map { "\($0)" } ?? "no error")")
                }
                #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state = 'pending'") == 1)
            }
        }
    }

    @Test("the operator role enqueues, cancels, retries and prunes through the queue's functions, and claims nothing")
    func operatorRole() async throws {
        try await QueueFixture.with { fixture in
            try await withLoginRole(in: "agentqueue_operator", fixture: fixture) { url in
                let session = try await connection(url)
                defer { Task { await session.close() } }
                let id = try await session.run(try EnqueueTask(task())).id
                #expect(try await session.run(CancelTask(id: id)) == .cancelled)
                #expect(try await session.run(RetryTask(id: id)) == .pending)
                // What queuectl cancel and retry do: lock the rows first (all or nothing), then act.
                let pool = PostgresConnectionPool(
                    connection: try PostgresConfiguration(connectionString: url), pool: .init(maximumConnections: 1),
                    logger: TestDatabase.logger)
                let client = QueueClient(pool: pool)
                let cancelled = try await client.cancel(ids: [id])
                #expect(cancelled.map(\.id) == [id])
                #expect(try await client.retry(ids: [id]).map(\.id) == [id])
                await pool.close()
                #expect(
                    try await session.run(PruneTasks(olderThan: .seconds(3600), states: [.dead], batchSize: 10)) == 0)
                _ = try await session.run(ListTasks(states: [], queue: nil, kind: nil, limit: 10, oldestFirst: false))
                for statement in [
                    "UPDATE tasks SET priority = 5",
                    "DELETE FROM tasks",
                    "SELECT * FROM claim_task('operator', '{default}', 1, '1 minute')",
                    "SELECT lock_task_lease(1, gen_random_uuid())",
                ] {
                    let error = await #expect(throws: PostgresError.self, "\(statement)") {
                        try await session.simpleQuery(statement)
                    }
                    #expect(error?.sqlState == "42501", "\(statement): \(error.map { "\($0)" } ?? "no error")")
                }
            }
        }
    }

    @Test("the webhook role records deliveries and enqueues or cancels reviews, and reads or claims nothing")
    func webhookRole() async throws {
        try await QueueFixture.with { fixture in
            try await withLoginRole(in: "agentqueue_webhook", fixture: fixture) { url in
                let session = try await connection(url)
                defer { Task { await session.close() } }
                let request = ReviewRequest(
                    source: .pullRequest(url: "https://github.com/acme/api/pull/7"), repo: "acme/api", prNumber: 7,
                    headSHA: "0123456789abcdef0123456789abcdef01234567")
                let accepted = try await session.run(
                    try AcceptReviewRequest(
                        delivery: "d-1", event: "pull_request", action: "opened", repo: "acme/api", number: 7,
                        headSHA: request.headSHA, task: try reviewTask(request), supersede: true))
                #expect(accepted.outcome == .enqueued)
                let again = try await session.run(
                    try AcceptReviewRequest(
                        delivery: "d-1", event: "pull_request", action: "opened", repo: "acme/api", number: 7,
                        headSHA: request.headSHA, task: try reviewTask(request), supersede: true))
                #expect(again.outcome == .redelivery && again.taskID == accepted.taskID)
                let closed = try await session.run(
                    CancelPullRequestReviews(
                        delivery: "d-2", event: "pull_request", action: "closed", repo: "acme/api", number: 7))
                #expect(closed.redelivery == false && closed.cancelled == 1)
                for statement in [
                    "SELECT count(*) FROM tasks",
                    "SELECT count(*) FROM webhook_deliveries",
                    "INSERT INTO webhook_deliveries (delivery_id, event, outcome) VALUES ('x', 'ping', 'enqueued')",
                    "SELECT * FROM enqueue_task('noop')",
                    "SELECT cancel_task(1)",
                    "SELECT * FROM claim_task('webhook', '{default}', 1, '1 minute')",
                ] {
                    let error = await #expect(throws: PostgresError.self, "\(statement)") {
                        try await session.simpleQuery(statement)
                    }
                    #expect(error?.sqlState == "42501", "\(statement): \(error.map { "\($0)" } ?? "no error")")
                }
            }
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM webhook_deliveries") == 2)
            #expect(try await fixture.scalar(String.self, "SELECT state FROM tasks") == "cancelled")
        }
    }

    @Test("the read-only role reads every table and can write nothing, not even through the queue's functions")
    func readerRole() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.pool.run(try EnqueueTask(task()))
            try await withLoginRole(in: "agentqueue_reader", fixture: fixture) { url in
                let session = try await connection(url)
                defer { Task { await session.close() } }
                for table in [
                    "tasks", "task_events", "workers", "review_history", "findings", "agent_performance",
                    "task_checkpoints", "pull_requests",
                ] {
                    _ = try await session.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"))
                }
                #expect(try await session.query("SELECT count(*) AS n FROM tasks").single?.decode(Int.self, "n") == 1)
                for statement in [
                    "INSERT INTO tasks (kind) VALUES ('noop')",
                    "UPDATE tasks SET priority = 5",
                    "DELETE FROM tasks",
                    "TRUNCATE findings",
                    "SELECT * FROM enqueue_task('noop')",
                    "SELECT * FROM claim_task('reader', '{default}', 1, '1 minute')",
                    "SELECT cancel_task(1)",
                    "SELECT prune_tasks('0 seconds', '{succeeded}', 10)",
                    "INSERT INTO review_history (task_id, review_verdict, verdict_status, execution_time_ms) VALUES (1, 'x', 'approved', 1)",
                ] {
                    let error = await #expect(throws: PostgresError.self, "\(statement)") {
                        try await session.simpleQuery(statement)
                    }
                    #expect(error?.sqlState == "42501", "\(statement): \(error.map { "\($0)" } ?? "no error")")
                }
                #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state = 'pending'") == 1)
            }
        }
    }

    @Test("worker sessions run with statement_timeout and idle_in_transaction_session_timeout")
    func sessionTimeouts() async throws {
        try await QueueFixture.with { fixture in
            let configuration = try WorkerConfiguration(settings: ["DATABASE_URL": try fixture.url], instance: "probe")
                .database
            let session = try await PostgresConnection.connect(
                configuration: configuration, logger: TestDatabase.logger)
            defer { Task { await session.close() } }
            #expect(try await session.query("SHOW statement_timeout").single?.decode(String.self, at: 0) == "1min")
            #expect(
                try await session.query("SHOW idle_in_transaction_session_timeout").single?.decode(String.self, at: 0)
                    == "1min")
            let error = await #expect(throws: PostgresError.self) {
                try await session.simpleQuery("SET statement_timeout = '100ms'; SELECT pg_sleep(2)")
            }
            #expect(error?.sqlState == "57014")
        }
    }
}
