import Foundation
import PostgresClient
import TaskQueue
import TestSupport
import Testing

func workerEnvironment(_ fixture: QueueFixture, _ extra: [String: String] = [:]) throws -> [String: String] {
    try fixture.workerEnvironment(extra)
}

@Suite("worker processes", .serialized)
struct WorkerProcessTests {
    @Test("4 worker processes × concurrency 4 drain 5,000 tasks, each completed exactly once", .timeLimit(.minutes(2)))
    func drainWithFourProcesses() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.pool.run(
                try EnqueueTasks((0..<5000).map { index in task(payload: #"{"n":\#(index)}"#) }))
            let environment = try workerEnvironment(fixture, ["LOG_LEVEL": "warning"])
            let workers = try (1...4).map { index in
                try RunningProcess("queue-worker", ["--instance", "\(index)"], environment: environment)
            }
            let drained = try await eventually(timeout: .seconds(90)) {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state = 'succeeded'") == 5000
            }
            for worker in workers { worker.send(SIGTERM) }
            for worker in workers {
                let status = await worker.waitForExit()
                #expect(status == 0, "\(worker.log)")
            }
            #expect(drained)
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state <> 'succeeded'") == 0)
            // Exactly once: one claim and one success per task, no second attempt anywhere.
            #expect(
                try await fixture.scalar(Int.self, "SELECT count(*) FROM task_events WHERE to_state = 'succeeded'")
                    == 5000)
            #expect(
                try await fixture.scalar(Int.self, "SELECT count(*) FROM task_events WHERE to_state = 'running'")
                    == 5000)
            #expect(try await fixture.scalar(Int.self, "SELECT max(attempt) FROM tasks") == 1)
            // All four took part, and the registry shows them stopped with their counts.
            #expect(try await fixture.scalar(Int.self, "SELECT count(DISTINCT lease_owner) FROM tasks") == 4)
            #expect(
                try await fixture.scalar(Int.self, "SELECT sum(tasks_done) FROM workers WHERE state = 'stopped'")
                    == 5000)
        }
    }

    @Test("the tasks of a worker killed with SIGKILL are rescued within one lease period and finish elsewhere")
    func rescueAfterSigkill() async throws {
        try await QueueFixture.with { fixture in
            // Reviews that the victim cannot finish however slow the machine is (it waits ten minutes in fetch_diff
            // before it works) and that the rescuer, without that delay, finishes at once.
            let diff = #"diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -0,0 +1 @@\n+x = 1\n"#
            let ids = try await fixture.pool.run(
                try EnqueueTasks((0..<3).map { _ in task("review", payload: #"{"source": {"diff": "\#(diff)"}}"#) })
            ).map(
                \.id)
            let victim = try RunningProcess(
                "queue-worker", ["--instance", "victim"],
                environment: try workerEnvironment(fixture, ["AGENTQUEUE_NODE_DELAYS": "fetch_diff=600000"]))
            let claimed = try await eventually(timeout: .seconds(20)) {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state = 'running'") == 3
            }
            #expect(claimed, "\(victim.log)")
            victim.send(SIGKILL)
            await victim.waitForExit()
            let rescuer = try RunningProcess(
                "queue-worker", ["--instance", "rescuer"], environment: try workerEnvironment(fixture))
            let rescued = try await eventually(timeout: .seconds(10)) {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE rescues = 1") == 3
            }
            #expect(rescued)
            let finished = try await eventually(timeout: .seconds(20)) {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state = 'succeeded'") == 3
            }
            #expect(finished, "\(rescuer.log)")
            for id in ids {
                let record = try #require(try await fixture.pool.run(FetchTask(id: id)))
                // The worker died, not the task: the rescue gave the attempt back.
                #expect(record.attempt == 1)
                #expect(record.leaseOwner?.hasPrefix(WorkerIdentityPrefix.host + "/rescuer/") == true)
                #expect(record.errors.first?.message.contains("lease expired") == true)
            }
            rescuer.send(SIGTERM)
            #expect(await rescuer.waitForExit() == 0)
        }
    }

    @Test("a running worker leaves a paused queue's tasks alone; resume wakes it (by NOTIFY: its poll is ten minutes)")
    func pausedQueue() async throws {
        try await QueueFixture.with { fixture in
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "pause"],
                environment: try workerEnvironment(fixture, ["WORKER_POLL_INTERVAL_MS": "600000"]))
            defer { worker.send(SIGKILL) }
            let registered = try await eventually(timeout: .seconds(60)) {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM workers WHERE state = 'running'") == 1
            }
            #expect(registered, "\(worker.log)")
            #expect(try await fixture.pool.run(PauseQueue(queue: "default", reason: nil)))
            let id = try await fixture.pool.run(try EnqueueTask(task(payload: #"{"sleep_ms": 1}"#))).id
            // The enqueue's NOTIFY woke the worker; its claim left the task alone. Nothing to wait for but time.
            try await Task.sleep(for: .seconds(2))
            let record = try await fixture.pool.run(FetchTask(id: id))
            #expect(record?.state == .pending && record?.attempt == 0, "\(worker.log)")
            #expect(try await fixture.pool.run(ResumeQueue(queue: "default")))
            let done = try await eventually(timeout: .seconds(60)) {
                try await fixture.pool.run(FetchTask(id: id))?.state == .succeeded
            }
            #expect(done, "\(worker.log)")
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
        }
    }

    @Test("a restarted worker rescues what its earlier boot held, at once")
    func rescueEarlierBoot() async throws {
        try await QueueFixture.with { fixture in
            let id = try await fixture.pool.run(try EnqueueTask(task(payload: #"{"sleep_ms": 100}"#))).id
            // A previous boot of the same identity held it with a long lease.
            _ = try await fixture.pool.run(
                ClaimTasks(
                    workerID: "\(WorkerIdentityPrefix.host)/7/old-boot", queues: ["default"], limit: 1,
                    lease: .seconds(3600)
                ))
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "7"], environment: try workerEnvironment(fixture))
            let done = try await eventually(timeout: .seconds(10)) {
                try await fixture.pool.run(FetchTask(id: id))?.state == .succeeded
            }
            #expect(done, "\(worker.log)")
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
        }
    }

    @Test("SIGTERM drains: running tasks finish within the grace period, the rest are handed back without an attempt")
    func gracefulShutdown() async throws {
        try await QueueFixture.with { fixture in
            // The quick task runs long enough (4 s) to be seen running on a busy machine, and ends well inside the
            // grace period (12 s); the slow one outlives it and is handed back when the grace period ends.
            let quick = try await fixture.pool.run(try EnqueueTask(task(payload: #"{"sleep_ms": 4000}"#, priority: 0)))
                .id
            let slow = try await fixture.pool.run(try EnqueueTask(task(payload: #"{"sleep_ms": 600000}"#, priority: 1)))
                .id
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "drain"],
                environment: try workerEnvironment(fixture, ["WORKER_SHUTDOWN_GRACE_SECONDS": "12"])
            )
            // Both claimed: the slow one running, the quick one running (or, if this test was starved for 4 s, done).
            let running = try await eventually(timeout: .seconds(60)) {
                let slowState = try await fixture.pool.run(FetchTask(id: slow))?.state
                let quickState = try await fixture.pool.run(FetchTask(id: quick))?.state
                return slowState == .running && (quickState == .running || quickState == .succeeded)
            }
            #expect(running, "\(worker.log)")
            worker.send(SIGTERM)
            // No timing is asserted: the grace period bounds the drain, and the worker must exit cleanly after it.
            let status = await worker.waitForExit(timeout: .seconds(120))
            #expect(status == 0, "\(worker.log)")
            #expect(try await fixture.pool.run(FetchTask(id: quick))?.state == .succeeded)
            let handedBack = try #require(try await fixture.pool.run(FetchTask(id: slow)))
            #expect(handedBack.state == .pending)
            #expect(handedBack.attempt == 0)
            #expect(handedBack.errors.isEmpty)
        }
    }

    @Test("a second SIGTERM hands running tasks back at once")
    func secondSignal() async throws {
        try await QueueFixture.with { fixture in
            let slow = try await fixture.pool.run(try EnqueueTask(task(payload: #"{"sleep_ms": 60000}"#))).id
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "impatient"],
                environment: try workerEnvironment(fixture, ["WORKER_SHUTDOWN_GRACE_SECONDS": "600"])
            )
            let started = try await eventually { try await fixture.pool.run(FetchTask(id: slow))?.state == .running }
            #expect(started)
            worker.send(SIGTERM)
            try await Task.sleep(for: .milliseconds(300))
            #expect(worker.isRunning)
            worker.send(SIGTERM)
            #expect(await worker.waitForExit(timeout: .seconds(5)) == 0, "\(worker.log)")
            let record = try #require(try await fixture.pool.run(FetchTask(id: slow)))
            #expect(record.state == .pending)
            #expect(record.attempt == 0)
        }
    }

    @Test("unknown kinds, failing and cancelled tasks end with a clear state, and the worker carries on")
    func badTasksDoNotStopTheWorker() async throws {
        try await QueueFixture.with { fixture in
            let unknown = try await fixture.pool.run(try EnqueueTask(task("no.such.kind"))).id
            let flaky = try await fixture.pool.run(
                try EnqueueTask(task(payload: #"{"fail": "always broken"}"#, maxAttempts: 2))
            ).id
            let permanent = try await fixture.pool.run(
                try EnqueueTask(task(payload: #"{"fail": "bad input", "permanent": true}"#))
            )
            .id
            let badPayload = try await fixture.pool.run(try EnqueueTask(task(payload: #"{"sleep_ms": "soon"}"#))).id
            // Long enough that it cannot finish before its worker hears of the cancel, however busy the machine.
            let cancelled = try await fixture.pool.run(try EnqueueTask(task(payload: #"{"sleep_ms": 60000}"#))).id
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "robust"], environment: try workerEnvironment(fixture))
            let started = try await eventually {
                try await fixture.pool.run(FetchTask(id: cancelled))?.state == .running
            }
            #expect(started)
            let cancelOutcome = try await fixture.pool.run(CancelTask(id: cancelled))
            #expect(cancelOutcome == .cancelRequested)
            let settled = try await eventually(timeout: .seconds(20)) {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state IN ('dead', 'cancelled')")
                    == 5
            }
            #expect(settled, "\(worker.log)")
            let unknownRecord = try #require(try await fixture.pool.run(FetchTask(id: unknown)))
            #expect(unknownRecord.state == .dead)
            #expect(unknownRecord.errors.first?.message.contains("unknown task kind 'no.such.kind'") == true)
            let flakyRecord = try #require(try await fixture.pool.run(FetchTask(id: flaky)))
            #expect(flakyRecord.state == .dead)
            #expect(flakyRecord.errors.map(\.message) == ["always broken", "always broken"])
            #expect(try await fixture.pool.run(FetchTask(id: permanent))?.attempt == 1)
            #expect(try await fixture.pool.run(FetchTask(id: badPayload))?.state == .dead)
            #expect(try await fixture.pool.run(FetchTask(id: cancelled))?.state == .cancelled)
            // Still working.
            let after = try await fixture.pool.run(try EnqueueTask(task())).id
            let stillWorking = try await eventually {
                try await fixture.pool.run(FetchTask(id: after))?.state == .succeeded
            }
            #expect(stillWorking)
            #expect(worker.isRunning)
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
        }
    }

    @Test("an invalid configuration exits 78 with a message naming the setting")
    func invalidConfiguration() async throws {
        let output = try await TestProcesses.run(
            "queue-worker", ["--instance", "1"],
            environment: ["DATABASE_URL": "postgresql://u:topsecret@127.0.0.1/db", "WORKER_CONCURRENCY": "lots"]
        )
        #expect(output.status == 78)
        #expect(output.standardError.contains("WORKER_CONCURRENCY"))
        #expect(!output.standardError.contains("topsecret"))
    }
}

/// The host part of worker identities on this machine.
enum WorkerIdentityPrefix {
    static var host: String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
