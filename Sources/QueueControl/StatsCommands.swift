import ArgumentParser
import PostgresClient
import TaskQueue

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `queuectl stats`: counts per queue and state, oldest ready task, throughput.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show counts per queue and state, the oldest ready task's wait, and throughput.",
        discussion: """
            Pending and running counts are always exact (they are few and indexed). Succeeded, dead and cancelled \
            counts are exact while the tasks table holds at most --estimate-above rows (1,000,000 by default, as \
            the planner counts them in pg_class.reltuples); above that they are estimated from the table's \
            statistics (reltuples × the frequency of each queue and state in the extended statistics \
            tasks_queue_state_stats, refreshed by autovacuum's ANALYZE) and marked with ~. --exact always counts.

            READY is pending and due now; SCHEDULED is pending with a later run_after (delayed or backing off). \
            OLDEST READY is how long the oldest ready task has waited. Throughput counts tasks that finished in \
            the last minute and hour.

            Examples:
              queuectl stats
              queuectl stats --json | jq .totals.ready
              queuectl stats --exact
            """
    )

    @Flag(help: "Count every state exactly, however big the table is.")
    var exact = false

    @Option(
        name: .customLong("estimate-above"),
        help: ArgumentHelp("Estimate finished-task counts when the table has more rows than this.", valueName: "rows")
    )
    var estimateAbove = 1_000_000

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard estimateAbove >= 0 else { throw ValidationError("--estimate-above must be 0 or more") }
    }

    func run() async throws {
        try await reportingErrors {
            try await database.withPool(logger: makeCLILogger()) { pool in
                var stats = try await QueueClient(pool: pool).stats(estimateAbove: estimateAbove, exact: exact)
                stats.markUnserved(
                    by: try await pool.run(ListWorkers(includeStopped: false)),
                    paused: try await pool.run(ListPausedQueues()))
                if json {
                    try printJSON(stats)
                    return
                }
                print(renderStats(stats), terminator: "")
            }
        }
    }
}

/// The stats as text: a table per queue, throughput and the oldest ready task, and a note on estimates.
func renderStats(_ stats: QueueStats) -> String {
    let mark = stats.terminalCountsEstimated ? "~" : ""
    let table = TextTable(
        headers: [
            "QUEUE", "PENDING", "READY", "SCHEDULED", "RUNNING", "SUCCEEDED", "DEAD", "CANCELLED", "OLDEST READY",
            "DONE/1M", "DONE/1H", "DEAD/1H",
        ],
        rightAligned: Set(1...11),
        // The hourly figures are in the throughput line below; the queue name gives way last.
        flexible: [0],
        optional: [11, 10, 7, 3]
    )
    func row(_ counts: QueueCounts) -> [String] {
        [
            counts.queue, formatCount(counts.pending), formatCount(counts.ready), formatCount(counts.scheduled),
            formatCount(counts.running), mark + formatCount(counts.succeeded), mark + formatCount(counts.dead),
            mark + formatCount(counts.cancelled), counts.oldestReadySeconds.map { formatAge(seconds: $0) } ?? "-",
            formatCount(counts.succeededLastMinute), formatCount(counts.succeededLastHour),
            formatCount(counts.deadLastHour),
        ]
    }
    for counts in stats.queues { table.add(row(counts)) }
    if stats.queues.count != 1 { table.add(row(stats.totals)) }
    var text = stats.queues.isEmpty ? "the queue is empty\n" : table.render()
    let totals = stats.totals
    let minute = totals.succeededLastMinute
    let hour = totals.succeededLastHour
    text +=
        "\nsucceeded: \(formatCount(minute)) in the last minute (\(formatRate(minute, perSeconds: 60))), "
        + "\(formatCount(hour)) in the last hour (\(formatRate(hour, perSeconds: 3600)))\n"
        + "dead: \(formatCount(totals.deadLastHour)) in the last hour\n"
    if let oldest = totals.oldestReadySeconds {
        text += "oldest ready task has waited \(formatAge(seconds: oldest))\n"
    } else {
        text += "no task is waiting\n"
    }
    for paused in stats.pausedQueues ?? [] {
        let waiting = stats.queues.first { $0.queue == paused.queue }?.pending ?? 0
        text +=
            "paused: queue \(paused.queue) since \(formatTimestamp(paused.pausedAt))"
            + (paused.reason.map { " (\(terminalSafe($0)))" } ?? "")
            + ", \(formatCount(waiting)) pending task\(waiting == 1 ? "" : "s") left alone: queuectl resume \(paused.queue)\n"
    }
    for queue in stats.unservedQueues ?? [] {
        let ready = stats.queues.first { $0.queue == queue }?.ready ?? 0
        text +=
            "warning: \(formatCount(ready)) ready task\(ready == 1 ? "" : "s") in queue \(queue), which no live worker "
            + "serves: add it to a worker's WORKER_QUEUES\n"
    }
    if stats.terminalCountsEstimated {
        text +=
            "~ estimated from planner statistics: the tasks table has about \(formatCount(stats.tableRowsEstimate ?? 0)) "
            + "rows (more than --estimate-above \(formatCount(stats.estimateAbove))); --exact counts them\n"
    }
    return text
}

