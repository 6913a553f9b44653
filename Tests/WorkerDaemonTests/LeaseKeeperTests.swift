import Foundation
import Logging
import PostgresClient
import TaskQueue
import TestSupport
import Testing

@testable import WorkerDaemon

@Suite("lease keeper")
struct LeaseKeeperTests {
    /// A keeper beating every 100 ms on a connection of its own.
    static func keeper(_ fixture: QueueFixture, state: WorkerState, lease: Duration = .seconds(30)) -> LeaseKeeper {
        LeaseKeeper(
            connection: PinnedConnection(
                label: "test.heartbeat", configuration: fixture.schema.configuration, logger: TestDatabase.logger),
            state: state, leaseDuration: lease, interval: .milliseconds(100), redact: { $0 },
            logger: TestDatabase.logger
        )
    }

    @Test("a lease whose attempt is writing its outcome is not lost when it ends; one taken away is")
    func finishingIsNotLost() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.pool.run(try EnqueueTasks([task(), task()]))
            let claimed = try await fixture.pool.run(
                ClaimTasks(workerID: "test/lease-keeper/1", queues: ["default"], limit: 2, lease: .seconds(30)))
            try #require(claimed.count == 2)
            let (finished, taken) = (claimed[0], claimed[1])
            let state = WorkerState(settings: .init(concurrency: 2, queues: ["default"]))
            let controls = [TaskControl(), TaskControl()]
            state.register(finished, control: controls[0])
            state.register(taken, control: controls[1])
            let running = Task { try await Self.keeper(fixture, state: state).run() }
            defer { running.cancel() }

            // As the worker does: the attempt is finishing, then its completion ends the lease.
            state.beginFinishing(finished.lease)
            #expect(try await fixture.complete(finished.lease) == .written)
            // Another party takes the second lease away (here: handed back as if by a rescue).
            #expect(try await fixture.pool.run(ReleaseTask(taken.lease, reason: "taken away")) == .written)

            let lost = await eventually(timeout: .seconds(20)) { controls[1].isLeaseLost }
            #expect(lost, "the lease taken away must be seen as lost")
            // Several heartbeats have passed since the completion: the finishing attempt was never flagged.
            #expect(!controls[0].isLeaseLost, "an attempt that ended its own lease must not count as a lost lease")
            running.cancel()
            _ = await running.result
        }
    }
}
