import DaemonConfiguration
import Foundation
import PostgresClient
import TaskQueue
import TestSupport
import Testing

@testable import WorkerDaemon

@Suite("WORKER_LISTEN")
struct ListenSettingTests {
    @Test("it defaults to true, parses as a boolean, and --check-config shows it")
    func setting() throws {
        let base = ["DATABASE_URL": "postgresql://u@127.0.0.1/db"]
        #expect(try WorkerConfiguration(settings: base, instance: "1").listen)
        #expect(
            try !WorkerConfiguration(settings: base.merging(["WORKER_LISTEN": "false"]) { $1 }, instance: "1").listen)
        #expect(throws: ConfigurationError.self) {
            try WorkerConfiguration(settings: base.merging(["WORKER_LISTEN": "maybe"]) { $1 }, instance: "1")
        }
        let off = try WorkerConfiguration(settings: base.merging(["WORKER_LISTEN": "off"]) { $1 }, instance: "1")
        #expect(off.summary.contains("\nWORKER_LISTEN=false\n"))
    }

    @Test("with WORKER_LISTEN=false a worker opens no listener and still runs every task, by polling")
    func pollingOnly() async throws {
        try await QueueFixture.with { fixture in
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "poll-only"],
                environment: try fixture.workerEnvironment(["WORKER_LISTEN": "false"])
            )
            let registered = try await eventually {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM workers WHERE instance = 'poll-only'") == 1
            }
            #expect(registered, "\(worker.log)")
            _ = try await fixture.pool.run(try EnqueueTasks((0..<20).map { _ in task() }))
            let done = try await eventually {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state = 'succeeded'") == 20
            }
            #expect(done, "\(worker.log)")
            // No session of this worker waits in LISTEN (the listener's connection would be idle in ClientRead
            // with a LISTEN as its last statement).
            #expect(
                try await fixture.scalar(
                    Int.self,
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'queue-worker/poll-only' AND query ILIKE 'LISTEN%'"
                ) == 0
            )
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0, "\(worker.log)")
        }
    }
}
