import Logging
import PostgresClient
import Synchronization
import TaskQueue

/// Completes succeeded attempts in batches: every attempt that finished while one `complete_tasks` statement was
/// running goes into the next one (River's batched completer). An idle worker's completion is written at once; a
/// busy worker writes one statement for many tasks instead of one per task.
///
/// Fencing is unchanged: `complete_tasks` finishes only the tasks whose lease token still holds, and each caller
/// learns its own outcome (written, lease lost, or not recorded). A caller's task stays among the running ones until
/// then, so the heartbeat keeps its lease alive while it waits (its slot is already free for the next task). ``run()`` returns only after ``finish()`` and once everything
/// handed to it is written: the worker finishes it after the last attempt has settled, so a drain loses nothing.
final class BatchCompleter: Sendable {
    /// The most tasks in one statement.
    static let maximumBatch = 500

    private struct Item {
        let lease: Lease
        let result: PostgresJSON?
        let deadline: ContinuousClock.Instant
        let continuation: CheckedContinuation<FencedWrite?, Never>
    }

    private struct State {
        var pending: [Item] = []
        var waiter: CheckedContinuation<Void, Never>?
        var finished = false
    }

    private let connection: PinnedConnection
    private let patience: Duration
    private let databaseSucceeded: @Sendable () -> Void
    private let databaseFailed: @Sendable (any Error) -> Void
    private let redact: @Sendable (String) -> String
    private let logger: Logger
    private let state = Mutex(State())

    /// - Parameters:
    ///   - patience: how long a completion is retried through transient database errors (a lease period: after
    ///     that the lease has expired and the task will be rescued anyway).
    init(
        connection: PinnedConnection,
        patience: Duration,
        databaseSucceeded: @escaping @Sendable () -> Void,
        databaseFailed: @escaping @Sendable (any Error) -> Void,
        redact: @escaping @Sendable (String) -> String,
        logger: Logger
    ) {
        self.connection = connection
        self.patience = patience
        self.databaseSucceeded = databaseSucceeded
        self.databaseFailed = databaseFailed
        self.redact = redact
        self.logger = logger
    }

    /// Completes a task with its result, fenced by its lease. Returns `.written`, `.leaseLost`, or nil when the
    /// completion could not be recorded (the task then stays running until its lease expires and is rescued).
    func complete(_ lease: Lease, result: PostgresJSON?) async -> FencedWrite? {
        let deadline = ContinuousClock.now + patience
        return await withCheckedContinuation { continuation in
            let item = Item(lease: lease, result: result, deadline: deadline, continuation: continuation)
            let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
                // After finish() nothing can arrive (every attempt has settled); refuse rather than hang.
                guard !state.finished else { return (false, nil) }
                state.pending.append(item)
                defer { state.waiter = nil }
                return (true, state.waiter)
            }
            if !accepted {
                continuation.resume(returning: nil)
                return
            }
            waiter?.resume()
        }
    }

    /// Writes completions until ``finish()`` was called and nothing is pending, on the completer's own connection
    /// and thread.
    func run() async {
        await withTaskExecutorPreference(connection.executor) {
            await writeLoop()
        }
        await connection.close()
    }

    private func write(_ batch: [Item]) async throws -> Set<Int64> {
        try await connection.use { connection in
            try await connection.run(CompleteTasks(batch.map { (lease: $0.lease, result: $0.result) }))
        }
    }

    private func writeLoop() async {
        var failures = 0
        while true {
            let batch = await nextBatch()
            guard !batch.isEmpty else { return }
            do {
                let finished = try await write(batch)
                databaseSucceeded()
                failures = 0
                for item in batch {
                    item.continuation.resume(returning: finished.contains(item.lease.taskID) ? .written : .leaseLost)
                }
            } catch let error as PostgresError where error.isTransient {
                failures += 1
                databaseFailed(error)
                let now = ContinuousClock.now
                var retry: [Item] = []
                for item in batch {
                    if item.deadline > now { retry.append(item) } else { item.continuation.resume(returning: nil) }
                }
                state.withLock { $0.pending.insert(contentsOf: retry, at: 0) }
                try? await Task.sleep(for: .milliseconds(min(2000, 50 << min(failures, 6))))
            } catch {
                if Task.isCancelled {
                    abandon(batch)
                    return
                }
                // Not a database outage: one bad item (say, a result that is not JSON) must not fail the others.
                await completeOneByOne(batch, batchError: error)
            }
        }
    }

    /// Cancelled (the worker is going down hard): answer every caller that the completion was not recorded.
    private func abandon(_ batch: [Item]) {
        let rest = state.withLock { state -> [Item] in
            state.finished = true
            defer { state.pending = [] }
            return state.pending
        }
        for item in batch + rest { item.continuation.resume(returning: nil) }
    }

    /// Completions handed over and not written yet.
    var pendingCount: Int { state.withLock { $0.pending.count } }

    /// No more completions will arrive: ``run()`` returns once the pending ones are written.
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Waits for pending completions and takes up to ``maximumBatch`` of them; empty once finished and drained.
    private func nextBatch() async -> [Item] {
        while true {
            let batch = state.withLock { state -> [Item]? in
                if !state.pending.isEmpty {
                    let count = min(state.pending.count, Self.maximumBatch)
                    defer { state.pending.removeFirst(count) }
                    return Array(state.pending.prefix(count))
                }
                return state.finished ? [] : nil
            }
            if let batch { return batch }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if !state.pending.isEmpty || state.finished { return true }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    private func completeOneByOne(_ batch: [Item], batchError: any Error) async {
        if batch.count == 1 {
            logger.error(
                "could not record the task's outcome",
                metadata: ["task.id": "\(batch[0].lease.taskID)", "error": "\(redact("\(batchError)"))"]
            )
            batch[0].continuation.resume(returning: nil)
            return
        }
        for (index, item) in batch.enumerated() {
            do {
                let finished = try await write([item])
                item.continuation.resume(returning: finished.contains(item.lease.taskID) ? .written : .leaseLost)
            } catch let error as PostgresError where error.isTransient {
                // The database went away meanwhile: the main loop retries the rest.
                state.withLock { $0.pending.insert(contentsOf: batch[index...], at: 0) }
                return
            } catch {
                logger.error(
                    "could not record the task's outcome",
                    metadata: ["task.id": "\(item.lease.taskID)", "error": "\(redact("\(error)"))"]
                )
                item.continuation.resume(returning: nil)
            }
        }
    }
}
