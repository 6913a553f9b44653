public import PostgresClient

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// Where a task is in its life. A retry is `pending` with a later `runAfter`.
public enum TaskState: String, Sendable, Codable, CaseIterable {
    /// Waiting to be claimed (possibly not before `runAfter`).
    case pending
    /// Claimed by a worker that holds its lease.
    case running
    /// Finished successfully.
    case succeeded
    /// Failed permanently or ran out of attempts.
    case dead
    /// Cancelled on request.
    case cancelled

    /// Succeeded, dead or cancelled: the task will not run again unless retried.
    public var isTerminal: Bool { self == .succeeded || self == .dead || self == .cancelled }
}

/// A task to enqueue.
public struct NewTask: Sendable, Hashable {
    /// What kind of work this is; selects the handler (`review`, `noop`, …).
    public var kind: String
    /// The handler's input: a JSON object.
    public var payload: PostgresJSON
    /// The queue; workers claim from the queues they serve.
    public var queue: String
    /// Lower values run first.
    public var priority: Int16
    /// Not before this time (now when `nil`).
    public var runAfter: Date?
    /// Attempts before the task is dead.
    public var maxAttempts: Int
    /// At most one live (pending or running) task per key; enqueueing a duplicate returns the live task.
    public var dedupeKey: String?

    /// Creates a task description.
    public init(
        kind: String,
        payload: PostgresJSON = PostgresJSON(text: "{}"),
        queue: String = "default",
        priority: Int16 = 0,
        runAfter: Date? = nil,
        maxAttempts: Int = 3,
        dedupeKey: String? = nil
    ) {
        self.kind = kind
        self.payload = payload
        self.queue = queue
        self.priority = priority
        self.runAfter = runAfter
        self.maxAttempts = maxAttempts
        self.dedupeKey = dedupeKey
    }

    /// Checks the task before anything is sent, with a message naming the field.
    public func validate() throws(TaskValidationError) {
        if let problem = TaskValidation.kindProblem(kind) { throw TaskValidationError(problem) }
        if let problem = TaskValidation.queueProblem(queue) { throw TaskValidationError(problem) }
        guard (1...1000).contains(maxAttempts) else {
            throw TaskValidationError("max_attempts must be between 1 and 1000 (got \(maxAttempts))")
        }
        if let dedupeKey, !(1...512).contains(dedupeKey.count) {
            throw TaskValidationError("a dedupe key must be 1-512 characters")
        }
        if let dedupeKey, let problem = TaskValidation.controlCharacterProblem(dedupeKey, name: "a dedupe key") {
            throw TaskValidationError(problem)
        }
        guard payload.text.utf8.count <= TaskValidation.maximumPayloadBytes else {
            throw TaskValidationError(
                "the payload is \(payload.text.utf8.count) bytes; the limit is \(TaskValidation.maximumPayloadBytes)"
            )
        }
        if let problem = JSONSyntax.problem(in: payload.text) { throw TaskValidationError("payload: \(problem)") }
        guard let first = payload.text.utf8.first(where: { !$0.isJSONWhitespace }), first == UInt8(ascii: "{") else {
            throw TaskValidationError("a task payload must be a JSON object")
        }
    }
}

/// Why a task cannot be enqueued.
public struct TaskValidationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, naming the field.
    public let description: String

    init(_ description: String) { self.description = description }
}

/// The rules for kinds, queues and payloads (the database enforces the same ones).
public enum TaskValidation {
    /// The largest payload accepted, in bytes of JSON text.
    public static let maximumPayloadBytes = 64 * 1024 * 1024

    /// Why a kind is invalid, or `nil`.
    public static func kindProblem(_ kind: String) -> String? {
        let bytes = Array(kind.utf8)
        guard (1...64).contains(bytes.count), bytes[0].isLowercaseLetter,
            bytes.allSatisfy({ $0.isLowercaseLetter || $0.isDigit || $0 == 0x5F || $0 == 0x2E || $0 == 0x2D })
        else {
            return "invalid task kind '\(kind.prefix(80))': use 1-64 characters, a lowercase letter first, "
                + "then lowercase letters, digits, _ . -"
        }
        return nil
    }

