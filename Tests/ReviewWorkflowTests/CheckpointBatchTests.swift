import AgentGraph
import PostgresClient
import TaskQueue
import TestSupport
import Testing

@Suite("checkpoints written together")
struct CheckpointBatchTests {
    @Test("one statement writes several nodes, each insert-if-absent, all fenced by the lease")
    func batchedWrite() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.queue.enqueue(task())
            let claimed = try #require(
                try await fixture.queue.claim(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(60)).first)
            let store = CheckpointStore(pool: fixture.pool)
            func output(_ node: String, _ value: Int) -> CheckpointStore.NodeOutput {
                .init(
                    node: node, version: 1, output: PostgresJSON(text: #"{"value":\#(value)}"#),
                    duration: .milliseconds(3))
            }
            #expect(try await store.write(lease: claimed.lease, [output("a", 1)]) == ["a": .written])
            // a already has a checkpoint: the first result stays; b and c are new.
            let outcomes = try await store.write(
                lease: claimed.lease, [output("a", 2), output("b", 3), output("c", 4)])
            #expect(outcomes == ["a": .exists, "b": .written, "c": .written])
            let loaded = try await store.load(taskID: claimed.lease.taskID)
            #expect(loaded.keys.sorted() == ["a", "b", "c"])
            #expect(loaded["a"]?.output.text.contains("1") == true)
            #expect(loaded["c"]?.duration == .milliseconds(3))
            #expect(loaded["b"]?.worker == "w")
            // Once the lease is gone nothing is written for any node.
            #expect(try await fixture.queue.release(claimed.lease, reason: "taken away") == .written)
            #expect(
                try await store.write(lease: claimed.lease, [output("d", 5), output("e", 6)]) == [
                    "d": .leaseLost, "e": .leaseLost,
                ])
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM task_checkpoints") == 3)
        }
    }
}
