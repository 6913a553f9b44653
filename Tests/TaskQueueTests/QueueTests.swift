import FoundationEssentials
import PostgresClient
import TaskQueue
import TestSupport
import Testing

private let fastRetry = RetryPolicy(base: .seconds(10), maximum: .seconds(3600))

@Suite("task queue")
struct QueueTests {
    @Test("a worker whose lease expired and whose task was rescued can no longer heartbeat, complete, fail or release")
    func fencing() async throws {
        try await QueueFixture.with { fixture in
            let pool = fixture.pool
            let id = try await pool.run(try EnqueueTask(task())).id
            let stale = try #require(
                try await pool.run(ClaimTasks(workerID: "a", queues: ["default"], limit: 1, lease: .milliseconds(50)))
                    .first)
            #expect(stale.record.id == id)
            try await Task.sleep(for: .milliseconds(120))
            let rescued = try await pool.run(
                RescueTasks.expired(
                    retry: RetryPolicy(base: .milliseconds(1), maximum: .milliseconds(1))))
            #expect(rescued.map(\.id) == [id])
            #expect(rescued.first?.state == .pending)
            try await Task.sleep(for: .milliseconds(5))
            // Another worker takes it over.
            let fresh = try #require(
                try await pool.run(ClaimTasks(workerID: "b", queues: ["default"], limit: 1, lease: .seconds(60))).first)
            // The rescue gave the attempt back (the worker, not the task, failed).
            #expect(fresh.lease.attempt == 1)
            #expect(fresh.record.rescues == 1)
            #expect(fresh.lease.token != stale.lease.token)

            let held = try await fixture.pool.run(HeartbeatTasks([stale.lease], lease: .seconds(60)))
            #expect(held.isEmpty)
            #expect(
                try await fixture.complete(stale.lease, result: PostgresJSON(text: #"{"stale":true}"#)) == .leaseLost)
            #expect(try await pool.run(FailTask(stale.lease, message: "stale", retry: fastRetry)) == .leaseLost)
            #expect(try await pool.run(ReleaseTask(stale.lease, reason: "stale")) == .leaseLost)
            #expect(try await pool.run(FinishCancelledTask(stale.lease)) == .leaseLost)

            // The new holder is unaffected and can finish.
            let record = try #require(try await pool.run(FetchTask(id: id)))
            #expect(record.state == .running)
            #expect(record.leaseOwner == "b")
            #expect(record.errors.count == 1)
            #expect(record.errors.first?.message.contains("lease expired") == true)
            #expect(try await fixture.complete(fresh.lease, result: PostgresJSON(text: #"{"ok":true}"#)) == .written)
            let done = try #require(try await pool.run(FetchTask(id: id)))
            #expect(done.state == .succeeded)
            #expect(done.result?.text.contains("\"ok\"") == true)
            // And the stale one still cannot touch the finished task.
            #expect(try await fixture.complete(stale.lease) == .leaseLost)
        }
    }

