import Foundation
import Logging
import PostgresClient
import TaskQueue
import TestSupport
import Testing

@testable import WorkerDaemon

@Suite("lease keeper")
struct LeaseKeeperTests {
    @Test("a lease gone because its own attempt completed the task is not lost; one taken away is")
    func completedIsNotLost() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.queue.enqueue([task(), task()])
            let claimed = try await fixture.queue.claim(
                workerID: "test/lease-keeper/1", queues: ["default"], limit: 2, lease: .seconds(30)
            )
            try #require(claimed.count == 2)
            let (finished, taken) = (claimed[0], claimed[1])
            let state = WorkerState(settings: .init(concurrency: 2, queues: ["default"]))
            let controls = [TaskControl(), TaskControl()]
            state.register(finished, control: controls[0])
            state.register(taken, control: controls[1])
            let keeper = LeaseKeeper(
                configuration: fixture.schema.configuration, state: state, leaseDuration: .seconds(30),
                interval: .milliseconds(100), logger: TestDatabase.logger
            )
            let running = Task { try await keeper.run() }
            defer { running.cancel() }

            // As a handler that completes in the transaction storing its results, before it returns.
            let connection = try await fixture.schema.connect()
            #expect(try await QueueClient.complete(finished.lease, result: nil, on: connection) == .written)
            await connection.close()
            // Another party takes the second lease away (here: handed back as if by a rescue).
            #expect(try await fixture.queue.release(taken.lease, reason: "taken away") == .written)

            let lost = await eventually(timeout: .seconds(20)) { controls[1].isLeaseLost }
            #expect(lost, "the lease taken away must be seen as lost")
            // Several heartbeats have passed since the completion: the completed attempt was never flagged.
            #expect(!controls[0].isLeaseLost, "a task its own attempt completed must not count as a lost lease")
            running.cancel()
            _ = await running.result
        }
    }
}
