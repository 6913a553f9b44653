import Foundation
import Logging
import PostgresClient
import TaskQueue

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the scenarios one after another against one database and collects their results.
final class Bench {
    let database: BenchDatabase
    let databaseURL: String
    let plan: Plan
    let workerBinary: String
    let workerEnvironment: [String: String]
    let pgbench: PgBench?
    let workDirectory: String
    let reviewPayload: String
    let logger: Logger
    var results: BenchResults
    private var peakRSS = 0

    init(
        database: BenchDatabase, databaseURL: String, plan: Plan, workerBinary: String,
        workerEnvironment: [String: String], pgbench: PgBench?, workDirectory: String, reviewPayload: String,
        logger: Logger, results: BenchResults
    ) {
        self.database = database
        self.databaseURL = databaseURL
        self.plan = plan
        self.workerBinary = workerBinary
        self.workerEnvironment = workerEnvironment
        self.pgbench = pgbench
        self.workDirectory = workDirectory
        self.reviewPayload = reviewPayload
        self.logger = logger
        self.results = results
    }

    func progress(_ message: String) {
        var line = Array("[aq-bench] \(message)\n".utf8)
        _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    // MARK: Workers

    /// Starts `processes` workers with `settings`, runs `body`, and always stops them; records their peak RSS.
    func withWorkers<T>(
        _ processes: Int,
        settings: [String: String],
        label: String,
        _ body: (WorkerFleet) async throws -> T
    ) async throws -> T {
        let fleet = try WorkerFleet(
            binary: workerBinary, count: processes, databaseURL: databaseURL, settings: settings,
            extraEnvironment: workerEnvironment, logDirectory: workDirectory, label: label
        )
        do {
            let value = try await body(fleet)
            try await fleet.stop()
            return value
        } catch {
            await fleet.kill()
            throw error
        }
    }

    // MARK: 1. Enqueue

    func enqueueScenario() async throws {
        for (clients, tasks) in plan.enqueueSingle {
            try await database.reset()
            let connections = try await (0..<clients).asyncMap { _ in
                try await PostgresConnection.connect(configuration: database.configuration, logger: logger)
            }
            let clock = ContinuousClock()
            let start = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, connection) in connections.enumerated() {
                    let share = tasks / clients + (index < tasks % clients ? 1 : 0)
                    group.addTask {
                        let enqueue = try EnqueueTask(NewTask(kind: "noop"))
                        for _ in 0..<share { _ = try await connection.run(enqueue) }
                    }
                }
                try await group.waitForAll()
            }
            let seconds = (clock.now - start).seconds
            for connection in connections { await connection.close() }
            results.enqueue.append(
                .init(
                    mode: "single (enqueue_task)", clients: clients, batch: 1, tasks: tasks, seconds: seconds,
                    tasksPerSecond: Double(tasks) / seconds)
            )
            progress("enqueue single, \(clients) clients: \(grouped(Double(tasks) / seconds)) tasks/s")
        }