    @Test("failed attempts back off exponentially with jitter, the errors history holds every attempt, then dead")
    func backoffAndDead() async throws {
        try await QueueFixture.with { fixture in
            let pool = fixture.pool
            let id = try await pool.run(try EnqueueTask(task(maxAttempts: 4))).id
            var delays: [Double] = []
            for attempt in 1...4 {
                try await fixture.pool.execute("UPDATE tasks SET run_after = now() WHERE id = \(id)")
                let claimed = try #require(
                    try await pool.run(ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(30)))
                        .first)
                #expect(claimed.lease.attempt == attempt)
                let before = Date()
                let outcome = try await pool.run(FailTask(claimed.lease, message: "boom \(attempt)", retry: fastRetry))
                if attempt < 4 {
                    guard case .retrying(let at) = outcome else {
                        Issue.record("attempt \(attempt) should retry, got \(outcome)")
                        return
                    }
                    delays.append(at.timeIntervalSince(before))
                } else {
                    #expect(outcome == .dead)
                }
            }
            // base 10 s · 2^(attempt-1) ± 25 %
            for (index, delay) in delays.enumerated() {
                let nominal = 10.0 * Double(1 << index)
                #expect(delay >= nominal * 0.75 - 1 && delay <= nominal * 1.25 + 1, "attempt \(index + 1): \(delay) s")
            }
            let record = try #require(try await pool.run(FetchTask(id: id)))
            #expect(record.state == .dead)
            #expect(record.finishedAt != nil)
            #expect(record.errors.map(\.attempt) == [1, 2, 3, 4])
            #expect(record.errors.map(\.message) == ["boom 1", "boom 2", "boom 3", "boom 4"])
            #expect(record.errors.allSatisfy { $0.worker == "w" })
            let events = try await pool.run(FetchTaskEvents(taskID: id))
            #expect(events.first?.toState == "pending")
            #expect(events.last?.toState == "dead")
            #expect(events.filter { $0.toState == "running" }.count == 4)
        }
    }

    @Test("a permanent failure is dead at once")
    func permanentFailure() async throws {
        try await QueueFixture.with { fixture in
            let id = try await fixture.pool.run(try EnqueueTask(task(maxAttempts: 5))).id
            let claimed = try #require(
                try await fixture.pool.run(
                    ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(30))
                ).first)
            #expect(
                try await fixture.pool.run(
                    FailTask(claimed.lease, message: "unparseable", permanent: true, retry: fastRetry))
                    == .dead)
            let record = try #require(try await fixture.pool.run(FetchTask(id: id)))
            #expect(record.state == .dead)
            #expect(record.attempt == 1)
        }
    }

    @Test("8 connections enqueueing the same dedupe key at once get one task and its id")
    func concurrentDedupe() async throws {
        try await QueueFixture.with(poolSize: 8) { fixture in
            let ids = try await withThrowingTaskGroup(of: EnqueueResult.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await fixture.pool.run(
                            try EnqueueTask(task(payload: #"{"n":\#(index)}"#, dedupeKey: "pr-42@abc")))
                    }
                }
                var results: [EnqueueResult] = []
                for try await result in group { results.append(result) }
                return results
            }
            #expect(Set(ids.map(\.id)).count == 1)
            #expect(ids.filter { !$0.deduplicated }.count == 1)
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks") == 1)
            // Once the task finished, the key is free again.
            let claimed = try #require(
                try await fixture.pool.run(
                    ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(30))
                ).first)
            #expect(try await fixture.complete(claimed.lease) == .written)
            let again = try await fixture.pool.run(try EnqueueTask(task(dedupeKey: "pr-42@abc")))
            #expect(!again.deduplicated)
            #expect(again.id != ids[0].id)
        }
    }

    @Test("priority and run_after decide what is claimed, and only ready tasks of the worker's queues")
    func priorityAndRunAfter() async throws {
        try await QueueFixture.with { fixture in
            let pool = fixture.pool
            let low = try await pool.run(try EnqueueTask(task(priority: 5))).id
            let urgent = try await pool.run(try EnqueueTask(task(priority: -1))).id
            let normal = try await pool.run(try EnqueueTask(task(priority: 0))).id
            _ = try await pool.run(try EnqueueTask(task(priority: -10, runAfter: Date().addingTimeInterval(3600))))
            _ = try await pool.run(try EnqueueTask(task(queue: "other", priority: -20)))
            let claimed = try await pool.run(
                ClaimTasks(workerID: "w", queues: ["default"], limit: 10, lease: .seconds(30)))
            #expect(Set(claimed.map(\.record.id)) == [urgent, normal, low])
            // One at a time shows the order.
            try await fixture.pool.execute(
                "UPDATE tasks SET state = 'pending', lease_token = NULL, lease_expires_at = NULL WHERE state = 'running'"
            )
            var order: [Int64] = []
            while let next = try await pool.run(
                ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(30))
            )
            .first {
                order.append(next.record.id)
            }
            #expect(order == [urgent, normal, low])
        }
    }

    @Test("cancel: a pending task at once, a running one at its next boundary")
    func cancel() async throws {
        try await QueueFixture.with { fixture in
            let pool = fixture.pool
            let pending = try await pool.run(try EnqueueTask(task(priority: 1))).id
            let running = try await pool.run(try EnqueueTask(task(priority: 0))).id
            let claimed = try #require(
                try await pool.run(ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(30))).first)
            #expect(claimed.record.id == running)
            #expect(try await pool.run(CancelTask(id: pending)) == .cancelled)
            #expect(try await pool.run(FetchTask(id: pending))?.state == .cancelled)
            #expect(try await pool.run(CancelTask(id: running)) == .cancelRequested)
            let flags = try await pool.run(HeartbeatTasks([claimed.lease], lease: .seconds(30)))
            #expect(flags[claimed.lease.token] == true)
            #expect(try await pool.run(FinishCancelledTask(claimed.lease)) == .written)
            #expect(try await pool.run(FetchTask(id: running))?.state == .cancelled)
            #expect(try await pool.run(CancelTask(id: 999_999)) == nil)
            // Nothing is left to claim.
            #expect(
                try await pool.run(ClaimTasks(workerID: "w", queues: ["default"], limit: 10, lease: .seconds(30)))
                    .isEmpty)
            // Retry puts a cancelled task back with fresh attempts.
            #expect(try await pool.run(RetryTask(id: pending)) == .pending)
            let again = try #require(
                try await pool.run(ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(30))).first)
            #expect(again.record.id == pending)
            #expect(again.lease.attempt == 1)
        }
    }

    @Test("release hands a task back without spending an attempt")
    func release() async throws {
        try await QueueFixture.with { fixture in
            let pool = fixture.pool
            let id = try await pool.run(try EnqueueTask(task(maxAttempts: 1))).id
            let first = try #require(
                try await pool.run(ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(30))).first)
            #expect(first.lease.attempt == 1)
            #expect(try await pool.run(ReleaseTask(first.lease, reason: "shutdown")) == .written)
            let record = try #require(try await pool.run(FetchTask(id: id)))
            #expect(record.state == .pending)
            #expect(record.attempt == 0)
            let second = try #require(
                try await pool.run(ClaimTasks(workerID: "w2", queues: ["default"], limit: 1, lease: .seconds(30))).first
            )
            #expect(second.lease.attempt == 1)
            #expect(try await fixture.complete(second.lease) == .written)
        }
    }

    @Test("a rescue gives the attempt back a bounded number of times, then spends it; out of attempts is dead")
    func rescue() async throws {
        try await QueueFixture.with { fixture in
            let pool = fixture.pool
            let last = try await pool.run(try EnqueueTask(task(maxAttempts: 1))).id
            let free = try await fixture.scalar(Int.self, "SELECT agentqueue_free_interruptions()")
            for rescue in 1...(free + 1) {
                try await pool.execute("UPDATE tasks SET run_after = now() WHERE id = \(last)")
                let claimed = try await pool.run(
                    ClaimTasks(workerID: "host/1/old-boot", queues: ["default"], limit: 1, lease: .milliseconds(10)))
                #expect(claimed.first?.lease.attempt == 1, "rescue \(rescue)")
                try await Task.sleep(for: .milliseconds(50))
                let rescued = try await pool.run(RescueTasks.expired(retry: fastRetry))
                // A task that keeps losing its worker (or killing it) ends dead once its free rescues are spent.
                let expected: TaskState = rescue <= free ? .pending : .dead
                #expect(rescued == [RescuedTask(id: last, state: expected, previousOwner: "host/1/old-boot")])
            }
            // Rescue is idempotent.
            #expect(try await pool.run(RescueTasks.expired(retry: fastRetry)).isEmpty)

            let held = try await pool.run(try EnqueueTask(task())).id
            let other = try await pool.run(try EnqueueTask(task())).id
            _ = try await pool.run(
                ClaimTasks(workerID: "host/1/old-boot", queues: ["default"], limit: 1, lease: .seconds(600)))
            _ = try await pool.run(
                ClaimTasks(workerID: "host/2/boot", queues: ["default"], limit: 1, lease: .seconds(600)))
            let previous = try await pool.run(
                RescueTasks.previousBoots(
                    ownerPrefix: "host/1/", currentOwner: "host/1/new-boot", retry: fastRetry))
            #expect(previous.map(\.id) == [held])
            #expect(try await pool.run(FetchTask(id: other))?.state == .running)
        }
    }

    @Test("bulk enqueue of 10,000 tasks in one call, in order, with dedupe inside the batch and against live tasks")
    func bulkEnqueue() async throws {
        try await QueueFixture.with { fixture in
            let existing = try await fixture.pool.run(try EnqueueTask(task(dedupeKey: "live")))
            var tasks = (0..<10_000).map { index in task(payload: #"{"index":\#(index)}"#, priority: Int16(index % 7)) }
            tasks[10].dedupeKey = "live"
            tasks[20].dedupeKey = "twice"
            tasks[30].dedupeKey = "twice"
            let results = try await fixture.pool.run(try EnqueueTasks(tasks))
            #expect(results.count == 10_000)
            #expect(results[10] == EnqueueResult(id: existing.id, deduplicated: true))
            #expect(!results[20].deduplicated)
            #expect(results[30] == EnqueueResult(id: results[20].id, deduplicated: true))
            #expect(Set(results.map(\.id)).count == 9_999)
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks") == 9_999)
            // Each id holds its own payload.
            let sample = try #require(try await fixture.pool.run(FetchTask(id: results[1234].id)))
            #expect(try sample.payload.decode([String: Int].self) == ["index": 1234])
        }
    }

    @Test(
        "bad input is refused with a clear error and nothing is stored",
        arguments: [
            (task(payload: "{not json"), "json"),
            (task(queue: "Bad Queue!"), "queue"),
            (task(maxAttempts: -1), "max_attempts"),
            (task("Review"), "kind"),
            (task(payload: "[1,2]"), "object"),
        ]
    )
    func badInput(bad: NewTask, mentions: String) async throws {
        try await QueueFixture.with { fixture in
            let error = await #expect(throws: (any Error).self) { try await fixture.pool.run(try EnqueueTask(bad)) }
            #expect("\(error.map { "\($0)" } ?? "")".lowercased().contains(mentions.lowercased()))
            // The same through SQL directly (for clients that skip the Swift checks).
            await #expect(throws: PostgresError.self) {
                try await fixture.pool.query(
                    """
                    SELECT * FROM enqueue_task(\(bad.kind), \(bad.payload)::jsonb, \(bad.queue), 0::smallint, NULL,
                        \(bad.maxAttempts)::integer, NULL)
                    """
                )
            }
            // In a batch, the element is named and nothing is stored.
            let batchError = await #expect(throws: (any Error).self) {
                try await fixture.pool.run(try EnqueueTasks([task(), task(), bad]))
            }
            #expect("\(batchError.map { "\($0)" } ?? "")".contains("task 3"))
            let stored = try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks")
            #expect(stored == 0)
        }
    }

    @Test("the SQL batch function names the bad element itself")
    func sqlBatchValidation() async throws {
        try await QueueFixture.with { fixture in
            let error = await #expect(throws: PostgresError.self) {
                try await fixture.pool.query(
                    #"SELECT * FROM enqueue_tasks('[{"kind":"noop"},{"kind":"noop","max_attempts":0}]'::jsonb)"#
                )
            }
            #expect(error?.message.contains("task 2 of the batch") == true)
            #expect(error?.sqlState == "22023")
            let stored = try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks")
            #expect(stored == 0)
        }
    }

    @Test("prune deletes old finished tasks and their events, in batches, and nothing live")
    func prune() async throws {
        try await QueueFixture.with { fixture in
            let pool = fixture.pool
            _ = try await pool.run(try EnqueueTasks((0..<25).map { _ in task() }))
            let claimed = try await pool.run(
                ClaimTasks(workerID: "w", queues: ["default"], limit: 20, lease: .seconds(30)))
            _ = try await pool.run(CompleteTasks(claimed.map { ($0.lease, nil) }))
            try await fixture.pool.execute(
                "UPDATE tasks SET finished_at = now() - interval '40 days' WHERE state = 'succeeded' AND id % 2 = 0")
            let deleted = try await fixture.queue.prune(olderThan: .seconds(30 * 86_400), batchSize: 3)
            #expect(deleted == 10)
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks") == 15)
            #expect(
                try await fixture.scalar(
                    Int.self,
                    "SELECT count(*) FROM task_events e WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = e.task_id)"
                ) == 0)
        }
    }

    /// 001's claim passed the first case but planned the second (a large backlog) as a hash join over a sequential
    /// scan of every task: the whole statement is checked, in both shapes of table.
    @Test(
        "the claim's whole statement uses the partial index and the primary key, never a sequential scan",
        .timeLimit(.minutes(3)),
        arguments: [(finished: 1_000_000, pending: 10_000), (finished: 0, pending: 200_000)]
    )
    func claimPlanOnBigTable(rows: (finished: Int, pending: Int)) async throws {
        try await QueueFixture.with { fixture in
            try await fixture.pool.execute(
                """
                INSERT INTO tasks (kind, queue, state, finished_at, attempt)
                SELECT 'noop', 'default', 'succeeded', now() - interval '1 day', 1 FROM generate_series(1, \(rows.finished))
                """
            )
            try await fixture.pool.execute(
                "INSERT INTO tasks (kind, queue) SELECT 'noop', 'default' FROM generate_series(1, \(rows.pending))"
            )
            try await fixture.pool.execute("ANALYZE tasks")
            // The statement inside the installed claim_task(), with its arguments as parameters, planned generically
            // as PL/pgSQL plans it (EXPLAIN of the function call itself shows only a Function Scan).
            let source = try #require(
                try await fixture.pool.query(
                    "SELECT prosrc FROM pg_proc WHERE proname = 'claim_task' AND pronamespace = current_schema()::regnamespace"
                ).single?.decode(String.self, "prosrc")
            )
            let statement = try #require(try Self.claimStatement(inFunctionSource: source), "\(source)")
            let plan = try await fixture.pool.withConnection { connection -> String in
                try await connection.simpleQuery("SET plan_cache_mode = force_generic_plan")
                try await connection.simpleQuery(
                    "PREPARE claim_plan(text, text[], integer, interval) AS \(statement)"
                )
                let explained = try await connection.query(
                    "EXPLAIN EXECUTE claim_plan('w', '{default}', 10, '30 seconds')")
                try await connection.simpleQuery("DEALLOCATE claim_plan")
                return try explained.map { try $0.decode(String.self, at: 0) }.joined(separator: "\n")
            }
            print("claim plan with \(rows.finished) finished and \(rows.pending) pending rows:\n\(plan)")
            #expect(plan.contains("tasks_claim_idx"), "\(plan)")
            #expect(plan.contains("tasks_pkey"), "\(plan)")
            #expect(!plan.contains("Seq Scan"), "\(plan)")
            let claimed = try await fixture.pool.run(
                ClaimTasks(
                    workerID: "w", queues: ["default"], limit: 10, lease: .seconds(30)))
            #expect(claimed.count == 10)
        }
    }

    /// The query of a PL/pgSQL `RETURN QUERY` function body, its arguments replaced by `$1`…`$4`.
    static func claimStatement(inFunctionSource source: String) throws -> String? {
        guard let start = source.firstRange(of: "RETURN QUERY"), let end = source.ranges(of: ";").last,
            start.upperBound < end.lowerBound
        else { return nil }
        var statement = String(source[start.upperBound..<end.lowerBound])
        for (index, name) in ["worker_id", "queues", "max_tasks", "lease"].enumerated() {
            statement = statement.replacing(try Regex("\\b\(name)\\b"), with: "$\(index + 1)")
        }
        return statement
    }
}

