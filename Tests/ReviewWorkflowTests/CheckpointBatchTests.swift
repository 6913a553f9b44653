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
            func checkpointed() async throws -> Bool {
                try await fixture.scalar(Bool.self, "SELECT checkpointed FROM tasks WHERE id = \(claimed.lease.taskID)")
            }
            #expect(try await checkpointed() == false)
            #expect(try await store.write(lease: claimed.lease, [output("a", 1)]) == ["a": .written])
            // The task row says it has checkpoints, so that the next claim knows there is something to load.
            #expect(try await checkpointed() == true)
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

    @Test("the previous version's single-node write_checkpoint is the same fenced write and marks the task too")
    func singleNodeWrite() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.queue.enqueue([task(), task()])
            let claimed = try await fixture.queue.claim(
                workerID: "w", queues: ["default"], limit: 2, lease: .seconds(60))
            try #require(claimed.count == 2)
            func write(_ task: ClaimedTask, _ node: String) async throws -> String {
                try await fixture.scalar(
                    String.self,
                    "SELECT write_checkpoint(\(task.lease.taskID), \(task.lease.token)::uuid, \(node), '{\"version\": 1}'::jsonb, 2.5::double precision)"
                )
            }
            #expect(try await write(claimed[0], "fetch") == "written")
            #expect(try await write(claimed[0], "fetch") == "exists")
            #expect(try await fixture.queue.release(claimed[1].lease, reason: "taken away") == .written)
            #expect(try await write(claimed[1], "fetch") == "lease_lost")
            let flags = try await fixture.pool.query(
                "SELECT id, checkpointed FROM tasks WHERE id = ANY (\([claimed[0].lease.taskID, claimed[1].lease.taskID])::bigint[])"
            )
            let byID = Dictionary(
                uniqueKeysWithValues: try flags.map {
                    (try $0.decode(Int64.self, "id"), try $0.decode(Bool.self, "checkpointed"))
                })
            #expect(byID == [claimed[0].lease.taskID: true, claimed[1].lease.taskID: false])
        }
    }
}