        try await database.reset()
        let pool = PostgresConnectionPool(
            connection: database.configuration, pool: .init(maximumConnections: 1), logger: logger)
        let batch = Array(repeating: NewTask(kind: "noop"), count: plan.enqueueBulkBatch)
        let clock = ContinuousClock()
        let start = clock.now
        var done = 0
        while done < plan.enqueueBulkTasks {
            let chunk = min(plan.enqueueBulkBatch, plan.enqueueBulkTasks - done)
            _ = try await pool.run(try EnqueueTasks(chunk == batch.count ? batch : Array(batch.prefix(chunk))))
            done += chunk
        }
        let seconds = (clock.now - start).seconds
        await pool.close()
        results.enqueue.append(
            .init(
                mode: "bulk (enqueue_tasks)", clients: 1, batch: plan.enqueueBulkBatch, tasks: done, seconds: seconds,
                tasksPerSecond: Double(done) / seconds)
        )
        progress("enqueue bulk: \(grouped(Double(done) / seconds)) tasks/s")
    }

    // MARK: 2 + 6. Drain, and pgbench at the same concurrency and batch size

    /// pgbench's rate (tasks per second, from the database's timestamps) for `clients` clients claiming `batch`
    /// tasks per statement, and the database server's CPU seconds per 1,000 tasks.
    func pgbenchLimit(clients: Int, batch: Int) async throws -> (rate: Double, clientCPU: Double, databaseCPU: Double?)
    {
        guard let pgbench else { throw BenchError("pgbench is not available") }
        var fill = max(20_000, batch >= 8 ? 25_000 * plan.pgbenchSeconds : 8_000 * plan.pgbenchSeconds)
        if plan.pgbenchSeconds <= 1 { fill = 5_000 }
        for _ in 0..<3 {
            try await database.reset()
            try await database.fill(count: fill)
            let cpuBefore = database.serverCPUSeconds()
            let outcome = try await pgbench.run(clients: clients, batch: batch, seconds: plan.pgbenchSeconds)
            // pgbench's backends have exited: give the postmaster a moment to reap them (their CPU time moves to it).
            try await Task.sleep(for: .milliseconds(200))
            let cpuAfter = database.serverCPUSeconds()
            let span = try await database.span(kind: "noop")
            let left = try await database.unfinished()
            if left > 0 || fill >= 1_000_000 {
                let succeeded = Double(max(span.succeeded, 1))
                let databaseCPU = difference(cpuBefore, cpuAfter).map { $0 / succeeded * 1000 }
                return (span.perSecond, outcome.clientCPUSeconds / succeeded * 1000, databaseCPU)
            }
            // The queue ran dry before pgbench stopped: the rate would be too low. Fill more and measure again.
            fill *= 3
        }
        throw BenchError("pgbench kept draining the queue dry")
    }

    func drainScenario() async throws {
        for processes in plan.processes {
            for concurrency in plan.concurrency {
                for batch in plan.claimBatch {
                    results.drain.append(
                        try await repeatedDrain(processes: processes, concurrency: concurrency, batch: batch))
                }
            }
        }
    }

    /// `plan.repeats` drain runs of one configuration, each paired with its pgbench run: the medians, and every run.
    /// The machine is shared, so single runs vary by ±15 %; each ratio compares two runs made one after the other.
    func repeatedDrain(processes: Int, concurrency: Int, batch: Int) async throws -> BenchResults.Drain {
        var runs: [BenchResults.Drain] = []
        for _ in 0..<plan.repeats {
            runs.append(try await drainRun(processes: processes, concurrency: concurrency, batch: batch))
        }
        var row = runs[0]
        row.tasks = Int(median(runs.map { Double($0.tasks) }))
        row.seconds = median(runs.map(\.seconds))
        row.tasksPerSecond = median(runs.map(\.tasksPerSecond))
        row.pgbenchTasksPerSecond = median(runs.map(\.pgbenchTasksPerSecond))
        row.ratioToPgbench = median(runs.map(\.ratioToPgbench))
        row.workerCPUSecondsPer1000 = median(runs.map(\.workerCPUSecondsPer1000))
        row.pgbenchClientCPUSecondsPer1000 = median(runs.map(\.pgbenchClientCPUSecondsPer1000))
        let database = runs.compactMap(\.databaseCPUSecondsPer1000)
        row.databaseCPUSecondsPer1000 = database.isEmpty ? nil : median(database)
        let pgbenchDatabase = runs.compactMap(\.pgbenchDatabaseCPUSecondsPer1000)
        row.pgbenchDatabaseCPUSecondsPer1000 = pgbenchDatabase.isEmpty ? nil : median(pgbenchDatabase)
        row.peakRSSMB = runs.map(\.peakRSSMB).max() ?? 0
        row.runs = runs.map {
            .init(tasksPerSecond: $0.tasksPerSecond, pgbenchTasksPerSecond: $0.pgbenchTasksPerSecond)
        }
        if plan.repeats > 1 {
            progress(
                "  median of \(plan.repeats): \(grouped(row.tasksPerSecond)) tasks/s, pgbench "
                    + "\(grouped(row.pgbenchTasksPerSecond)) (\(format(row.ratioToPgbench * 100, 0)) %)"
            )
        }
        return row
    }

    func drainRun(processes: Int, concurrency: Int, batch: Int) async throws -> BenchResults.Drain {
        // The same work in flight as the workers: P × C tasks, claimed and completed b = min(C, B) per statement (a
        // worker never claims more than its free slots), so P × ⌈C / b⌉ pgbench clients.
        let pgbenchBatch = min(concurrency, batch)
        let clients = processes * ((concurrency + pgbenchBatch - 1) / pgbenchBatch)
        let limit = try await pgbenchLimit(clients: clients, batch: pgbenchBatch)

        let tasks = max(plan.minimumDrainTasks, min(200_000, Int(limit.rate * plan.drainSeconds)))
        try await database.reset()
        try await database.fill(count: tasks)
        let settings = ["WORKER_CONCURRENCY": "\(concurrency)", "WORKER_CLAIM_BATCH": "\(batch)"]
        let (cpu, peak, databaseCPU) = try await withWorkers(processes, settings: settings, label: "drain") { fleet in
            let sampler = PeakMemorySampler(pids: fleet.pids)
            let databaseBefore = database.serverCPUSeconds()
            guard try await database.waitUntilDrained(timeout: .seconds(300)) else {
                _ = sampler.stop()
                throw BenchError("the drain did not finish within 300 s")
            }
            let databaseAfter = database.serverCPUSeconds()
            let cpu = fleet.samples().compactMap { $0?.cpuSeconds }.reduce(0, +)
            let peaks = sampler.stop()
            return (cpu, peaks.values.max() ?? 0, difference(databaseBefore, databaseAfter))
        }
        let span = try await database.span(kind: "noop")
        guard span.succeeded == tasks, span.failed == 0 else {
            throw BenchError("drain: \(span.succeeded) of \(tasks) tasks succeeded, \(span.failed) did not")
        }
        peakRSS = max(peakRSS, peak)
        let row = BenchResults.Drain(
            processes: processes, concurrency: concurrency, claimBatch: batch, tasks: tasks, seconds: span.seconds,
            tasksPerSecond: span.perSecond, pgbenchClients: clients, pgbenchBatch: pgbenchBatch,
            pgbenchTasksPerSecond: limit.rate, ratioToPgbench: span.perSecond / limit.rate,
            workerCPUSecondsPer1000: cpu / Double(tasks) * 1000,
            pgbenchClientCPUSecondsPer1000: limit.clientCPU,
            databaseCPUSecondsPer1000: databaseCPU.map { $0 / Double(tasks) * 1000 },
            pgbenchDatabaseCPUSecondsPer1000: limit.databaseCPU,
            peakRSSMB: Double(peak) / 1_048_576
        )
        progress(
            "drain \(processes)×\(concurrency) batch \(batch): \(grouped(row.tasksPerSecond)) tasks/s, pgbench "
                + "\(grouped(limit.rate)) (\(format(row.ratioToPgbench * 100, 0)) %)"
        )
        return row
    }

    // MARK: 3. Enqueue → start latency

    func latencyScenario() async throws {
        for listen in [true, false] {
            try await database.reset()
            var settings = ["WORKER_LISTEN": listen ? "true" : "false"]
            if let interval = plan.pollIntervalMilliseconds { settings["WORKER_POLL_INTERVAL_MS"] = "\(interval)" }
            let count = listen ? plan.notifyLatencyTasks : plan.pollLatencyTasks
            let gaps = listen ? plan.notifyGapMilliseconds : plan.pollGapMilliseconds
            try await withWorkers(1, settings: settings, label: listen ? "notify" : "poll") { fleet in
                try await fleet.waitUntilReady(database: database)
                try await Task.sleep(for: .milliseconds(500))
                for _ in 0..<count {
                    _ = try await database.connection.run(try EnqueueTask(NewTask(kind: "noop")))
                    try await Task.sleep(for: .milliseconds(Int.random(in: gaps)))
                }
                guard try await database.waitUntilDrained(timeout: .seconds(60)) else {
                    throw BenchError("latency: tasks were not all run within 60 s")
                }
            }
            let latencies = try await database.startLatencies(kind: "noop")
            guard latencies.count == count else {
                throw BenchError("latency: \(latencies.count) of \(count) tasks succeeded")
            }
            let wakeup =
                listen
                ? "NOTIFY (WORKER_LISTEN=true)"
                : "polling only (WORKER_LISTEN=false, poll \(plan.pollIntervalMilliseconds ?? 1000) ms ± 20 %)"
            let row = BenchResults.Latency(
                wakeup: wakeup, tasks: count, p50ms: percentile(latencies, 0.50) * 1000,
                p95ms: percentile(latencies, 0.95) * 1000, p99ms: percentile(latencies, 0.99) * 1000,
                maxms: (latencies.last ?? 0) * 1000
            )
            results.latency.append(row)
            progress(
                "latency \(listen ? "notify" : "poll"): p50 \(format(row.p50ms, 2)) ms, p99 \(format(row.p99ms, 2)) ms")
        }
    }

    // MARK: 4. The review workflow

    func reviewRun(processes: Int, concurrency: Int, checkpointing: Bool, reviews: Int) async throws
        -> BenchResults.Review
    {
        try await database.reset()
        try await database.fill(count: reviews, kind: "review", payload: reviewPayload, numbered: true)
        let settings = [
            "WORKER_CONCURRENCY": "\(concurrency)", "ENABLE_CHECKPOINTING": checkpointing ? "true" : "false",
        ]
        try await withWorkers(processes, settings: settings, label: "review") { fleet in
            let sampler = PeakMemorySampler(pids: fleet.pids)
            let drained = try await database.waitUntilDrained(timeout: .seconds(600))
            peakRSS = max(peakRSS, sampler.stop().values.max() ?? 0)
            guard drained else { throw BenchError("reviews did not finish within 600 s") }
        }
        let span = try await database.span(kind: "review")
        guard span.succeeded == reviews else {
            throw BenchError("review: \(span.succeeded) of \(reviews) reviews succeeded")
        }
        return BenchResults.Review(
            processes: processes, concurrency: concurrency, checkpointing: checkpointing, reviews: reviews,
            seconds: span.seconds, reviewsPerSecond: span.perSecond, meanReviewMs: span.meanRunSeconds * 1000,
            medianReviewMs: span.medianRunSeconds * 1000
        )
    }

    func reviewScenario() async throws {
        var throughput: [Int: [Bool: Double]] = [:]
        for processes in plan.reviewProcesses {
            for checkpointing in [true, false] {
                let row = try await reviewRun(
                    processes: processes, concurrency: plan.reviewConcurrency, checkpointing: checkpointing,
                    reviews: plan.reviews
                )
                results.review.append(row)
                throughput[processes, default: [:]][checkpointing] = row.reviewsPerSecond
                progress(
                    "review \(processes) workers, checkpoints \(checkpointing ? "on" : "off"): "
                        + "\(format(row.reviewsPerSecond, 1)) reviews/s"
                )
            }
        }
        // A review's own time, without queueing: one worker running one review at a time, with and without
        // checkpoints, alternating. Time per review = the whole run divided by the reviews: claim, graph, checkpoints
        // and the recording transaction included.
        var timesOn: [Double] = []
        var timesOff: [Double] = []
        for _ in 0..<plan.repeats {
            for checkpointing in [true, false] {
                let row = try await reviewRun(
                    processes: 1, concurrency: 1, checkpointing: checkpointing, reviews: plan.checkpointCostReviews
                )
                results.review.append(row)
                if checkpointing {
                    timesOn.append(row.seconds / Double(row.reviews))
                } else {
                    timesOff.append(row.seconds / Double(row.reviews))
                }
            }
        }
        let timeOn = median(timesOn)
        let timeOff = median(timesOff)
        var byProcesses: [String: Double] = [:]
        for (processes, rates) in throughput {
            if let rateOn = rates[true], let rateOff = rates[false], rateOff > 0 {
                byProcesses["\(processes)"] = 1 - rateOn / rateOff
            }
        }
        results.checkpointCost = .init(
            meanReviewMsOn: timeOn * 1000, meanReviewMsOff: timeOff * 1000,
            shareOfReviewTime: timeOn > 0 ? (timeOn - timeOff) / timeOn : 0, throughputCostByProcesses: byProcesses
        )
        progress("checkpoint share of a review: \(format((timeOn - timeOff) / timeOn * 100, 1)) %")
    }

    // MARK: 5. Memory

    func memoryScenario() async throws {
        try await database.reset()
        let sample = try await withWorkers(1, settings: [:], label: "idle") { fleet -> ProcSample in
            try await fleet.waitUntilReady(database: database)
            try await Task.sleep(for: .milliseconds(Int(plan.idleSeconds * 1000)))
            guard let sample = fleet.samples().first ?? nil else { throw BenchError("the idle worker is gone") }
            return sample
        }
        results.memory = .init(
            idleRSSMB: Double(sample.rss) / 1_048_576, idleAnonMB: Double(sample.rssAnon) / 1_048_576,
            idleFileMB: Double(sample.rssFile) / 1_048_576, idleThreads: sample.threads,
            peakRSSUnderLoadMB: Double(peakRSS) / 1_048_576, workerEnvironment: workerEnvironment
        )
        progress("idle RSS \(format(Double(sample.rss) / 1_048_576, 1)) MB")
    }

    /// Fills in the peak RSS under load once the load scenarios ran.
    func finishMemory() {
        results.memory?.peakRSSUnderLoadMB = Double(peakRSS) / 1_048_576
    }
}

