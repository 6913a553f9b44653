import Dispatch
import Logging
import PostgresClient
import ServiceLifecycle
import Synchronization
import TaskQueue

/// Extends the leases of running attempts from a thread of its own, on a connection of its own.
///
/// Heartbeats must not share a thread or a connection with the work: a busy worker (agents saturating the
/// cooperative thread pool, a pool of connections all in use) would otherwise look dead and its tasks would run
/// twice. A lease the database no longer holds, or one that could not be extended before it expired, is lost:
/// the attempt is flagged and cancelled, and writes nothing more.
final class LeaseKeeper: Service {
    private let configuration: PostgresConfiguration
    private let state: WorkerState
    private let leaseDuration: Duration
    private let interval: Duration
    private let logger: Logger
    private let stop = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)

    init(
        configuration: PostgresConfiguration, state: WorkerState, leaseDuration: Duration, interval: Duration,
        logger: Logger
    ) {
        self.configuration = configuration
        self.state = state
        self.leaseDuration = leaseDuration
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        let finished = DispatchSemaphore(value: 0)
        let thread = DispatchQueue(label: "agentqueue.worker.heartbeat")
        thread.async {
            self.loop()
            finished.signal()
        }
        // Keep beating until the worker has handed back or finished every attempt (it shuts down first).
        await withGracefulShutdownHandler {
            while !self.stopped.load(ordering: .acquiring) {
                try? await Task.sleep(for: .milliseconds(200))
                if Task.isCancelled { break }
            }
        } onGracefulShutdown: {
            self.shutdown()
        }
        shutdown()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                finished.wait()
                continuation.resume()
            }
        }
    }

    private func shutdown() {
        if !stopped.exchange(true, ordering: .acquiringAndReleasing) { stop.signal() }
    }

    /// The heartbeat loop; runs on its own thread.
    private func loop() {
        var connection: PostgresConnection?
        // When each held lease was last confirmed; a lease not confirmed within its duration is lost locally.
        var confirmed: [Int64: ContinuousClock.Instant] = [:]
        let clock = ContinuousClock()
        while true {
            if stop.wait(timeout: .now() + .nanoseconds(Int(interval.nanoseconds))) == .success { break }
            let leases = state.heldLeases()
            let now = clock.now
            confirmed = confirmed.filter { entry in leases.contains { $0.taskID == entry.key } }
            for lease in leases where confirmed[lease.taskID] == nil { confirmed[lease.taskID] = now }
            guard !leases.isEmpty else { continue }
            do {
                if connection == nil || connection?.isBroken == true {
                    connection?.closeBlocking()
                    connection = try PostgresConnection.connectBlocking(configuration: configuration, logger: logger)
                }
                let held = try heartbeat(leases, on: connection!)
                // A lease can also be gone because its own attempt completed the task meanwhile (a handler that
                // completes in its own transaction): that is not a loss, and its work must not be stopped.
                let gone = leases.filter { held[$0.taskID] == nil }
                let completed =
                    gone.isEmpty
                    ? []
                    : try QueueClient.taskIDs(
                        in: try connection!.queryBlocking(QueueClient.completedByOwnAttemptStatement(gone))
                    )
                state.databaseSucceeded()
                let after = clock.now
                for lease in leases {
                    if let cancelRequested = held[lease.taskID] {
                        confirmed[lease.taskID] = after
                        if cancelRequested { state.cancelRequested(taskID: lease.taskID) }
                    } else if !completed.contains(lease.taskID) && state.leaseLost(taskID: lease.taskID) {
                        // Only for attempts still at work: one writing its outcome ends its lease itself.
                        logger.warning(
                            "lease lost", metadata: ["task.id": "\(lease.taskID)", "attempt": "\(lease.attempt)"])
                    }
                }
            } catch {
                logger.warning("heartbeat failed", metadata: ["error": "\(configuration.redact("\(error)"))"])
                state.databaseFailed(configuration.redact("\(error)"))
                // Leases that could not be confirmed for a whole lease period have expired in the database.
                for lease in leases where clock.now - (confirmed[lease.taskID] ?? now) >= leaseDuration {
                    if state.leaseLost(taskID: lease.taskID) {
                        logger.warning("lease expired without heartbeat", metadata: ["task.id": "\(lease.taskID)"])
                    }
                }
            }
        }
        connection?.closeBlocking()
    }

    private func heartbeat(_ leases: [Lease], on connection: PostgresConnection) throws -> [Int64: Bool] {
        try QueueClient.heldLeases(
            in: try connection.queryBlocking(QueueClient.heartbeatStatement(leases, lease: leaseDuration))
        )
    }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
