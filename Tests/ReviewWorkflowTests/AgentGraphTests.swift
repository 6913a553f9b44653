import AgentGraph
import Foundation
import Logging
import PostgresClient
import Synchronization
import TaskQueue
import TestSupport
import Testing

struct Count: Codable, Sendable, Equatable {
    var value: Int
}

/// Counts how often each node ran.
final class RunCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func ran(_ node: String) {
        counts.withLock { $0[node, default: 0] += 1 }
    }

    var snapshot: [String: Int] { counts.withLock { $0 } }
}

func context(_ fixture: QueueFixture, worker: String = "w", control: TaskControl = TaskControl()) -> TaskContext {
    TaskContext(workerID: worker, logger: TestDatabase.logger, control: control)
}

/// A gate the test opens: the nodes waiting at it go on only then (no assumption about how long anything takes).
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// a → (b, c in parallel) → d; b, c and d wait at `gate` when one is given.
func diamond(_ counter: RunCounter, gate: Gate? = nil, failing: String? = nil) throws -> AgentGraphDefinition {
    func node(_ name: String, _ dependencies: [String], _ value: Int) -> GraphNode {
        GraphNode(name, dependsOn: dependencies, output: Count.self) { inputs in
            counter.ran(name)
            if name != "a", let gate { await gate.wait() }
            if name == failing { throw TaskFailure.retryable("\(name) broke") }
            let upstream = try dependencies.map { try inputs.output(of: $0, as: Count.self).value }.reduce(0, +)
            return Count(value: upstream + value)
        }
    }
    return try AgentGraphDefinition([
        node("a", [], 1), node("b", ["a"], 10), node("c", ["a"], 100), node("d", ["b", "c"], 1000),
    ])
}

@Suite("agent graph")
struct AgentGraphTests {
    @Test("definitions with cycles, unknown dependencies, duplicates or bad names are refused")
    func invalidDefinitions() {
        func node(_ name: String, _ dependencies: [String] = []) -> GraphNode {
            GraphNode(name, dependsOn: dependencies, output: Count.self) { _ in Count(value: 0) }
        }
        #expect(throws: GraphError.self) { try AgentGraphDefinition([node("a", ["b"]), node("b", ["a"])]) }
        #expect(throws: GraphError.self) { try AgentGraphDefinition([node("a", ["missing"])]) }
        #expect(throws: GraphError.self) { try AgentGraphDefinition([node("a"), node("a")]) }
        #expect(throws: GraphError.self) { try AgentGraphDefinition([node("Bad-Name")]) }
        #expect(throws: Never.self) { try AgentGraphDefinition([node("a"), node("b", ["a"])]) }
    }

