public import Dispatch

/// A serial thread (a dispatch queue) that runs both a loop's Swift code and the blocking libpq calls of the
/// connections opened on it.
///
/// A statement on an ordinary connection crosses threads twice: the caller hands it to the connection's queue, and
/// the result wakes the caller on Swift's cooperative pool. A loop that runs its statements one after another (the
/// claim loop, the completer) can instead run on the connection's own queue: prefer this executor for the loop
/// (`withTaskExecutorPreference`) and open its connection with it (``PostgresConnection/connect(configuration:logger:executor:)``).
/// The statement then runs right after the loop suspends, and the loop resumes right after the statement, on the
/// same thread. Blocking calls still never run on the cooperative pool.
public final class PostgresExecutor: TaskExecutor {
    /// The serial queue (the thread) the executor runs on.
    public let queue: DispatchQueue

    /// Creates an executor with a serial queue of its own.
    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
