public import PostgresClient

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `fail_task(...)`: records a failed attempt, fenced by its lease: back to pending after a backoff, or dead when the
/// attempts are spent or the failure is permanent.
///
/// An attempt cut short by the infrastructure (`interrupted`: the database went away, the worker's connection was
/// terminated) goes back without spending the attempt, a bounded number of times per task (`fail_task` in
/// database/functions), so that an outage does not push healthy tasks to their last attempt while a task that keeps
/// breaking its worker still ends dead.
public struct FailTask: PostgresStatement {
    /// The attempt's lease.
    public let lease: Lease
    /// What went wrong (stored in the task's error history; never a secret).
    public let message: String
    /// Retrying cannot help: dead at once.
    public let permanent: Bool
    /// The infrastructure, not the task, failed the attempt.
    public let interrupted: Bool
    /// The backoff before the next attempt.
    public let retry: RetryPolicy

    /// Creates the statement.
    public init(_ lease: Lease, message: String, permanent: Bool = false, interrupted: Bool = false, retry: RetryPolicy)
    {
        self.lease = lease
        self.message = message
        self.permanent = permanent
        self.interrupted = interrupted
        self.retry = retry
    }

    public var query: PostgresQuery {
        """
        SELECT state, run_after FROM fail_task(\(lease.taskID), \(lease.token)::uuid, \(message), \(permanent),
            \(retry.base)::interval, \(retry.maximum)::interval, \(interrupted))
        """
    }

    public func decode(_ rows: PostgresRows) throws -> FailOutcome {
        guard let row = rows.single else { return .leaseLost }
        switch try row.decode(String.self, "state") {
        case "pending": return .retrying(at: try row.decode(Date.self, "run_after"))
        case "cancelled": return .cancelled
        default: return .dead
        }
    }
}
