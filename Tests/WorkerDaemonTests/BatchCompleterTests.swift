import Foundation
import PostgresClient
import TaskQueue
import TestSupport
import Testing

@testable import WorkerDaemon

@Suite("batched completer")
struct BatchCompleterTests {
    func completer(_ fixture: QueueFixture) -> BatchCompleter {
        BatchCompleter(
            connection: PinnedConnection(
                label: "test.complete", configuration: fixture.schema.configuration, logger: TestDatabase.logger),
            patience: .seconds(30), databaseSucceeded: {}, databaseFailed: { _ in }, redact: { $0 },
            logger: TestDatabase.logger
        )
    }

    /// Hands every lease to the completer from a task of its own and waits until all are pending.
    func handOver(_ leases: [Lease], to completer: BatchCompleter) async -> Task<[Int64: FencedWrite?], Never> {
        let results = Task {
            await withTaskGroup(of: (Int64, FencedWrite?).self) { group in
                for lease in leases {
                    group.addTask {
                        (
                            lease.taskID,
                            await completer.complete(lease, result: PostgresJSON(text: #"{"n":\#(lease.taskID)}"#))
                        )
                    }
                }
                var outcomes: [Int64: FencedWrite?] = [:]
                for await (id, outcome) in group { outcomes[id] = outcome }
                return outcomes
            }
        }
        _ = await eventually(timeout: .seconds(20), every: .milliseconds(5)) { completer.pendingCount == leases.count }
        return results
    }

    @Test("completions that wait together are written in one statement; a lost lease is told apart from the rest")
    func oneStatementAndLostLease() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.pool.run(try EnqueueTasks((0..<20).map { _ in task() }))
            let claimed = try await fixture.pool.run(
                ClaimTasks(
                    workerID: "w", queues: ["default"], limit: 20, lease: .seconds(60)))
            try #require(claimed.count == 20)
            // One lease is taken away before its completion is written.
            let lost = claimed[7].lease
            #expect(try await fixture.pool.run(ReleaseTask(lost, reason: "taken away")) == .written)

            let completer = completer(fixture)
            let results = await handOver(claimed.map(\.lease), to: completer)
            #expect(completer.pendingCount == 20)
            let writer = Task { await completer.run() }
            let outcomes = await results.value
            completer.finish()
            await writer.value

            for task in claimed {
                #expect(outcomes[task.lease.taskID] == (task.lease == lost ? .leaseLost : .written))
            }
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state = 'succeeded'") == 19)
            #expect(
                try await fixture.scalar(String.self, "SELECT state FROM tasks WHERE id = \(lost.taskID)") == "pending")
            #expect(
                try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE result->>'n' = id::text") == 19)
            // All 19 in one statement: one transaction, hence one timestamp on their events.
            #expect(
                try await fixture.scalar(
                    Int.self, "SELECT count(DISTINCT at) FROM task_events WHERE to_state = 'succeeded'") == 1)
        }
    }

    @Test(
        "finish() still writes everything handed over before it (a drain loses no completion); later ones are refused")
    func finishFlushes() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.pool.run(try EnqueueTasks((0..<5).map { _ in task() }))
            let claimed = try await fixture.pool.run(
                ClaimTasks(
                    workerID: "w", queues: ["default"], limit: 5, lease: .seconds(60)))
            try #require(claimed.count == 5)
            let completer = completer(fixture)
            let results = await handOver(Array(claimed.prefix(4)).map(\.lease), to: completer)
            // The worker finishes the completer once every attempt has settled; it may not have written yet.
            completer.finish()
            await completer.run()
            let outcomes = await results.value
            #expect(outcomes.count == 4)
            #expect(outcomes.values.allSatisfy { $0 == .written })
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state = 'succeeded'") == 4)
            // Nothing can arrive after finish(): it is refused at once rather than left waiting.
            #expect(await completer.complete(claimed[4].lease, result: nil) == nil)
            #expect(
                try await fixture.scalar(String.self, "SELECT state FROM tasks WHERE id = \(claimed[4].lease.taskID)")
                    == "running")
        }
    }
}