    @Test("nodes fan out and in, each output is checkpointed, and a rerun loads instead of running")
    func checkpointsAndResume() async throws {
        try await QueueFixture.with { fixture in
            let counter = RunCounter()
            _ = try await fixture.pool.run(try EnqueueTask(task()))
            let claimed = try #require(
                try await fixture.pool.run(
                    ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(60))
                ).first)
            let runner = GraphRunner(checkpoints: fixture.pool, logger: TestDatabase.logger)
            let report = try await runner.run(try diamond(counter), task: claimed, context: context(fixture))
            #expect(try report.output(of: "d", as: Count.self) == Count(value: 1112))
            #expect(Set(report.executed.keys) == ["a", "b", "c", "d"])
            #expect(
                try await fixture.scalar(
                    Int.self, "SELECT count(*) FROM task_checkpoints WHERE task_id = \(claimed.lease.taskID)") == 4)
            // Claimed again (as after a crash and the rescue): the claim says the task has checkpoints, and
            // everything comes from them.
            #expect(!claimed.hasCheckpoints)
            #expect(try await fixture.pool.run(ReleaseTask(claimed.lease, reason: "resume")) == .written)
            let reclaimed = try #require(
                try await fixture.pool.run(
                    ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(60))
                ).first)
            #expect(reclaimed.hasCheckpoints)
            let again = try await runner.run(try diamond(counter), task: reclaimed, context: context(fixture))
            #expect(again.executed.isEmpty)
            #expect(Set(again.resumed.keys) == ["a", "b", "c", "d"])
            #expect(counter.snapshot == ["a": 1, "b": 1, "c": 1, "d": 1])
            // Checkpoints hold versioned JSON.
            let stored = try await fixture.scalar(
                PostgresJSON.self, "SELECT output FROM task_checkpoints WHERE node = 'd'")
            #expect(stored.text.contains("\"version\": 1"))
        }
    }

    @Test("checkpoints are written behind the nodes, in dependency order; the run ends once all are written")
    func writeBehindOrderAndBarrier() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.pool.run(try EnqueueTask(task()))
            let claimed = try #require(
                try await fixture.pool.run(
                    ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(60))
                ).first)
            let taskID = claimed.lease.taskID
            // a → (b, c) → d → last
            func node(_ name: String, _ dependencies: [String]) -> GraphNode {
                GraphNode(name, dependsOn: dependencies, output: Count.self) { _ in Count(value: 1) }
            }
            let graph = try AgentGraphDefinition([
                node("a", []), node("b", ["a"]), node("c", ["a"]), node("d", ["b", "c"]), node("last", ["d"]),
            ])
            let runner = GraphRunner(checkpoints: fixture.pool, logger: TestDatabase.logger)
            for _ in 0..<5 {
                try await fixture.pool.execute("DELETE FROM task_checkpoints WHERE task_id = \(taskID)")
                _ = try await runner.run(graph, task: claimed, context: context(fixture))
                // What comes after the run (the task's finish) sees every checkpoint.
                #expect(
                    try await fixture.scalar(
                        Int.self, "SELECT count(*) FROM task_checkpoints WHERE task_id = \(taskID)")
                        == 5)
                // Each write is its own transaction, issued after the previous one committed, and takes every output
                // queued so far: a node's checkpoint is never older than its inputs'.
                let rows = try await fixture.pool.query(
                    "SELECT node, created_at FROM task_checkpoints WHERE task_id = \(taskID)"
                )
                let at = Dictionary(
                    uniqueKeysWithValues: try rows.map {
                        (try $0.decode(String.self, "node"), try $0.decode(Date.self, "created_at"))
                    })
                let a = try #require(at["a"]), b = try #require(at["b"]), c = try #require(at["c"]),
                    d = try #require(at["d"])
                #expect(a <= b && a <= c && b <= d && c <= d, "\(at)")
            }
        }
    }

    @Test("without a checkpoint store the graph runs but writes nothing")
    func withoutCheckpoints() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.pool.run(try EnqueueTask(task()))
            let claimed = try #require(
                try await fixture.pool.run(
                    ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(60))
                ).first)
            let report = try await GraphRunner(checkpoints: nil, logger: TestDatabase.logger).run(
                try diamond(RunCounter()), task: claimed, context: context(fixture))
            #expect(try report.output(of: "d", as: Count.self).value == 1112)
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM task_checkpoints") == 0)
        }
    }

    @Test("a lease lost in the middle of the graph: the stale worker writes nothing more for the task")
    func leaseLostMidGraph() async throws {
        try await QueueFixture.with { fixture in
            let counter = RunCounter()
            let id = try await fixture.pool.run(try EnqueueTask(task())).id
            let stale = try #require(
                try await fixture.pool.run(
                    ClaimTasks(workerID: "stale", queues: ["default"], limit: 1, lease: .seconds(60))
                )
                .first)
            let runner = GraphRunner(checkpoints: fixture.pool, logger: TestDatabase.logger)
            let gate = Gate()
            let run = Task {
                try await runner.run(try diamond(counter, gate: gate), task: stale, context: context(fixture))
            }
            let started = await eventually(timeout: .seconds(60)) {
                counter.snapshot["b"] == 1 && counter.snapshot["c"] == 1
            }
            #expect(started)
            let firstCheckpointed = try await eventually(timeout: .seconds(60)) {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM task_checkpoints") == 1
            }
            #expect(firstCheckpointed)
            // Another worker takes the task over while b and c run.
            try await fixture.pool.execute(
                "UPDATE tasks SET lease_expires_at = now() - interval '1 second' WHERE id = \(id)")
            #expect(
                try await fixture.pool.run(
                    RescueTasks.expired(
                        retry: RetryPolicy(base: .milliseconds(1), maximum: .milliseconds(1))
                    )
                ).count == 1)
            try await fixture.pool.execute("UPDATE tasks SET run_after = now() WHERE id = \(id)")
            let fresh = try #require(
                try await fixture.pool.run(
                    ClaimTasks(workerID: "fresh", queues: ["default"], limit: 1, lease: .seconds(60))
                )
                .first)
            gate.open()
            await #expect(throws: TaskInterruption.leaseLost) { try await run.value }
            // Only a's checkpoint (written under the valid lease) exists; b, c and d wrote nothing. (Checkpoints are
            // written behind the nodes, so d may have started before the write of b and c told the stale worker
            // that its lease was gone; it ran at most once and wrote nothing.)
            let nodes = try await fixture.pool.query("SELECT node, worker FROM task_checkpoints ORDER BY node")
            #expect(try nodes.map { try $0.decode(String.self, "node") } == ["a"])
            #expect((counter.snapshot["d"] ?? 0) <= 1)
            // The new holder resumes from a's checkpoint.
            let report = try await runner.run(
                try diamond(counter), task: fresh, context: context(fixture, worker: "fresh"))
            #expect(Set(report.resumed.keys) == ["a"])
            #expect(try report.output(of: "d", as: Count.self).value == 1112)
        }
    }

    @Test("a requested cancellation stops the graph at the next node boundary")
    func cancellationAtBoundary() async throws {
        try await QueueFixture.with { fixture in
            let counter = RunCounter()
            _ = try await fixture.pool.run(try EnqueueTask(task()))
            let claimed = try #require(
                try await fixture.pool.run(
                    ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(60))
                ).first)
            let control = TaskControl()
            let runner = GraphRunner(checkpoints: fixture.pool, logger: TestDatabase.logger)
            let gate = Gate()
            let run = Task {
                try await runner.run(
                    try diamond(counter, gate: gate), task: claimed, context: context(fixture, control: control))
            }
            // Cancel while b and c run.
            let running = await eventually(timeout: .seconds(60), every: .milliseconds(5)) {
                counter.snapshot["b"] == 1 && counter.snapshot["c"] == 1
            }
            #expect(running)
            control.markCancelRequested()
            gate.open()
            await #expect(throws: TaskInterruption.cancelRequested) { try await run.value }
            // b and c finished (they were running); d never started.
            #expect(counter.snapshot == ["a": 1, "b": 1, "c": 1])
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM task_checkpoints") == 3)
        }
    }

    // Without cancellation the slow node would sleep for an hour: the time limit fails the test instead (no timing
    // assumption about how soon).
    @Test(
        "a node that throws fails the run with its error; a node over its timeout fails with a timeout",
        .timeLimit(.minutes(2)))
    func failuresAndTimeouts() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.pool.run(try EnqueueTask(task()))
            let claimed = try #require(
                try await fixture.pool.run(
                    ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(60))
                ).first)
            let runner = GraphRunner(checkpoints: fixture.pool, logger: TestDatabase.logger)
            await #expect(throws: TaskFailure.self) {
                try await runner.run(try diamond(RunCounter(), failing: "c"), task: claimed, context: context(fixture))
            }
            let slow = try AgentGraphDefinition([
                GraphNode("slow", timeout: .milliseconds(100), output: Count.self) { _ in
                    try await Task.sleep(for: .seconds(3600))
                    return Count(value: 0)
                }
            ])
            let error = await #expect(throws: GraphError.self) {
                try await runner.run(slow, task: claimed, context: context(fixture))
            }
            #expect(error?.description.contains("did not finish within") == true)
        }
    }
}
