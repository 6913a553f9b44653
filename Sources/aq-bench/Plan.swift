/// How much each scenario does, by mode. `full` is what docs/benchmarks.md reports; `quick` is for iterating on an
/// optimisation; `smoke` only proves, in CI, that every scenario still runs end to end (its figures mean nothing).
struct Plan: Sendable {
    var enqueueSingle: [(clients: Int, tasks: Int)]
    var enqueueBulkTasks: Int
    var enqueueBulkBatch = 1000
    var processes: [Int]
    var concurrency: [Int]
    var claimBatch: [Int]
    /// A drain is sized to take about this long at the pgbench rate of the same configuration.
    var drainSeconds: Double
    var minimumDrainTasks: Int
    var pgbenchSeconds: Int
    var notifyLatencyTasks: Int
    var pollLatencyTasks: Int
    /// Pause between enqueues in the latency runs (ms, uniformly random), so the queue is idle at each enqueue.
    var notifyGapMilliseconds: ClosedRange<Int>
    var pollGapMilliseconds: ClosedRange<Int>
    var pollIntervalMilliseconds: Int?
    var reviewProcesses: [Int]
    var reviewConcurrency = 4
    var reviews: Int
    var checkpointCostReviews: Int
    var idleSeconds: Double
    /// Configurations (processes, concurrency, batch) of the SQL-variant comparison (events, SECURITY DEFINER).
    var variantConfigurations: [(processes: Int, concurrency: Int, batch: Int)]
    /// Runs per drain configuration (and per checkpoint-cost pair); medians are reported.
    var repeats = 1
    /// Signed deliveries posted to queue-webhook per busy-core setting.
    var webhookDeliveries = 200

    static func make(_ mode: String) -> Plan? {
        switch mode {
        case "full":
            return Plan(
                enqueueSingle: [(1, 4000), (8, 12000)], enqueueBulkTasks: 100_000,
                processes: [1, 2, 4], concurrency: [1, 8, 32], claimBatch: [1, 10],
                drainSeconds: 4, minimumDrainTasks: 2000, pgbenchSeconds: 5,
                notifyLatencyTasks: 400, pollLatencyTasks: 40,
                notifyGapMilliseconds: 5...25, pollGapMilliseconds: 100...300, pollIntervalMilliseconds: nil,
                reviewProcesses: [1, 2, 4], reviews: 3000, checkpointCostReviews: 1000, idleSeconds: 3,
                variantConfigurations: [(1, 32, 10), (1, 8, 1)], repeats: 3, webhookDeliveries: 5000
            )
        case "quick":
            return Plan(
                enqueueSingle: [(1, 1500), (8, 4000)], enqueueBulkTasks: 30_000,
                processes: [1, 4], concurrency: [8, 32], claimBatch: [1, 10],
                drainSeconds: 2.5, minimumDrainTasks: 1000, pgbenchSeconds: 3,
                notifyLatencyTasks: 150, pollLatencyTasks: 15,
                notifyGapMilliseconds: 5...25, pollGapMilliseconds: 100...300, pollIntervalMilliseconds: nil,
                reviewProcesses: [1, 4], reviews: 1000, checkpointCostReviews: 400, idleSeconds: 2,
                variantConfigurations: [(1, 32, 10)], webhookDeliveries: 2000
            )
        case "smoke":
            return Plan(
                enqueueSingle: [(1, 100), (4, 200)], enqueueBulkTasks: 2000, enqueueBulkBatch: 500,
                processes: [1], concurrency: [8], claimBatch: [10],
                drainSeconds: 0.5, minimumDrainTasks: 300, pgbenchSeconds: 1,
                notifyLatencyTasks: 20, pollLatencyTasks: 4,
                notifyGapMilliseconds: 5...15, pollGapMilliseconds: 20...60, pollIntervalMilliseconds: 100,
                reviewProcesses: [1], reviews: 10, checkpointCostReviews: 10, idleSeconds: 0.5,
                variantConfigurations: []
            )
        default:
            return nil
        }
    }
}