    /// Why `text` cannot be stored as `name` (e.g. "a dedupe key"), or `nil`: control characters (C0, DEL, C1) are
    /// refused, because an operator's terminal would otherwise run them when `queuectl` prints the value.
    public static func controlCharacterProblem(_ text: String, name: String) -> String? {
        guard let bad = text.unicodeScalars.first(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else {
            return nil
        }
        return "\(name) cannot contain control characters (found U+\(String(bad.value, radix: 16, uppercase: true)))"
    }

    /// Why a queue name is invalid, or `nil`.
    public static func queueProblem(_ queue: String) -> String? {
        let bytes = Array(queue.utf8)
        guard (1...64).contains(bytes.count), bytes[0].isLowercaseLetter || bytes[0].isDigit,
            bytes.allSatisfy({ $0.isLowercaseLetter || $0.isDigit || $0 == 0x5F || $0 == 0x2E || $0 == 0x2D })
        else {
            return "invalid queue name '\(queue.prefix(80))': use 1-64 characters from lowercase letters, digits, "
                + "_ . - (a letter or digit first)"
        }
        return nil
    }
}

extension UInt8 {
    fileprivate var isLowercaseLetter: Bool { self >= 0x61 && self <= 0x7A }
    fileprivate var isDigit: Bool { self >= 0x30 && self <= 0x39 }
    fileprivate var isJSONWhitespace: Bool { self == 0x20 || self == 0x0A || self == 0x0D || self == 0x09 }
}

/// The id of an enqueued task, and whether it was an existing live duplicate.
public struct EnqueueResult: Sendable, Hashable, Codable {
    /// The task's id.
    public let id: Int64
    /// True when a live task with the same dedupe key existed and was returned instead.
    public let deduplicated: Bool

    /// Creates a result.
    public init(id: Int64, deduplicated: Bool) {
        self.id = id
        self.deduplicated = deduplicated
    }
}

/// The right to write about one attempt of a running task: its id and lease token.
public struct Lease: Sendable, Hashable, CustomStringConvertible {
    /// The task's id.
    public let taskID: Int64
    /// The token the claim drew; every fenced write names it.
    public let token: UUID
    /// The attempt number this lease belongs to.
    public let attempt: Int

    /// Creates a lease (normally returned by a claim).
    public init(taskID: Int64, token: UUID, attempt: Int) {
        self.taskID = taskID
        self.token = token
        self.attempt = attempt
    }

    public var description: String { "task \(taskID) attempt \(attempt)" }
}

/// One entry of a task's error history.
public struct TaskErrorEntry: Sendable, Hashable, Codable {
    /// The attempt that failed.
    public let attempt: Int
    /// When it failed (as the database recorded it, ISO 8601).
    public let at: String
    /// The worker that held the lease, if known.
    public let worker: String?
    /// What went wrong.
    public let message: String
}

/// A task as stored.
public struct TaskRecord: Sendable {
    /// The task's id.
    public let id: Int64
    /// What kind of work it is.
    public let kind: String
    /// The queue it is in.
    public let queue: String
    /// The handler's input.
    public let payload: PostgresJSON
    /// Where it is in its life.
    public let state: TaskState
    /// Lower runs first.
    public let priority: Int16
    /// Not claimed before this time.
    public let runAfter: Date
    /// Attempts started so far (the current one while running).
    public let attempt: Int
    /// Attempts allowed.
    public let maxAttempts: Int
    /// How often it was rescued from a worker that stopped heart-beating.
    public let rescues: Int
    /// The worker that holds (or last held) the lease.
    public let leaseOwner: String?
    /// The current lease token while running.
    public let leaseToken: UUID?
    /// When the current lease expires unless extended.
    public let leaseExpiresAt: Date?
    /// The last heartbeat.
    public let heartbeatAt: Date?
    /// The dedupe key, if any.
    public let dedupeKey: String?
    /// Whether cancellation was requested while it ran.
    public let cancelRequested: Bool
    /// Every failed attempt, oldest first.
    public let errors: [TaskErrorEntry]
    /// The handler's result once succeeded.
    public let result: PostgresJSON?
    /// When it was enqueued.
    public let createdAt: Date
    /// When its latest attempt started.
    public let startedAt: Date?
    /// When it reached a terminal state.
    public let finishedAt: Date?
    /// When the row last changed.
    public let updatedAt: Date

    /// The lease of a running task, if it has one.
    public var lease: Lease? {
        guard state == .running, let leaseToken else { return nil }
        return Lease(taskID: id, token: leaseToken, attempt: attempt)
    }

