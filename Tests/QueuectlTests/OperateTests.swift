import DiffSources
import Foundation
import PostgresClient
import ReviewAgents
import ReviewStore
import ReviewWorkflow
import TaskQueue
import TestSupport
import Testing

/// A task as `list --json` prints it.
struct ListedTask: Decodable {
    let id: Int64
    let state: String
    let kind: String
    let queue: String
    let attempt: Int
    let max_attempts: Int
    let worker: String?
    let last_error: String?
}

@Suite("queuectl list, show, cancel, retry, purge", .serialized)
struct OperateTests {
    @Test("list filters by state, queue and kind, limits, orders, and prints a table, JSON or CSV")
    func list() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            let pool = fixture.pool
            let a = try await pool.run(try EnqueueTask(task("noop"))).id
            let b = try await pool.run(try EnqueueTask(task("review", queue: "bulk"))).id
            let c = try await pool.run(try EnqueueTask(task("noop", queue: "bulk", priority: -1, maxAttempts: 1))).id
            let d = try await pool.run(try EnqueueTask(task("noop", priority: -1))).id
            let e = try await pool.run(try EnqueueTask(task("review"))).id
            // d runs (lowest priority value first); c dies; e is cancelled.
            let running = try #require(
                try await pool.run(
                    ClaimTasks(workerID: "test/1/boot", queues: ["default"], limit: 1, lease: .seconds(60))
                ).first
            )
            #expect(running.record.id == d)
            let dying = try #require(
                try await pool.run(ClaimTasks(workerID: "test/1/boot", queues: ["bulk"], limit: 1, lease: .seconds(60)))
                    .first)
            #expect(dying.record.id == c)
            _ = try await pool.run(FailTask(dying.lease, message: "boom\nsecond line", retry: RetryPolicy()))
            _ = try await pool.run(CancelTask(id: e))

            func ids(_ arguments: [String]) async throws -> [Int64] {
                try await cli.json([ListedTask].self, ["list"] + arguments).map(\.id)
            }
            #expect(try await ids([]) == [e, d, c, b, a])
            #expect(try await ids(["--state", "dead"]) == [c])
            #expect(try await ids(["--state", "pending", "--state", "running"]) == [d, b, a])
            #expect(try await ids(["--queue", "bulk"]) == [c, b])
            #expect(try await ids(["--kind", "review"]) == [e, b])
            #expect(try await ids(["--kind", "noop", "--queue", "default"]) == [d, a])
            #expect(try await ids(["--limit", "2"]) == [e, d])
            #expect(try await ids(["--oldest-first", "--limit", "2"]) == [a, b])

            let all = try await cli.json([ListedTask].self, ["list"])
            let runningTask = try #require(all.first { $0.id == d })
            #expect(runningTask.state == "running")
            #expect(runningTask.worker == "test/1/boot")
            #expect(runningTask.attempt == 1)
            let deadTask = try #require(all.first { $0.id == c })
            #expect(deadTask.state == "dead")
            #expect(deadTask.last_error == "boom\nsecond line")
            #expect(deadTask.max_attempts == 1)

            let table = try await cli.run(["list"])
            #expect(table.status == 0)
            let rows = table.standardOutput.split(separator: "\n")
            #expect(rows.count == 6)
            #expect(rows[0].hasPrefix("ID"))
            #expect(rows[0].contains("STATE") && rows[0].contains("ATTEMPT"))
            #expect(rows.contains { $0.contains("running") && $0.contains("on test/1/boot") })
            #expect(rows.contains { $0.contains("dead") && $0.contains("boom second line") })

            let csv = try await cli.run(["list", "--format", "csv", "--state", "dead"])
            let csvLines = csv.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
            let csvHeader =
                "id,state,kind,queue,priority,attempt,max_attempts,created_at,run_after,finished_at,worker,dedupe_key,"
                + "last_error,verdict_status,finding_count,queue_paused"
            #expect(csvLines.first.map(String.init) == csvHeader)
            // The error spans two lines: the field is quoted, so the record spans two physical lines.
            #expect(csvLines.count == 4)
            #expect(csvLines[1].hasPrefix("\(c),dead,noop,bulk,-1,1,1,"))
            #expect(csvLines[1].hasSuffix(",test/1/boot,,\"boom"))

            let empty = try await cli.run(["list", "--kind", "nothing"])
            #expect(empty.status == 0)
            #expect(empty.standardOutput.isEmpty)
            #expect(empty.standardError.contains("no tasks match"))
            expectError(
                try await cli.run(["list", "--state", "done"]), status: 2,
                containing: "'done' is invalid for '--state <state>'")
            expectError(
                try await cli.run(["list", "--limit", "0"]), status: 2,
                containing: "--limit must be between 1 and 10000")
            expectError(try await cli.run(["list", "--json", "--format", "csv"]), status: 2, containing: "contradict")
        }
    }

    @Test(
        "show: attempts and errors, the checkpoint timeline, the review verdict, summary and findings; 3 for an unknown id"
    )
    func show() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            let pool = fixture.pool
            let request = ReviewRequest(source: .diff(sampleDiff), repo: "acme/api", prNumber: 4, headSHA: "abcdef1")
            let id = try await pool.run(
                try EnqueueTask(
                    NewTask(kind: "review", payload: try PostgresJSON(encoding: request), dedupeKey: request.dedupeKey)
                )
            ).id
            let first = try await claimNext(fixture)
            _ = try await pool.run(
                FailTask(
                    first.lease, message: "GitHub timed out",
                    retry: RetryPolicy(base: .milliseconds(1), maximum: .milliseconds(1))))
            try await fixture.pool.execute("UPDATE tasks SET run_after = now() WHERE id = \(id)")
            let second = try await claimNext(fixture)
            #expect(second.lease.attempt == 2)
            // Each node's own start: the agents start when fetch_diff ends, the verdict when the slowest agent ends. The
            // agents' checkpoints are written together, later than either ended; the timeline must not care.
            let origin = Date(timeIntervalSince1970: 1_800_000_000)
            let nodes: [(String, Double, Double)] = [
                ("fetch_diff", 0, 20), ("security", 20, 150), ("scale", 20, 90), ("verdict", 170, 5),
            ]
            for group in [[nodes[0]], [nodes[2], nodes[1]], [nodes[3]]] {
                let written = try await pool.run(
                    WriteCheckpoints(
                        lease: second.lease,
                        group.map { node, start, milliseconds in
                            CheckpointOutput(
                                node: node, version: 1, output: PostgresJSON(text: "{}"),
                                duration: .milliseconds(Int64(milliseconds)),
                                startedAt: origin.addingTimeInterval(start / 1000))
                        }))
                #expect(written == Dictionary(uniqueKeysWithValues: group.map { ($0.0, CheckpointWrite.written) }))
            }
            let result = reviewResult(.changesRequested)
            let reviewID = try await fixture.scalar(
                Int64.self,
                """
                INSERT INTO review_history (task_id, repo, pr_number, head_sha, review_verdict, security_findings,
                    code_quality_findings, verdict_status, execution_time_ms)
                VALUES (\(id), 'acme/api', 4, 'abcdef1', 'changes requested', 1, 2, 'changes_requested', 1234.5)
                RETURNING id
                """
            )
            #expect(try await fixture.complete(second.lease, result: PostgresJSON(encoding: result)) == .written)

            // list's note for a succeeded review: its verdict and number of findings.
            let listed = try await cli.run(["list", "--kind", "review"])
            let row = listed.standardOutput.split(separator: "\n").first {
                $0.hasPrefix("\(id) ") || $0.contains(" \(id)  ")
            }
            #expect(row?.hasSuffix("changes_requested · 3 findings") == true, "\(listed.standardOutput)")

            // At 80 columns the tables fit (the worker id gives way; the timeline keeps its 30 cells).
            let narrow = try await cli.run(["show", String(id)], environment: ["COLUMNS": "80"], terminal: true)
            let narrowLines = narrow.standardOutput.replacing(/\x1B\[[0-9;]*m/, with: "").split(separator: "\n")
            let tableLines = narrowLines.filter { $0.contains("|") || $0.contains("test/1") }
            #expect(tableLines.count >= 6 && tableLines.allSatisfy { $0.count <= 80 }, "\(narrow.standardOutput)")
            #expect(tableLines.contains { $0.hasSuffix(String(repeating: "█", count: 1) + "|") })

            let text = try await cli.run(["show", String(id)])
            #expect(text.status == 0, "\(text.standardError)")
            let out = text.standardOutput
            #expect(out.hasPrefix("task \(id) · review · queue default · succeeded\n"))
            #expect(out.contains("attempts    2 of 3"))
            #expect(out.contains("dedupe key  review:acme/api#4@abcdef1"))
            #expect(out.contains(#""source": {"diff": "(\#(sampleDiff.utf8.count) bytes of diff)"}"#), "\(out)")
            #expect(out.contains("failed, retried: GitHub timed out"))
            #expect(out.contains("succeeded"))
            // The error's time is shown like every other time on the screen (2026-12-05 08:05:35Z), not as stored.
            let errorLine = out.split(separator: "\n").first { $0.hasPrefix("  attempt 1 · ") }
            let errorTime = errorLine?.split(separator: " · ").dropFirst().first
            #expect(
                errorTime?.count == 20 && errorTime?.hasSuffix("Z") == true && errorTime?.contains("T") == false,
                "\(out)")
            for node in ["fetch_diff", "security", "scale", "verdict"] {
                #expect(out.contains("\n    \(node) ") || out.contains("  \(node)  "))
            }
            #expect(out.contains("150ms"))
            // START is the node's own start; each bar begins where the nodes it depends on ended (175 ms in 30 columns).
            let timeline = out.split(separator: "\n").filter { $0.contains("|") && $0.contains("test/1/boot") }
            #expect(timeline.count == 4, "\(out)")
            let bars = timeline.map { $0.split(separator: "|", omittingEmptySubsequences: false)[1] }
            if bars.count == 4 {
                #expect(timeline[2].contains("+20.0ms") && timeline[2].contains("security"), "\(out)")
                #expect(bars[0].hasPrefix("███ "), "\(out)")
                #expect(bars[1].hasPrefix("   █") && bars[2].hasPrefix("   █"), "\(out)")
                #expect(bars[3].hasPrefix(String(repeating: " ", count: 29) + "█"), "\(out)")
                #expect(timeline[3].contains("+170ms"), "\(out)")
            }
            #expect(
                out.contains(
                    "task \(id): changes_requested · 3 findings (security 1, scale 0, quality 2, architecture 0) · 1.23s"
                ))
            #expect(out.contains("recorded as review \(reviewID)"))
            #expect(out.contains("**changes_requested**: 3 findings"))
            #expect(out.contains("security.rule-0") && out.contains("app/db.py:2") && out.contains("quality finding 1"))

            struct Shown: Decodable {
                struct Task: Decodable {
                    let id: Int64
                    let state: String
                    let attempt: Int
                }
                struct Attempt: Decodable {
                    let attempt: Int
                    let worker: String?
                    let outcome: String
                    let duration_ms: Double
                }
                struct Checkpoint: Decodable {
                    let node: String
                    let attempt: Int
                    let duration_ms: Double
                    let started_at: String
                }
                struct Review: Decodable {
                    let verdict_status: String
                    let review_id: Int64?
                    let findings: [Finding]
                    let counts: [String: Int]
                }
                struct Payload: Decodable {
                    let repo: String
                    let pr_number: Int
                }
                let task: Task
                let attempts: [Attempt]
                let errors: [TaskErrorEntry]
                let checkpoints: [Checkpoint]
                let review: Review?
                let payload: Payload
            }
            let shown = try await cli.json(Shown.self, ["show", String(id)])
            #expect(shown.task.id == id)
            #expect(shown.task.state == "succeeded")
            #expect(shown.attempts.map(\.attempt) == [1, 2])
            #expect(shown.attempts.map(\.outcome) == ["failed, retried: GitHub timed out", "succeeded"])
            #expect(shown.attempts.allSatisfy { $0.worker == "test/1/boot" && $0.duration_ms >= 0 })
            #expect(shown.errors.map(\.message) == ["GitHub timed out"])
            #expect(shown.checkpoints.map(\.node) == ["fetch_diff", "scale", "security", "verdict"])
            #expect(shown.checkpoints.map(\.duration_ms) == [20, 90, 150, 5])
            #expect(shown.checkpoints.map(\.started_at).allSatisfy { $0.hasPrefix("2027-01-15T08:") })
            #expect(shown.checkpoints.allSatisfy { $0.attempt == 2 })
            #expect(shown.review?.verdict_status == "changes_requested")
            #expect(shown.review?.review_id == reviewID)
            #expect(shown.review?.findings == result.findings)
            #expect(shown.review?.counts == result.counts)
            #expect(shown.payload.repo == "acme/api")
            #expect(shown.payload.pr_number == 4)

            // A pending generic task shows its payload and when it runs.
            let pending = try await pool.run(
                try EnqueueTask(
                    task("noop", payload: #"{"n": 1}"#, runAfter: Date().addingTimeInterval(3600))
                )
            ).id
            let pendingText = try await cli.run(["show", String(pending)])
            #expect(pendingText.standardOutput.contains("· pending"))
            #expect(pendingText.standardOutput.contains("(in 59m"))
            #expect(pendingText.standardOutput.contains(#"{"n": 1}"#))

            expectError(try await cli.run(["show", "999999"]), status: 3, containing: "task 999999 does not exist")
            expectError(try await cli.run(["show", "abc"]), status: 2, containing: "'abc' is invalid")
            expectError(try await cli.run(["show", "0"]), status: 2, containing: "positive")
        }
    }

    @Test(
        "cancel: pending at once, running by request, finished ones untouched; an unknown id cancels nothing (exit 3)")
    func cancel() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            let pool = fixture.pool
            let running = try await pool.run(try EnqueueTask(task(priority: -1))).id
            let pending = try await pool.run(try EnqueueTask(task())).id
            _ = try #require(
                try await pool.run(ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(60))).first)
            let done = try await pool.run(try EnqueueTask(task(queue: "other"))).id
            let claimed = try #require(
                try await pool.run(ClaimTasks(workerID: "w", queues: ["other"], limit: 1, lease: .seconds(60))).first)
            _ = try await fixture.complete(claimed.lease)

            let refused = try await cli.run(["cancel", String(pending), "424242", String(running)])
            expectError(refused, status: 3, containing: "task 424242 does not exist; nothing was cancelled")
            #expect(try await pool.run(FetchTask(id: pending))?.state == .pending)
            #expect(try await pool.run(FetchTask(id: running))?.cancelRequested == false)

            let output = try await cli.run(["cancel", String(pending), String(running), String(done), String(pending)])
            #expect(output.status == 0, "\(output.standardError)")
            #expect(
                output.standardOutput == """
                    task \(pending): cancelled
                    task \(running): cancel requested; its worker stops it at its next heartbeat
                    task \(done): already succeeded; nothing changed

                    """)
            #expect(try await pool.run(FetchTask(id: pending))?.state == .cancelled)
            let record = try #require(try await pool.run(FetchTask(id: running)))
            #expect(record.state == .running)
            #expect(record.cancelRequested)
            #expect(try await pool.run(FetchTask(id: done))?.state == .succeeded)

            struct Outcome: Decodable {
                let id: Int64
                let before: String
                let outcome: String
            }
            let again = try await cli.json([Outcome].self, ["cancel", String(pending)])
            #expect(again.map(\.outcome) == ["cancelled"])
            #expect(again.map(\.before) == ["cancelled"])
            expectError(
                try await cli.run(["cancel"]), status: 2, containing: "give the tasks to cancel: ids, or a filter")
            expectError(try await cli.run(["cancel", "-3"]), status: 2, containing: "(see `queuectl cancel --help`)")
        }
    }

    @Test(
        "retry: dead and cancelled back to pending with fresh attempts; anything else, or an unknown id, changes nothing"
    )
    func retry() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            let pool = fixture.pool
            let dead = try await pool.run(try EnqueueTask(task(maxAttempts: 1))).id
            let claimed = try #require(
                try await pool.run(ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(60))).first)
            _ = try await pool.run(FailTask(claimed.lease, message: "boom", retry: RetryPolicy()))
            let cancelled = try await pool.run(try EnqueueTask(task())).id
            _ = try await pool.run(CancelTask(id: cancelled))
            let pending = try await pool.run(try EnqueueTask(task(runAfter: Date().addingTimeInterval(3600)))).id

            let notRetryable = try await cli.run(["retry", String(dead), String(pending)])
            expectError(
                notRetryable, status: 1,
                containing:
                    "task \(pending) is pending: only dead or cancelled tasks can be retried; nothing was retried")
            #expect(try await pool.run(FetchTask(id: dead))?.state == .dead)
            expectError(
                try await cli.run(["retry", String(dead), "777777"]), status: 3,
                containing: "task 777777 does not exist")
            #expect(try await pool.run(FetchTask(id: dead))?.state == .dead)

            let output = try await cli.run(["retry", String(dead), String(cancelled)])
            #expect(output.status == 0, "\(output.standardError)")
            #expect(output.standardOutput == "task \(dead): dead → pending\ntask \(cancelled): cancelled → pending\n")
            let record = try #require(try await pool.run(FetchTask(id: dead)))
            #expect(record.state == .pending)
            #expect(record.attempt == 0)
            #expect(record.finishedAt == nil)
            #expect(try await pool.run(FetchTask(id: cancelled))?.state == .pending)

            // A dedupe key now held by another live task: refused with the reason, nothing changed.
            let keyed = try await pool.run(try EnqueueTask(task(dedupeKey: "same"))).id
            _ = try await pool.run(CancelTask(id: keyed))
            _ = try await pool.run(try EnqueueTask(task(dedupeKey: "same")))
            expectError(
                try await cli.run(["retry", String(keyed)]), status: 1,
                containing: "another live task has the same dedupe key")
            #expect(try await pool.run(FetchTask(id: keyed))?.state == .cancelled)
        }
    }

    @Test("pause: claim_task leaves a paused queue's tasks pending and untouched; stats says so; resume lets them run")
    func pauseAndResume() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            for queue in ["reviews", "reviews", "reviews", "bulk"] {
                _ = try await fixture.pool.run(try EnqueueTask(task(queue: queue)))
            }
            let paused = try await cli.run(["pause", "reviews", "--reason", "provider outage"])
            #expect(paused.standardOutput.hasPrefix("queue reviews: paused"), "\(paused.standardError)")
            #expect(
                try await cli.run(["pause", "reviews"]).standardOutput
                    == "queue reviews: already paused; nothing changed\n")
            func claim() async throws -> [ClaimedTask] {
                try await fixture.pool.run(
                    ClaimTasks(workerID: "test/1/boot", queues: ["reviews", "bulk"], limit: 10, lease: .seconds(60)))
            }
            let first = try await claim()
            #expect(first.map(\.record.queue) == ["bulk"])
            #expect(
                try await cli.count(
                    "SELECT count(*) FROM tasks WHERE queue = 'reviews' AND state = 'pending' AND attempt = 0") == 3)
            let stats = try await cli.run(["stats"])
            #expect(
                stats.standardOutput.contains(
                    "(provider outage), 3 pending tasks left alone: queuectl resume reviews"), "\(stats.standardOutput)"
            )
            let listed = try await cli.run(["list", "--queue", "reviews"])
            #expect(
                listed.standardOutput.split(separator: "\n").dropFirst().allSatisfy {
                    $0.hasSuffix("queue paused (queuectl resume reviews)")
                }, "\(listed.standardOutput)")
            // Paused on purpose: not reported as a queue nobody serves.
            #expect(!stats.standardOutput.contains("which no live worker serves"))
            struct Stats: Decodable {
                struct Paused: Decodable { let queue: String; let reason: String? }
                let paused_queues: [Paused]?
            }
            let json = try await cli.json(Stats.self, ["stats"])
            #expect(
                json.paused_queues?.map(\.queue) == ["reviews"]
                    && json.paused_queues?.first?.reason == "provider outage")

            #expect(try await cli.run(["resume", "reviews"]).standardOutput == "queue reviews: resumed\n")
            #expect(try await claim().count == 3)
            #expect(
                try await cli.run(["resume", "reviews"]).standardOutput
                    == "queue reviews: was not paused; nothing changed\n")
            expectError(try await cli.run(["pause", "Bad Queue"]), status: 2, containing: "queue")
        }
    }

    @Test("cancel and retry by filter: one statement each, running tasks flagged, dedupe keys respected, --dry-run")
    func bulkByFilter() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            for index in 0..<30 {
                _ = try await fixture.pool.run(try EnqueueTask(task(queue: "bulk", dedupeKey: "b\(index)")))
            }
            for _ in 0..<5 { _ = try await fixture.pool.run(try EnqueueTask(task("other"))) }
            try await fixture.pool.execute(
                "UPDATE tasks SET created_at = now() - interval '2 hours' WHERE kind = 'other'")
            let running = try await fixture.pool.run(
                ClaimTasks(workerID: "test/1/boot", queues: ["bulk"], limit: 3, lease: .seconds(60)))
            #expect(running.count == 3)
            struct Cancelled: Decodable, Equatable {
                let cancelled: Int
                let cancel_requested: Int
                let dry_run: Bool
            }
            struct Retried: Decodable, Equatable {
                let retried: Int
                let skipped: Int
                let dry_run: Bool
            }
            func count(_ state: String, _ queue: String) async throws -> Int {
                try await cli.count("SELECT count(*) FROM tasks WHERE state = \(state) AND queue = \(queue)")
            }

            // A dry run counts and changes nothing.
            let dry = try await cli.json(Cancelled.self, ["cancel", "--queue", "bulk", "--dry-run"])
            #expect(dry == Cancelled(cancelled: 27, cancel_requested: 3, dry_run: true))
            #expect(try await count("pending", "bulk") == 27)

            // Pending only: the running ones are left alone.
            let text = try await cli.run(["cancel", "--queue", "bulk", "--state", "pending"])
            #expect(
                text.standardOutput
                    == "cancelled 27 pending tasks; asked 0 running to stop at their workers' next heartbeat (queue bulk, pending)\n",
                "\(text.standardOutput)")
            #expect(try await count("cancelled", "bulk") == 27)
            #expect(try await cli.count("SELECT count(*) FROM task_events WHERE reason = 'cancelled by request'") == 27)
            let flagged = try await cli.json(Cancelled.self, ["cancel", "--queue", "bulk"])
            #expect(flagged == Cancelled(cancelled: 0, cancel_requested: 3, dry_run: false))
            #expect(try await cli.count("SELECT count(*) FROM tasks WHERE state = 'running' AND cancel_requested") == 3)

            // Older than: only the 5 tasks created two hours ago.
            let old = try await cli.json(Cancelled.self, ["cancel", "--older-than", "1h"])
            #expect(old == Cancelled(cancelled: 5, cancel_requested: 0, dry_run: false))

            // Retry: a live task holds one dedupe key, so that cancelled task is skipped, and counted.
            _ = try await fixture.pool.run(try EnqueueTask(task(queue: "bulk", dedupeKey: "b29")))
            let wouldRetry = try await cli.json(Retried.self, ["retry", "--queue", "bulk", "--dry-run"])
            let retried = try await cli.json(Retried.self, ["retry", "--queue", "bulk", "--state", "cancelled"])
            #expect(wouldRetry == Retried(retried: retried.retried, skipped: retried.skipped, dry_run: true))
            // The first three were claimed (still running, flagged); of the 27 cancelled, b29's key is held again.
            #expect(retried == Retried(retried: 26, skipped: 1, dry_run: false))
            #expect(try await count("pending", "bulk") == 27)
            #expect(try await count("cancelled", "bulk") == 1)
            let none = try await cli.run(["retry", "--queue", "bulk"])
            #expect(none.standardOutput.hasPrefix("retried 0 tasks"), "\(none.standardOutput)")

            // Refused: ids and a filter together, neither, a state the operation does not apply to.
            expectError(try await cli.run(["cancel", "1", "--queue", "bulk"]), status: 2, containing: "not both")
            expectError(try await cli.run(["retry"]), status: 2, containing: "give the tasks to retry")
            expectError(
                try await cli.run(["retry", "--state", "running"]), status: 2,
                containing: "--state running is not allowed")
            expectError(
                try await cli.run(["cancel", "7", "--dry-run"]), status: 2, containing: "--dry-run goes with a filter")
        }
    }

    @Test("purge deletes finished tasks older than the age (events and checkpoints too), by state; --dry-run counts")
    func purge() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            try await fixture.pool.execute(
                """
                INSERT INTO tasks (kind, state, finished_at)
                SELECT 'noop', s.state, now() - s.age
                FROM (VALUES ('succeeded', interval '40 days'), ('succeeded', interval '31 days'), ('dead', interval '45 days'),
                             ('cancelled', interval '60 days'), ('succeeded', interval '10 days'), ('dead', interval '1 hour'))
                     AS s(state, age)
                """
            )
            try await fixture.pool.execute(
                "INSERT INTO task_events (task_id, to_state, attempt) SELECT id, state, 1 FROM tasks")
            _ = try await fixture.pool.run(try EnqueueTask(task()))
            try await fixture.pool.execute(
                "UPDATE tasks SET created_at = now() - interval '90 days' WHERE state = 'pending'")

            let dry = try await cli.run(["purge", "--older-than", "30d", "--dry-run"])
            #expect(dry.status == 0)
            #expect(
                dry.standardOutput
                    == "would delete 4 succeeded/dead/cancelled tasks finished more than 30d ago (dry run: nothing deleted)\n"
            )
            #expect(try await cli.taskCount() == 7)

            struct Purged: Decodable {
                let deleted: Int
                let states: [String]
            }
            let deadOnly = try await cli.json(Purged.self, ["purge", "--older-than", "30d", "--state", "dead"])
            #expect(deadOnly.deleted == 1)
            #expect(deadOnly.states == ["dead"])
            let rest = try await cli.run(["purge", "--older-than", "720h", "--batch-size", "1"])
            #expect(rest.standardOutput == "deleted 3 succeeded/dead/cancelled tasks finished more than 30d ago\n")
            #expect(try await cli.taskCount() == 3)
            #expect(
                try await cli.count(
                    "SELECT count(*) FROM task_events e WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = e.task_id)"
                ) == 0)
            #expect(
                try await cli.count("SELECT count(*) FROM tasks WHERE state = 'pending'") == 1,
                "live tasks are never purged")

            expectError(
                try await cli.run(["purge", "--older-than", "30"]), status: 2, containing: "use a number and a unit")
            expectError(
                try await cli.run(["purge"]), status: 2,
                containing: "Missing expected argument '--older-than <duration>'")
            expectError(
                try await cli.run(["purge", "--older-than", "1d", "--state", "pending"]), status: 2,
                containing: "finished tasks only")
            #expect(try await cli.taskCount() == 3)
        }
    }
}
