import Dispatch
import Logging
import PostgresClient
import ServiceLifecycle
import Synchronization
import TaskQueue

/// Extends the leases of running attempts: an ordinary loop, on a thread and a connection of its own.
///
/// Heartbeats must not share a thread or a connection with the work: a busy worker (agents saturating the CPU, a pool
/// of connections all in use) would otherwise look dead and its tasks would run twice. So the loop runs on its
/// connection's own thread (``PinnedConnection``), and even its pauses are timers on that thread, never Swift's
/// cooperative pool. A lease the database no longer holds, or one that could not be extended before it expired, is
/// lost: the attempt is flagged and cancelled, and writes nothing more.
final class LeaseKeeper: Service {
    private let connection: PinnedConnection
    private let state: WorkerState
    private let leaseDuration: Duration
    private let interval: Duration
    private let redact: @Sendable (String) -> String
    private let logger: Logger
    private let timer: ThreadTimer

    init(
        connection: PinnedConnection, state: WorkerState, leaseDuration: Duration, interval: Duration,
        redact: @escaping @Sendable (String) -> String, logger: Logger
    ) {
        self.connection = connection
        self.state = state
        self.leaseDuration = leaseDuration
        self.interval = interval
        self.redact = redact
        self.logger = logger
        timer = ThreadTimer(queue: connection.executor.queue)
    }

    func run() async throws {
        // Keep beating until the worker has handed back or finished every attempt (it is shut down first).
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withTaskExecutorPreference(connection.executor) { await loop() }
            } onGracefulShutdown: {
                self.timer.stop()
            }
        } onCancel: {
            timer.stop()
        }
        await connection.close()
    }

    private func loop() async {
        // When each held lease was last confirmed; a lease not confirmed within its duration is lost locally.
        var confirmed: [Lease: ContinuousClock.Instant] = [:]
        let clock = ContinuousClock()
        while await timer.sleep(for: interval) {
            let leases = state.heldLeases()
            let now = clock.now
            confirmed = confirmed.filter { leases.contains($0.key) }
            for lease in leases where confirmed[lease] == nil { confirmed[lease] = now }
            guard !leases.isEmpty else { continue }
            do {
                let held = try await connection.use { try await $0.run(HeartbeatTasks(leases, lease: leaseDuration)) }
                state.databaseSucceeded()
                let after = clock.now
                for lease in leases {
                    if let cancelRequested = held[lease.token] {
                        confirmed[lease] = after
                        if cancelRequested { state.cancelRequested(lease) }
                    } else if state.leaseLost(lease) {
                        // Only for attempts still at work: one writing its outcome ends its lease itself.
                        logger.warning(
                            "lease lost", metadata: ["task.id": "\(lease.taskID)", "attempt": "\(lease.attempt)"])
                    }
                }
            } catch {
                logger.warning("heartbeat failed", metadata: ["error": "\(redact("\(error)"))"])
                state.databaseFailed(error, redact: redact)
                // Leases that could not be confirmed for a whole lease period have expired in the database.
                for lease in leases where clock.now - (confirmed[lease] ?? now) >= leaseDuration {
                    if state.leaseLost(lease) {
                        logger.warning("lease expired without heartbeat", metadata: ["task.id": "\(lease.taskID)"])
                    }
                }
            }
        }
    }
}

/// Pauses a loop with timers on a dispatch queue of the caller's (a ``PostgresExecutor``'s), so that its pauses end
/// on time even when Swift's cooperative pool is saturated; ``stop()`` ends the current and every later pause at once.
final class ThreadTimer: Sendable {
    private struct State {
        var stopped = false
        var generation = 0
        var waiter: CheckedContinuation<Bool, Never>?
    }

    private let queue: DispatchQueue
    private let state = Mutex(State())

    init(queue: DispatchQueue) {
        self.queue = queue
    }

    /// Waits `duration`; returns false (at once) once ``stop()`` was called.
    func sleep(for duration: Duration) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let generation = state.withLock { state -> Int? in
                guard !state.stopped else { return nil }
                state.generation += 1
                state.waiter = continuation
                return state.generation
            }
            guard let generation else {
                continuation.resume(returning: false)
                return
            }
            let (seconds, attoseconds) = duration.components
            let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
            queue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
                let waiter = self.state.withLock { state -> CheckedContinuation<Bool, Never>? in
                    guard state.generation == generation else { return nil }
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume(returning: true)
            }
        }
    }

    /// Ends the current pause and every later one.
    func stop() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            state.stopped = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: false)
    }
}