/// `queuectl workers`: the worker registry.
struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "List the registered workers; lost ones (no heartbeat for three intervals) are flagged.",
        discussion: """
            A lost worker stopped heart-beating without saying goodbye: it was killed, hangs, lost its database \
            connection or its host is gone. Its tasks are rescued by the other workers once their leases expire; when \
            the same instance starts again it marks its earlier boots stopped.

            Examples:
              queuectl workers
              queuectl workers --all --json
            """
    )

    @Flag(help: "Include stopped workers.")
    var all = false

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        try await reportingErrors {
            try await database.withPool(logger: makeCLILogger()) { pool in
                let now = try await pool.run(DatabaseNow())
                let workers = try await pool.run(ListWorkers(includeStopped: all))
                if json {
                    try printJSON(workers)
                    return
                }
                print(renderWorkers(workers, now: now), terminator: "")
            }
        }
    }
}

/// The workers as text: a table and a one-line summary.
func renderWorkers(_ workers: [WorkerRow], now: Date) -> String {
    guard !workers.isEmpty else { return "no workers registered (start some: systemctl start queue-worker@1)\n" }
    let table = TextTable(
        headers: ["WORKER", "STATE", "BUSY", "DONE", "FAILED", "HEARTBEAT", "UP", "QUEUES", "PID", "VERSION"],
        rightAligned: [2, 3, 4, 5, 6, 8],
        flexible: [0, 7],
        optional: [9, 8, 4],
        painted: [1]
    )
    for worker in workers {
        let up = (worker.stoppedAt ?? now).timeIntervalSince(worker.startedAt)
        table.add([
            worker.id, worker.state, "\(worker.running)/\(worker.concurrency)",
            formatCount(worker.tasksDone), formatCount(worker.tasksFailed),
            formatAge(seconds: worker.heartbeatAgeSeconds) + " ago", formatAge(seconds: up),
            worker.queues.joined(separator: ","), String(worker.pid), worker.version,
        ])
    }
    let states = Dictionary(grouping: workers, by: \.state).mapValues(\.count)
    var summary =
        "\(workers.count) worker\(workers.count == 1 ? "" : "s"): "
        + ["starting", "running", "draining", "stopped", "lost"].compactMap { state in
            states[state].map { "\($0) \(state)" }
        }
        .joined(separator: ", ")
    summary += ", \(workers.reduce(0) { $0 + $1.running }) tasks running"
    if states["lost"] != nil {
        summary += " (lost: no heartbeat for 3 intervals; check the process, its host and its logs)"
    }
    return table.render() + summary + "\n"
}
