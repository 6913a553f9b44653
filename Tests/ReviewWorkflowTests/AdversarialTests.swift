import DiffSources
import Foundation
import PostgresClient
import ReviewWorkflow
import TaskQueue
import TestSupport
import Testing

/// A diff adding one file of `lines` lines in a single hunk (a lockfile, generated code).
func oneHunkDiff(lines: Int) -> String {
    var text =
        "diff --git a/gen.py b/gen.py\nnew file mode 100644\n--- /dev/null\n+++ b/gen.py\n@@ -0,0 +1,\(lines) @@\n"
    text.reserveCapacity(lines * 24)
    for index in 0..<lines { text += "+value_\(index) = compute(\(index), data[\(index)])\n" }
    return text
}

/// The reproductions of an adversarial run against a real worker (issue: nine defects). Each was a defect; each test
/// fails on the code before the fix.
@Suite("adversarial reproductions", .serialized)
struct AdversarialTests {
    @Test("SIGTERM hands back two CPU-heavy reviews within the grace period; nothing is recorded twice")
    func sigtermDuringHeavyReviews() async throws {
        try await QueueFixture.with { fixture in
            // Two reviews of a 300,000-line hunk: seconds of agent CPU each on a 2-core host.
            let diff = oneHunkDiff(lines: 300_000)
            let ids = try await fixture.pool.run(
                try EnqueueTasks(
                    (1...2).map { number in
                        try reviewTask(ReviewRequest(source: .diff(diff), repo: "acme/big", prNumber: number))
                    })
            ).map(\.id)
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "heavy"],
                environment: try reviewWorkerEnvironment(
                    fixture, ["WORKER_CONCURRENCY": "2", "WORKER_SHUTDOWN_GRACE_SECONDS": "1", "LOG_LEVEL": "debug"]))
            // Both reviews are past fetch_diff: their agents are at work.
            let busy = try await eventually(timeout: .seconds(120)) {
                try await fixture.scalar(
                    Int.self, "SELECT count(*) FROM task_checkpoints WHERE node = 'fetch_diff'") == 2
            }
            #expect(busy, "\(worker.log)")
            worker.send(SIGTERM)
            // The worker hears the signal, drains for its grace period, cancels the agents and hands the reviews back.
            let status = await worker.waitForExit(timeout: .seconds(120))
            #expect(status == 0, "\(worker.log)")
            #expect(worker.log.contains("stopping: draining"), "\(worker.log)")
            for id in ids {
                let record = try #require(try await fixture.pool.run(FetchTask(id: id)))
                // Handed back (pending, attempt not spent) unless it managed to finish first; never running or dead.
                #expect(record.state == .pending || record.state == .succeeded, "\(record.state) \(worker.log)")
                if record.state == .pending { #expect(record.attempt == 0) }
            }
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM review_history") <= 2)
        }
    }

    @Test("an empty diff is refused as a failure, never recorded as an approval")
    func emptyDiffFails() async throws {
        try await QueueFixture.with { fixture in
            let ids = try await fixture.pool.run(
                try EnqueueTasks([
                    try reviewTask(ReviewRequest(source: .diff("")), maxAttempts: 3),
                    try reviewTask(ReviewRequest(source: .diff("\n\n")), maxAttempts: 3),
                ])
            ).map(\.id)
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "empty"], environment: try reviewWorkerEnvironment(fixture))
            let settled = try await eventually(timeout: .seconds(60)) {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state = 'dead'") == 2
            }
            #expect(settled, "\(worker.log)")
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
            for id in ids {
                let record = try #require(try await fixture.pool.run(FetchTask(id: id)))
                #expect(record.attempt == 1, "a permanent failure is not retried")
                #expect(record.errors.last?.message.contains("the diff is empty") == true, "\(record.errors)")
            }
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM review_history") == 0)
        }
    }

    @Test("values the database refuses fail the task once, with the reason, instead of three retried attempts")
    func permanentDatabaseErrors() async throws {
        try await QueueFixture.with { fixture in
            // Stored through SQL, as any client of the queue could: the worker must not retry what cannot succeed.
            var ids: [Int64] = []
            for number in ["99999999999999", "-1"] {
                let payload = PostgresJSON(
                    text:
                        #"{"source": {"diff": \#(try jsonQuoted(sampleDiff))}, "repo": "acme/api", "pr_number": \#(number)}"#
                )
                ids.append(try await fixture.pool.run(try EnqueueTask(NewTask(kind: "review", payload: payload))).id)
            }
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "permanent"], environment: try reviewWorkerEnvironment(fixture))
            let settled = try await eventually(timeout: .seconds(60)) {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state = 'dead'") == 2
            }
            #expect(settled, "\(worker.log)")
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
            for id in ids {
                let record = try #require(try await fixture.pool.run(FetchTask(id: id)))
                #expect(record.attempt == 1)
                #expect(record.errors.count == 1)
                #expect(record.errors.last?.message.contains("pr_number") == true, "\(record.errors)")
            }
        }
    }

    @Test("a cancel request stops a task that never reaches a node boundary (a noop sleeping for a day)")
    func cancelStopsLongWork() async throws {
        try await QueueFixture.with { fixture in
            let id = try await fixture.pool.run(try EnqueueTask(task(payload: #"{"sleep_ms": 86400000}"#))).id
            let tooLong = try await fixture.pool.run(
                try EnqueueTask(task(payload: #"{"sleep_ms": 9223372036854775807}"#))
            )
            .id
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "cancel"], environment: try fixture.workerEnvironment())
            let running = try await eventually(timeout: .seconds(60)) {
                try await fixture.pool.run(FetchTask(id: id))?.state == .running
            }
            #expect(running, "\(worker.log)")
            #expect(try await fixture.pool.run(CancelTask(id: id)) == .cancelRequested)
            let cancelled = try await eventually(timeout: .seconds(60)) {
                try await fixture.pool.run(FetchTask(id: id))?.state == .cancelled
            }
            #expect(cancelled, "\(worker.log)")
            let refused = try await eventually(timeout: .seconds(60)) {
                try await fixture.pool.run(FetchTask(id: tooLong))?.state == .dead
            }
            #expect(refused, "a sleep longer than a day is refused: \(worker.log)")
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
        }
    }

    @Test("a worker whose database turns read-only stops petting the watchdog and says why; it recovers after")
    func readOnlyDatabase() async throws {
        // A server of its own: ALTER DATABASE must not reach the other tests' sessions.
        try await PostgresServer.with { server in
            try await server.start()
            try await server.migrate()
            let pool = try server.pool()
            defer { Task { await pool.close() } }
            let listener = try NotifyListener()
            let environment = [
                "DATABASE_URL": server.url(), "NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "1000000",
                "WORKER_LEASE_SECONDS": "2", "WORKER_HEARTBEAT_SECONDS": "0.5", "WORKER_POLL_INTERVAL_MS": "200",
                "WORKER_DB_TOLERANCE_SECONDS": "60", "LOG_LEVEL": "info", "LOG_FORMAT": "logfmt",
            ]
            let worker = try RunningProcess("queue-worker", ["--instance", "readonly"], environment: environment)
            let ready = await listener.first(timeout: .seconds(60)) { $0.has("READY") }
            #expect(ready != nil, "\(worker.log)")
            // As after a switchover: every new session is read-only, and the worker's sessions are cut.
            try await pool.execute("ALTER DATABASE postgres SET default_transaction_read_only = on")
            let beforeCut = listener.notifications.last
            try await pool.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'queue-worker/readonly'"
            )
            let unhealthy = await listener.first(after: beforeCut, timeout: .seconds(60)) {
                $0["STATUS"]?.contains("read-only") == true
            }
            #expect(unhealthy != nil, "\(worker.log)")
            // While the database refuses writes, no WATCHDOG=1 (however well it answers reads).
            try await Task.sleep(for: .seconds(2))
            let petted = listener.between(unhealthy, and: nil).filter { $0.has("WATCHDOG") }
            #expect(petted.isEmpty, "petted while read-only: \(petted)")
            // The database accepts writes again: the worker reconnects and is healthy, and works.
            try await pool.execute("ALTER DATABASE postgres SET default_transaction_read_only = off")
            try await pool.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'queue-worker/readonly'"
            )
            let healthy = await listener.first(after: unhealthy, timeout: .seconds(60)) { $0.has("WATCHDOG") }
            #expect(healthy != nil, "\(worker.log)")
            let id = try await pool.run(try EnqueueTask(task())).id
            let done = try await eventually(timeout: .seconds(60)) {
                try await pool.run(FetchTask(id: id))?.state == .succeeded
            }
            #expect(done, "\(worker.log)")
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
        }
    }
}

/// `text` as a JSON string literal.
func jsonQuoted(_ text: String) throws -> String {
    String(decoding: try JSONEncoder().encode(text), as: UTF8.self)
}
