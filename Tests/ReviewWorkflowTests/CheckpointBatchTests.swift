import AgentGraph
import Foundation
import PostgresClient
import TaskQueue
import TestSupport
import Testing

@Suite("checkpoints written together")
struct CheckpointBatchTests {
    @Test("one statement writes several nodes, each insert-if-absent, all fenced by the lease")
    func batchedWrite() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.pool.run(try EnqueueTask(task()))
            let claimed = try #require(
                try await fixture.pool.run(
                    ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(60))
                ).first)
            func output(_ node: String, _ value: Int) -> CheckpointOutput {
                .init(
                    node: node, version: 1, output: PostgresJSON(text: #"{"value":\#(value)}"#),
                    duration: .milliseconds(3), startedAt: Date())
            }
            func checkpointed() async throws -> Bool {
                try await fixture.scalar(Bool.self, "SELECT checkpointed FROM tasks WHERE id = \(claimed.lease.taskID)")
            }
            #expect(try await checkpointed() == false)
            #expect(
                try await fixture.pool.run(WriteCheckpoints(lease: claimed.lease, [output("a", 1)])) == ["a": .written])
            // The task row says it has checkpoints, so that the next claim knows there is something to load.
            #expect(try await checkpointed() == true)
            // a already has a checkpoint: the first result stays; b and c are new.
            let outcomes = try await fixture.pool.run(
                WriteCheckpoints(lease: claimed.lease, [output("a", 2), output("b", 3), output("c", 4)]))
            #expect(outcomes == ["a": .exists, "b": .written, "c": .written])
            let loaded = try await fixture.pool.run(LoadCheckpoints(taskID: claimed.lease.taskID))
            #expect(loaded.keys.sorted() == ["a", "b", "c"])
            #expect(loaded["a"]?.output.text.contains("1") == true)
            #expect(loaded["c"]?.duration == .milliseconds(3))
            #expect(loaded["b"]?.worker == "w")
            // Once the lease is gone nothing is written for any node.
            #expect(try await fixture.pool.run(ReleaseTask(claimed.lease, reason: "taken away")) == .written)
            #expect(
                try await fixture.pool.run(WriteCheckpoints(lease: claimed.lease, [output("d", 5), output("e", 6)]))
                    == [
                        "d": .leaseLost, "e": .leaseLost,
                    ])
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM task_checkpoints") == 3)
        }
    }
}
