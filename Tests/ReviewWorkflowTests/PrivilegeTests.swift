import Foundation
import PostgresClient
import ReviewStore
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
                let id = try await fixture.queue.enqueue(
                    try reviewTask(ReviewRequest(source: .diff(sampleDiff), repo: "acme/api", prNumber: 1))
                ).id
                var environment = try reviewWorkerEnvironment(fixture)
                environment["DATABASE_URL"] = url
                let worker = try RunningProcess(
                    "queue-worker", ["--instance", "least-privilege"], environment: environment)
                let done = try await eventually(timeout: .seconds(20)) {
                    try await fixture.queue.task(id: id)?.state == .succeeded
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

    @Test("the read-only role reads every table and can write nothing, not even through the queue's functions")
    func readerRole() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.queue.enqueue(task())
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