/// The median (the mean of the two middle values for an even count).
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// Nearest-rank percentile of sorted values.
func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((fraction * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var values: [T] = []
        for element in self { values.append(try await transform(element)) }
        return values
    }
}

/// `after - before` when both are known.
func difference(_ before: Double?, _ after: Double?) -> Double? {
    guard let before, let after else { return nil }
    return after - before
}

// MARK: SQL variants: what task_events rows and SECURITY DEFINER cost

extension Bench {
    /// The claim and completion functions as installed, with their signatures.
    static let hotFunctions = [
        "claim_task(text, text[], integer, interval)", "complete_tasks(bigint[], uuid[], jsonb[])",
    ]

    /// Runs drain configurations (pgbench and workers) with the functions as shipped, without their `task_events`
    /// inserts, and as SECURITY INVOKER; restores the shipped functions afterwards.
    func variantScenario() async throws {
        var shipped: [String: String] = [:]
        for function in Self.hotFunctions {
            let rows = try await database.connection.query(
                "SELECT pg_get_functiondef(\(function)::regprocedure) AS definition"
            )
            shipped[function] = try rows.single?.decode(String.self, "definition")
        }
        let variants: [(name: String, apply: [String])] = [
            ("as shipped", []),
            ("without task_events rows", try Self.hotFunctions.map { try Self.removingEvents(shipped[$0] ?? "") }),
            ("SECURITY INVOKER", Self.hotFunctions.map { "ALTER FUNCTION \($0) SECURITY INVOKER RESET search_path" }),
        ]
        do {
            for configuration in plan.variantConfigurations {
                for variant in variants {
                    for statement in variant.apply { try await database.connection.simpleQuery(statement) }
                    let row = try await repeatedDrain(
                        processes: configuration.processes, concurrency: configuration.concurrency,
                        batch: configuration.batch
                    )
                    results.variants.append(.init(variant: variant.name, drain: row))
                    try await restore(shipped)
                }
            }
        } catch {
            try? await restore(shipped)
            throw error
        }
    }

    private func restore(_ definitions: [String: String]) async throws {
        for definition in definitions.values { try await database.connection.simpleQuery(definition) }
        // CREATE OR REPLACE keeps the privileges; agentqueue_grant_roles() puts SECURITY DEFINER back.
        try await database.connection.simpleQuery("SELECT agentqueue_grant_roles()")
    }

    /// A function definition without its `events AS (INSERT INTO task_events …)` step.
    static func removingEvents(_ definition: String) throws -> String {
        guard let start = definition.range(of: ", events AS (") else {
            throw BenchError("no events step in:\n\(definition)")
        }
        var depth = 1
        var index = start.upperBound
        while depth > 0 && index < definition.endIndex {
            if definition[index] == "(" { depth += 1 }
            if definition[index] == ")" { depth -= 1 }
            index = definition.index(after: index)
        }
        guard depth == 0 else { throw BenchError("unbalanced events step in:\n\(definition)") }
        return String(definition[..<start.lowerBound]) + String(definition[index...])
    }
}