@Suite("task queue: what an adversarial run found")
struct QueueAdversarialTests {
    private let retry = RetryPolicy(base: .milliseconds(1), maximum: .milliseconds(1))

    @Test("a cancel request survives a hand-back and a rescue: the task ends cancelled, it does not run again")
    func cancelSurvives() async throws {
        try await QueueFixture.with { fixture in
            let pool = fixture.pool
            let ids = try await pool.run(try EnqueueTasks([task(), task()])).map(\.id)
            let claimed = try await pool.run(
                ClaimTasks(workerID: "host/1/boot", queues: ["default"], limit: 2, lease: .milliseconds(200)))
            try #require(claimed.count == 2)
            for id in ids { #expect(try await pool.run(CancelTask(id: id)) == .cancelRequested) }
            // Handed back at shutdown.
            #expect(try await pool.run(ReleaseTask(claimed[0].lease, reason: "worker shutting down")) == .written)
            // Rescued after its worker died.
            try await pool.execute(
                "UPDATE tasks SET lease_expires_at = now() - interval '1 second' WHERE id = \(ids[1])")
            let rescued = try await pool.run(RescueTasks.expired(retry: retry))
            #expect(rescued.map(\.state) == [.cancelled])
            for id in ids { #expect(try await pool.run(FetchTask(id: id))?.state == .cancelled) }
            #expect(
                try await pool.run(ClaimTasks(workerID: "w", queues: ["default"], limit: 10, lease: .seconds(30)))
                    .isEmpty)
        }
    }

    @Test("an attempt the infrastructure cut short gives its attempt back, a bounded number of times")
    func interruptionsAreFreeButBounded() async throws {
        try await QueueFixture.with { fixture in
            let pool = fixture.pool
            let id = try await pool.run(try EnqueueTask(task(maxAttempts: 2))).id
            let free = try await fixture.scalar(Int.self, "SELECT agentqueue_free_interruptions()")
            var outcomes: [FailOutcome] = []
            for _ in 0..<(free + 2) {
                try await pool.execute("UPDATE tasks SET run_after = now() WHERE id = \(id)")
                let claimed = try #require(
                    try await pool.run(ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(30)))
                        .first)
                let outcome = try await pool.run(
                    FailTask(claimed.lease, message: "connection lost", interrupted: true, retry: retry))
                outcomes.append(outcome)
                if outcome == .dead { break }
            }
            // `free` interruptions cost nothing; after them they spend the two attempts like failures.
            #expect(outcomes.count == free + 2)
            #expect(outcomes.last == .dead)
            let record = try #require(try await pool.run(FetchTask(id: id)))
            #expect(record.rescues == free)
            #expect(record.errors.count == free + 2)
        }
    }

    @Test("a dedupe key with control characters is refused, by the client and by the database")
    func controlCharacters() async throws {
        try await QueueFixture.with { fixture in
            #expect(throws: TaskValidationError.self) { try EnqueueTask(task(dedupeKey: "a\u{1B}]0;owned\u{07}")) }
            let error = await #expect(throws: PostgresError.self) {
                try await fixture.pool.query(
                    "SELECT * FROM enqueue_task('noop', '{}'::jsonb, 'default', 0::smallint, NULL::timestamptz, 3, E'x\\x1b[2J')"
                )
            }
            #expect(error?.sqlState == "22023")
            let stored = try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks")
            #expect(stored == 0)
        }
    }
}