    init(row: PostgresRow) throws {
        id = try row.decode(Int64.self, "id")
        kind = try row.decode(String.self, "kind")
        queue = try row.decode(String.self, "queue")
        payload = try row.decode(PostgresJSON.self, "payload")
        let stateText = try row.decode(String.self, "state")
        guard let state = TaskState(rawValue: stateText) else {
            throw PostgresError.decoding("unknown task state '\(stateText)'")
        }
        self.state = state
        priority = try row.decode(Int16.self, "priority")
        runAfter = try row.decode(Date.self, "run_after")
        attempt = try row.decode(Int.self, "attempt")
        maxAttempts = try row.decode(Int.self, "max_attempts")
        rescues = try row.decode(Int.self, "rescues")
        leaseOwner = try row.decode(String?.self, "lease_owner")
        leaseToken = try row.decode(UUID?.self, "lease_token")
        leaseExpiresAt = try row.decode(Date?.self, "lease_expires_at")
        heartbeatAt = try row.decode(Date?.self, "heartbeat_at")
        dedupeKey = try row.decode(String?.self, "dedupe_key")
        cancelRequested = try row.decode(Bool.self, "cancel_requested")
        errors = try row.decode(PostgresJSON.self, "errors").decode([TaskErrorEntry].self)
        result = try row.decode(PostgresJSON?.self, "result")
        createdAt = try row.decode(Date.self, "created_at")
        startedAt = try row.decode(Date?.self, "started_at")
        finishedAt = try row.decode(Date?.self, "finished_at")
        updatedAt = try row.decode(Date.self, "updated_at")
    }
}

/// A task a worker claimed, with the lease that fences its writes.
public struct ClaimedTask: Sendable {
    /// The task as it was claimed (state running).
    public let record: TaskRecord
    /// The lease for this attempt.
    public let lease: Lease
    /// Whether an earlier attempt wrote checkpoints (`tasks.checkpointed`): false, there is nothing to load.
    public let hasCheckpoints: Bool
}

/// The outcome of a write fenced by a lease.
public enum FencedWrite: Sendable, Hashable {
    /// The write happened.
    case written
    /// The lease is no longer held (rescued, finished or cancelled elsewhere): nothing was written, and the worker
    /// must stop working on the task and write nothing more about it.
    case leaseLost
}

/// What a failed attempt led to.
public enum FailOutcome: Sendable, Hashable {
    /// Back to pending; it runs again after this time.
    case retrying(at: Date)
    /// Out of attempts (or a permanent failure): dead.
    case dead
    /// Its cancellation had been requested: cancelled instead of retried.
    case cancelled
    /// The lease was lost: nothing was written.
    case leaseLost
}

/// How long to wait before retrying: exponential from `base`, at most `maximum`, with ±25 % jitter.
public struct RetryPolicy: Sendable, Hashable {
    /// The delay before the second attempt.
    public var base: Duration
    /// The longest delay.
    public var maximum: Duration

    /// Creates a policy.
    public init(base: Duration = .seconds(5), maximum: Duration = .seconds(600)) {
        self.base = base
        self.maximum = maximum
    }
}

/// A state transition of a task.
public struct TaskEvent: Sendable, Hashable {
    /// The task.
    public let taskID: Int64
    /// When the transition happened.
    public let at: Date
    /// The state before (`nil` when enqueued).
    public let fromState: String?
    /// The state after.
    public let toState: String
    /// The attempt number at the time.
    public let attempt: Int
    /// The worker involved, if any.
    public let worker: String?
    /// Why (claimed, rescued, the error message, …).
    public let reason: String?
}

/// A task moved by rescue.
public struct RescuedTask: Sendable, Hashable {
    /// The task's id.
    public let id: Int64
    /// Its new state: pending (to be retried) or dead.
    public let state: TaskState
    /// The worker that had held it.
    public let previousOwner: String?

    /// Creates a rescue record.
    public init(id: Int64, state: TaskState, previousOwner: String?) {
        self.id = id
        self.state = state
        self.previousOwner = previousOwner
    }
}

/// A node's checkpoint as stored.
public struct Checkpoint: Sendable {
    /// The node.
    public let node: String
    /// The schema version of the output.
    public let version: Int
    /// The node's output.
    public let output: PostgresJSON
    /// The attempt that wrote it.
    public let attempt: Int
    /// The worker that wrote it.
    public let worker: String
    /// How long the node ran.
    public let duration: Duration
}

/// What writing a checkpoint did.
public enum CheckpointWrite: String, Sendable {
    /// Stored.
    case written
    /// The node already had a checkpoint (the first one stays).
    case exists
    /// The lease is no longer held: nothing was written.
    case leaseLost = "lease_lost"
}

/// One node's output to checkpoint.
public struct CheckpointOutput: Sendable {
    /// The node.
    public var node: String
    /// The schema version of the output.
    public var version: Int
    /// The output.
    public var output: PostgresJSON
    /// How long the node ran.
    public var duration: Duration
    /// When the node began its work (the worker's clock).
    public var startedAt: Date

    /// Creates a node output.
    public init(node: String, version: Int, output: PostgresJSON, duration: Duration, startedAt: Date) {
        self.node = node
        self.version = version
        self.output = output
        self.duration = duration
        self.startedAt = startedAt
    }
}
