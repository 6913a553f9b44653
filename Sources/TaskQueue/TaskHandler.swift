public import Logging
public import PostgresClient
import Synchronization

/// Runs the tasks of one kind.
///
/// A handler is called once per claimed attempt. It returns what happened, or throws: a ``TaskFailure`` (retried,
/// or dead when permanent or out of attempts), a ``TaskInterruption`` (cancelled on request, or lease lost), or any
/// other error (retried, with the error's description recorded). It must stop promptly when its Swift task is
/// cancelled: the worker cancels it when the lease is lost, cancellation is requested, a node times out, or the
/// shutdown grace period ends.
public protocol TaskHandler: Sendable {
    /// Does the work of one attempt.
    func handle(_ task: ClaimedTask, context: TaskContext) async throws -> TaskOutcome
}

/// What a handler's attempt led to.
public enum TaskOutcome: Sendable {
    /// Done: the worker completes the task with this result (fenced by the lease; batched with other completions).
    case succeeded(result: PostgresJSON?)
    /// Done, with rows to record: the worker writes them and completes the task in one transaction fenced by the
    /// lease (``QueueClient/finish(_:records:)``), so that they are recorded exactly once.
    case recorded(any TaskRecords)
}

/// A failure the handler reports on purpose.
public struct TaskFailure: Error, Sendable, CustomStringConvertible {
    /// What went wrong, stored in the task's error history. Never put secrets here.
    public let message: String
    /// True when retrying cannot help (bad input): the task is dead at once.
    public let permanent: Bool
    /// True when a service the task depends on failed it (an outage, a rate limit), not the task: the attempt is
    /// given back, a bounded number of times (``FailTask/interrupted``).
    public let interrupted: Bool

    /// A failure worth retrying.
    public static func retryable(_ message: String) -> TaskFailure {
        TaskFailure(message: message, permanent: false, interrupted: false)
    }

    /// A failure that retrying cannot fix.
    public static func permanent(_ message: String) -> TaskFailure {
        TaskFailure(message: message, permanent: true, interrupted: false)
    }

    /// A failure of a service the task depends on: retried without spending the attempt (a bounded number of times).
    public static func interrupted(_ message: String) -> TaskFailure {
        TaskFailure(message: message, permanent: false, interrupted: true)
    }

    public var description: String { message }
}

/// Why a handler stopped before finishing.
public enum TaskInterruption: Error, Sendable, Equatable {
    /// Cancellation was requested; the worker marks the task cancelled.
    case cancelRequested
    /// The lease was lost; the worker writes nothing more about the task.
    case leaseLost
}

/// What a handler knows about the attempt it runs, and how it learns to stop.
public struct TaskContext: Sendable {
    /// The worker running the attempt (`host/instance/boot`).
    public let workerID: String
    /// A logger with the task's metadata.
    public let logger: Logger
    /// Signals from the heartbeat about this attempt.
    public let control: TaskControl

    /// Creates a context.
    public init(workerID: String, logger: Logger, control: TaskControl) {
        self.workerID = workerID
        self.logger = logger
        self.control = control
    }

    /// Call between steps: throws ``TaskInterruption`` when the lease was lost or cancellation was requested,
    /// and `CancellationError` when the Swift task was cancelled (shutdown).
    public func checkBoundary() throws {
        if control.isLeaseLost { throw TaskInterruption.leaseLost }
        if control.isCancelRequested { throw TaskInterruption.cancelRequested }
        try Task.checkCancellation()
    }
}

/// Flags the heartbeat sets for one running attempt; read by its handler at node boundaries.
public final class TaskControl: Sendable {
    private let state = Atomic<UInt8>(0)
    private static let cancelRequestedBit: UInt8 = 1
    private static let leaseLostBit: UInt8 = 2

    /// Creates a control with no flags set.
    public init() {}

    /// Whether cancellation of the task was requested.
    public var isCancelRequested: Bool { state.load(ordering: .acquiring) & Self.cancelRequestedBit != 0 }
    /// Whether the lease was lost.
    public var isLeaseLost: Bool { state.load(ordering: .acquiring) & Self.leaseLostBit != 0 }

    /// Records that cancellation was requested.
    public func markCancelRequested() {
        state.bitwiseOr(Self.cancelRequestedBit, ordering: .acquiringAndReleasing)
    }

    /// Records that the lease was lost.
    public func markLeaseLost() {
        state.bitwiseOr(Self.leaseLostBit, ordering: .acquiringAndReleasing)
    }
}
