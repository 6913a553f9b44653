#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

// What the operators' statements return (queuectl's list, show, stats, workers, top): the read side of the queue.

/// A task as `list` shows it (never its payload, which can be megabytes).
public struct TaskSummary: Encodable, Sendable {
    public let id: Int64
    public let kind: String
    public let queue: String
    public let state: String
    public let priority: Int
    public let attempt: Int
    public let maxAttempts: Int
    public let runAfter: Date
    public let createdAt: Date
    public let startedAt: Date?
    public let finishedAt: Date?
    public let worker: String?
    public let dedupeKey: String?
    public let cancelRequested: Bool
    public let lastError: String?
    /// A succeeded review's verdict (`result.verdict_status`).
    public let verdictStatus: String?
    /// A succeeded review's number of findings.
    public let findingCount: Int?
    /// Whether the task's queue is paused (`queuectl pause`).
    public let queuePaused: Bool

    enum CodingKeys: String, CodingKey {
        case id, kind, queue, state, priority, attempt, worker
        case verdictStatus = "verdict_status"
        case findingCount = "finding_count"
        case queuePaused = "queue_paused"
        case maxAttempts = "max_attempts"
        case runAfter = "run_after"
        case createdAt = "created_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case dedupeKey = "dedupe_key"
        case cancelRequested = "cancel_requested"
        case lastError = "last_error"
    }
}

/// Everything `show` prints about a task.
public struct TaskDetail: Sendable {
    public let summary: TaskSummary
    public let rescues: Int
    public let leaseExpiresAt: Date?
    public let heartbeatAt: Date?
    public let updatedAt: Date
    public let errors: [TaskErrorEntry]
    /// The payload, with an inline diff replaced by its size.
    public let payload: String
    public let result: String?
    public let now: Date
}

/// One checkpoint of the agent graph.
public struct CheckpointRow: Encodable, Sendable {
    public let node: String
    public let attempt: Int
    public let worker: String
    public let durationMilliseconds: Double
    /// When the checkpoint was written (nodes that finish together share one write).
    public let createdAt: Date
    /// When the node began its work.
    public let startedAt: Date

    /// When the node ended its work.
    public var finishedAt: Date { startedAt.addingTimeInterval(durationMilliseconds / 1000) }

    enum CodingKeys: String, CodingKey {
        case node, attempt, worker
        case durationMilliseconds = "duration_ms"
        case createdAt = "created_at"
        case startedAt = "started_at"
    }
}

/// Counts of one queue (or of all queues), as `stats` and `top` show them.
public struct QueueCounts: Encodable, Sendable {
    public var queue: String
    public var pending = 0
    public var ready = 0
    public var scheduled = 0
    public var running = 0
    public var succeeded = 0
    public var dead = 0
    public var cancelled = 0
    public var oldestReadySeconds: Double?
    public var succeededLastMinute = 0
    public var succeededLastHour = 0
    public var deadLastMinute = 0
    public var deadLastHour = 0

    init(queue: String) { self.queue = queue }

    enum CodingKeys: String, CodingKey {
        case queue, pending, ready, scheduled, running, succeeded, dead, cancelled
        case oldestReadySeconds = "oldest_ready_seconds"
        case succeededLastMinute = "succeeded_last_minute"
        case succeededLastHour = "succeeded_last_hour"
        case deadLastMinute = "dead_last_minute"
        case deadLastHour = "dead_last_hour"
    }

    public mutating func add(_ other: QueueCounts) {
        pending += other.pending
        ready += other.ready
        scheduled += other.scheduled
        running += other.running
        succeeded += other.succeeded
        dead += other.dead
        cancelled += other.cancelled
        succeededLastMinute += other.succeededLastMinute
        succeededLastHour += other.succeededLastHour
        deadLastMinute += other.deadLastMinute
        deadLastHour += other.deadLastHour
        if let age = other.oldestReadySeconds { oldestReadySeconds = max(oldestReadySeconds ?? age, age) }
    }
}

/// The queue's figures at one moment.
public struct QueueStats: Encodable, Sendable {
    public var queues: [QueueCounts]
    public var totals: QueueCounts
    /// Whether succeeded, dead and cancelled counts are estimates (pending and running are always exact).
    public var terminalCountsEstimated: Bool
    /// The planner's row count of the tasks table (`pg_class.reltuples`), when known.
    public var tableRowsEstimate: Int?
    /// Above this many rows, terminal counts are estimated.
    public var estimateAbove: Int
    public var collectedAt: Date
    /// Queues whose ready tasks no live worker serves (``markUnserved(by:paused:)``); nil when the registry was not
    /// read.
    public var unservedQueues: [String]?
    /// Paused queues (``markUnserved(by:paused:)``); nil when they were not read.
    public var pausedQueues: [PausedQueue]?

    enum CodingKeys: String, CodingKey {
        case queues, totals
        case unservedQueues = "unserved_queues"
        case pausedQueues = "paused_queues"
        case terminalCountsEstimated = "terminal_counts_estimated"
        case tableRowsEstimate = "table_rows_estimate"
        case estimateAbove = "estimate_above_rows"
        case collectedAt = "collected_at"
    }
}

extension QueueStats {
    /// Notes the paused queues, and the queues that hold ready tasks while no live worker (running or draining,
    /// heartbeat not stale) serves them and they are not paused: those tasks wait until someone adds the queue to a
    /// worker's `WORKER_QUEUES`.
    public mutating func markUnserved(by workers: [WorkerRow], paused: [PausedQueue]) {
        pausedQueues = paused
        let served = Set(
            workers.filter { !$0.stale && ($0.state == "running" || $0.state == "draining") }.flatMap(\.queues))
        let pausedNames = Set(paused.map(\.queue))
        unservedQueues = queues.filter { $0.ready > 0 && !served.contains($0.queue) && !pausedNames.contains($0.queue) }
            .map(\.queue)
    }
}

/// A worker as the registry shows it.
public struct WorkerRow: Encodable, Sendable {
    public let id: String
    public let host: String
    public let instance: String
    public let pid: Int
    public let version: String
    public let queues: [String]
    public let concurrency: Int
    public let state: String
    public let stale: Bool
    public let running: Int
    public let tasksDone: Int
    public let tasksFailed: Int
    public let startedAt: Date
    public let heartbeatAt: Date
    public let heartbeatAgeSeconds: Double
    public let stoppedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, host, instance, pid, version, queues, concurrency, state, stale, running
        case tasksDone = "tasks_done"
        case tasksFailed = "tasks_failed"
        case startedAt = "started_at"
        case heartbeatAt = "heartbeat_at"
        case heartbeatAgeSeconds = "heartbeat_age_seconds"
        case stoppedAt = "stopped_at"
    }
}

/// What `--wait` polls.
public struct TaskProgress: Sendable {
    public let kind: String
    public let state: TaskState
    public let attempt: Int
    public let maxAttempts: Int
    public let worker: String?
    public let lastError: String?
    public let result: String?
}

/// Tasks that do not exist, found by an all-or-nothing operation (which then changed nothing).
public struct MissingTasks: Error {
    public let ids: [Int64]
}

/// Tasks in a state the operation does not apply to (nothing was changed).
public struct UnsuitableTasks: Error {
    public let tasks: [(id: Int64, state: String)]
}
