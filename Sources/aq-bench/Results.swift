import Foundation

/// Everything one benchmark run measured; written as JSON and printed as Markdown tables.
struct BenchResults: Codable, Sendable {
    struct Machine: Codable, Sendable {
        var cpu: String
        var cores: Int
        var memoryGB: Double
        var kernel: String
        var postgres: [String: String]
    }

    struct Enqueue: Codable, Sendable {
        var mode: String
        var clients: Int
        var batch: Int
        var tasks: Int
        var seconds: Double
        var tasksPerSecond: Double
    }

    struct Drain: Codable, Sendable {
        var processes: Int
        var concurrency: Int
        var claimBatch: Int
        var tasks: Int
        var seconds: Double
        var tasksPerSecond: Double
        /// pgbench with the same tasks in flight (processes × concurrency) and batch size (min(concurrency, claim
        /// batch)): processes × ⌈concurrency / batch⌉ clients.
        var pgbenchClients: Int
        var pgbenchBatch: Int
        var pgbenchTasksPerSecond: Double
        var ratioToPgbench: Double
        var workerCPUSecondsPer1000: Double
        var pgbenchClientCPUSecondsPer1000: Double
        var databaseCPUSecondsPer1000: Double?
        var pgbenchDatabaseCPUSecondsPer1000: Double?
        var peakRSSMB: Double
        /// Every run when the configuration was repeated (the figures above are their medians).
        var runs: [Run] = []

        struct Run: Codable, Sendable {
            var tasksPerSecond: Double
            var pgbenchTasksPerSecond: Double
        }
    }

    struct Variant: Codable, Sendable {
        var variant: String
        var drain: Drain
    }

    struct Latency: Codable, Sendable {
        var wakeup: String
        var tasks: Int
        var p50ms: Double
        var p95ms: Double
        var p99ms: Double
        var maxms: Double
    }

    struct Review: Codable, Sendable {
        var processes: Int
        var concurrency: Int
        var checkpointing: Bool
        var reviews: Int
        var seconds: Double
        var reviewsPerSecond: Double
        var meanReviewMs: Double
        var medianReviewMs: Double
    }

    struct CheckpointCost: Codable, Sendable {
        /// One worker, one review at a time: time per review with and without checkpoints (medians of the repeats).
        var meanReviewMsOn: Double
        var meanReviewMsOff: Double
        /// (on − off) / on.
        var shareOfReviewTime: Double
        /// 1 − throughput on / throughput off, per number of worker processes.
        var throughputCostByProcesses: [String: Double]
    }

    struct Memory: Codable, Sendable {
        var idleRSSMB: Double
        var idleAnonMB: Double
        var idleFileMB: Double
        var idleThreads: Int
        var peakRSSUnderLoadMB: Double
        var workerEnvironment: [String: String]
    }

    var label: String
    var mode: String
    var startedAt: String
    var machine: Machine
    var schemaVersion: Int
    var workerBinary: String
    var workerEnvironment: [String: String]
    var pgbenchScript: String
    var enqueue: [Enqueue] = []
    var drain: [Drain] = []
    var variants: [Variant] = []
    var latency: [Latency] = []
    var review: [Review] = []
    var webhook: [Webhook] = []
    var checkpointCost: CheckpointCost?
    var memory: Memory?
    var notes: [String] = []

    func writeJSON(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }

    /// The results as Markdown tables.
    var markdown: String {
        var out: [String] = []
        out.append("AgentQueue benchmark (\(mode)\(label.isEmpty ? "" : ", \(label)")), \(startedAt)")
        out.append(
            "machine: \(machine.cpu), \(machine.cores) cores, \(format(machine.memoryGB, 1)) GB, \(machine.kernel); "
                + "PostgreSQL \(machine.postgres["server_version"] ?? "?") fsync=\(machine.postgres["fsync"] ?? "?") "
                + "synchronous_commit=\(machine.postgres["synchronous_commit"] ?? "?") "
                + "shared_buffers=\(machine.postgres["shared_buffers"] ?? "?"); schema \(schemaVersion)"
        )
        if !workerEnvironment.isEmpty {
            out.append(
                "worker environment: "
                    + workerEnvironment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                    .joined(separator: " "))
        }
        if !enqueue.isEmpty {
            out.append("\n### Enqueue\n")
            out.append("| mode | clients | tasks per statement | tasks | seconds | tasks/s |")
            out.append("| --- | ---: | ---: | ---: | ---: | ---: |")
            for row in enqueue {
                out.append(
                    "| \(row.mode) | \(row.clients) | \(row.batch) | \(row.tasks) | \(format(row.seconds, 2)) | "
                        + "\(grouped(row.tasksPerSecond)) |"
                )
            }
        }
        if !webhook.isEmpty {
            out.append("\n### GitHub deliveries (queue-webhook)\n")
            out.append("| cores kept busy | deliveries | clients | deliveries/s | p50 ms | p99 ms | max ms |")
            out.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for row in webhook {
                out.append(
                    "| \(row.busyCores) | \(row.deliveries) | \(row.clients) | \(grouped(row.deliveriesPerSecond)) | "
                        + "\(format(row.p50Ms, 2)) | \(format(row.p99Ms, 2)) | \(format(row.maxMs, 1)) |")
            }
        }
        if !drain.isEmpty {
            out.append("\n### Drain (noop tasks)\n")
            out.append(
                "| workers | concurrency | claim batch | tasks | tasks/s | pgbench clients × batch | pgbench tasks/s "
                    + "| ratio | worker CPU s/1000 | DB CPU s/1000 (pgbench) | peak RSS MB |"
            )
            out.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for row in drain {
                let database = row.databaseCPUSecondsPer1000.map { format($0, 3) } ?? "–"
                let pgbenchDatabase = row.pgbenchDatabaseCPUSecondsPer1000.map { format($0, 3) } ?? "–"
                out.append(
                    "| \(row.processes) | \(row.concurrency) | \(row.claimBatch) | \(row.tasks) | "
                        + "\(grouped(row.tasksPerSecond)) | \(row.pgbenchClients) × \(row.pgbenchBatch) | "
                        + "\(grouped(row.pgbenchTasksPerSecond)) | \(format(row.ratioToPgbench * 100, 0)) % | "
                        + "\(format(row.workerCPUSecondsPer1000, 3)) | \(database) (\(pgbenchDatabase)) | "
                        + "\(format(row.peakRSSMB, 1)) |"
                )
            }
        }
        if !variants.isEmpty {
            out.append("\n### What task_events rows and SECURITY DEFINER cost (claim_task, complete_tasks)\n")
            out.append("| functions | workers × concurrency × batch | drain tasks/s | pgbench tasks/s | ratio |")
            out.append("| --- | ---: | ---: | ---: | ---: |")
            for row in variants {
                let drain = row.drain
                out.append(
                    "| \(row.variant) | \(drain.processes) × \(drain.concurrency) × \(drain.claimBatch) | "
                        + "\(grouped(drain.tasksPerSecond)) | \(grouped(drain.pgbenchTasksPerSecond)) | "
                        + "\(format(drain.ratioToPgbench * 100, 0)) % |"
                )
            }
        }
        if !latency.isEmpty {
            out.append("\n### Enqueue → start latency, idle queue (database timestamps)\n")
            out.append("| wake-up | tasks | p50 ms | p95 ms | p99 ms | max ms |")
            out.append("| --- | ---: | ---: | ---: | ---: | ---: |")
            for row in latency {
                out.append(
                    "| \(row.wakeup) | \(row.tasks) | \(format(row.p50ms, 2)) | \(format(row.p95ms, 2)) | "
                        + "\(format(row.p99ms, 2)) | \(format(row.maxms, 2)) |"
                )
            }
        }
        if !review.isEmpty {
            out.append("\n### Review workflow, end to end (small diff)\n")
            out.append("| workers | concurrency | checkpoints | reviews | reviews/s | mean ms | median ms |")
            out.append("| ---: | ---: | --- | ---: | ---: | ---: | ---: |")
            for row in review {
                out.append(
                    "| \(row.processes) | \(row.concurrency) | \(row.checkpointing ? "on" : "off") | \(row.reviews) | "
                        + "\(format(row.reviewsPerSecond, 1)) | \(format(row.meanReviewMs, 2)) | "
                        + "\(format(row.medianReviewMs, 2)) |"
                )
            }
        }
        if let cost = checkpointCost {
            out.append(
                "\ncheckpoint cost: \(format(cost.shareOfReviewTime * 100, 1)) % of a review's time (one worker, one "
                    + "review at a time: \(format(cost.meanReviewMsOn, 2)) ms with, \(format(cost.meanReviewMsOff, 2)) "
                    + "ms without); throughput cost by workers: "
                    + cost.throughputCostByProcesses.sorted { $0.key < $1.key }
                    .map { "\($0.key): \(format($0.value * 100, 1)) %" }.joined(separator: ", ")
            )
        }
        if let memory {
            out.append(
                "\nworker memory: idle RSS \(format(memory.idleRSSMB, 1)) MB (anonymous \(format(memory.idleAnonMB, 1)) "
                    + "MB, file-backed \(format(memory.idleFileMB, 1)) MB, \(memory.idleThreads) threads); "
                    + (memory.peakRSSUnderLoadMB > 0
                        ? "peak under load \(format(memory.peakRSSUnderLoadMB, 1)) MB (largest of all workers in the "
                            + "drain and review runs)"
                        : "no load scenario ran")
            )
        }
        for note in notes { out.append("note: \(note)") }
        return out.joined(separator: "\n")
    }
}

func format(_ value: Double, _ decimals: Int) -> String {
    String(format: "%.\(decimals)f", value)
}

/// 15320.4 → "15,320".
func grouped(_ value: Double) -> String {
    let digits = String(Int(value.rounded()))
    var result = ""
    for (index, character) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 && character != "-" { result.append(",") }
        result.append(character)
    }
    return result
}
