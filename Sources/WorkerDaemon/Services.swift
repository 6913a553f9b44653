import Logging
import PostgresClient
import ServiceLifecycle
import Synchronization
import Systemd
import TaskQueue
import UnixSignals

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// Rescues tasks whose lease expired, on a jittered interval; at start, also the tasks earlier boots of this
/// worker identity still held.
struct RescueService: Service {
    let identity: WorkerIdentity
    let configuration: WorkerConfiguration
    let state: WorkerState
    let queue: QueueClient
    let logger: Logger

    func run() async throws {
        let retry = RetryPolicy(base: configuration.retryBase, maximum: configuration.retryMaximum)
        do {
            let previous = try await queue.rescuePreviousBoots(
                ownerPrefix: identity.stablePrefix, currentOwner: identity.id, retry: retry
            )
            if !previous.isEmpty {
                logger.notice(
                    "rescued tasks of an earlier boot of this worker", metadata: ["count": "\(previous.count)"])
                state.wakeup.signal()
            }
        } catch {
            logger.warning("rescue of earlier boots failed", metadata: ["error": "\(configuration.redact("\(error)"))"])
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let rescued = try await queue.rescueExpired(limit: 100, retry: retry)
                    state.databaseSucceeded()
                    for task in rescued {
                        logger.notice(
                            "rescued a task whose lease expired",
                            metadata: [
                                "task.id": "\(task.id)", "state": "\(task.state.rawValue)",
                                "previous_worker": "\(task.previousOwner ?? "-")",
                            ]
                        )
                    }
                    if !rescued.isEmpty { state.wakeup.signal() }
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("rescue failed", metadata: ["error": "\(configuration.redact("\(error)"))"])
                }
                try? await Task.sleep(for: configuration.rescueInterval * Double.random(in: 0.8...1.2))
            }
        }
    }
}

/// Listens for enqueue notifications and wakes the claim loop. A hint only: when the listener is lost the worker
/// still polls, and after reconnecting it wakes the loop once in case it missed something.
struct WakeupService: Service {
    let configuration: WorkerConfiguration
    let state: WorkerState
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var failures = 0
            while !Task.isCancelled {
                do {
                    let listener = try await PostgresListener.connect(
                        configuration: configuration.database, channels: ["agentqueue"], logger: logger
                    )
                    if failures > 0 { logger.info("listening for notifications again") }
                    failures = 0
                    state.wakeup.signal()
                    try await withTaskCancellationHandler {
                        for try await notification in listener.notifications {
                            if state.settings.queues.contains(notification.payload) { state.wakeup.signal() }
                        }
                    } onCancel: {
                        listener.close()
                    }
                } catch is CancellationError {
                    return
                } catch {
                    if Task.isCancelled { return }
                    failures += 1
                    if failures == 1 {
                        logger.warning(
                            "notification listener lost; polling until it is back",
                            metadata: ["error": "\(configuration.redact("\(error)"))"]
                        )
                    }
                }
                try? await Task.sleep(for: .milliseconds(Int64(min(30_000, 250 << min(failures, 7)))))
            }
        }
    }
}

/// Keeps this worker's row in the `workers` registry current.
struct RegistryService: Service {
    let identity: WorkerIdentity
    let configuration: WorkerConfiguration
    let state: WorkerState
    let pool: PostgresConnectionPool
    let logger: Logger

    static let interval: Duration = .seconds(5)

    func run() async throws {
        let settings = state.settings
        do {
            try await pool.execute(
                """
                INSERT INTO workers (id, host, instance, boot_id, pid, version, queues, concurrency, heartbeat_interval)
                VALUES (\(identity.id), \(identity.host), \(identity.instance), \(identity.bootID)::uuid,
                        \(Int(getpid())), \(AgentQueueInfo.version), \(settings.queues)::text[], \(settings.concurrency),
                        \(Self.interval)::interval)
                ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), state = 'running'
                """
            )
        } catch {
            logger.warning("could not register the worker", metadata: ["error": "\(configuration.redact("\(error)"))"])
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.interval)
                if Task.isCancelled { break }
                await update(finalState: nil)
            }
        }
        await update(finalState: "stopped")
    }

    private func update(finalState: String?) async {
        let snapshot = state.snapshot()
        let settings = state.settings
        let workerState = finalState ?? (snapshot.draining ? "draining" : "running")
        do {
            try await pool.execute(
                """
                UPDATE workers SET heartbeat_at = now(), state = \(workerState), tasks_done = \(snapshot.done),
                    tasks_failed = \(snapshot.failed), queues = \(settings.queues)::text[],
                    concurrency = \(settings.concurrency),
                    stopped_at = CASE WHEN \(workerState) = 'stopped' THEN now() END
                WHERE id = \(identity.id)
                """
            )
            state.databaseSucceeded()
        } catch {
            logger.debug("registry update failed", metadata: ["error": "\(configuration.redact("\(error)"))"])
        }
    }
}

/// Tells systemd the truth: READY=1 once the claim loop runs, STATUS= kept current, WATCHDOG=1 only while the
/// claim loop ticks and the database answers.
struct SystemdService: Service {
    let configuration: WorkerConfiguration
    let state: WorkerState
    let pool: PostgresConnectionPool
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        // READY=1 only once the loops run (the database and schema were checked before the services started).
        while !state.loopStarted {
            try? await Task.sleep(for: .milliseconds(20))
            if Task.isCancelled { return }
        }
        notifier.ready(status: statusLine())
        logger.info("worker ready", metadata: ["queues": "\(state.settings.queues.joined(separator: ","))"])

        let watchdogInterval = notifier.watchdogInterval
        let policy = Watchdog(
            claimLoopTolerance: Self.claimLoopTolerance(pollInterval: configuration.pollInterval),
            databaseTolerance: configuration.databaseTolerance
        )
        let tick: Duration = watchdogInterval.map { min(Watchdog.petInterval(for: $0), .seconds(2)) } ?? .seconds(2)
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                // The queue depth is a database query that may hang with the database: never in the petting loop.
                group.addTask {
                    while !Task.isCancelled {
                        await refreshQueueDepth()
                        try? await Task.sleep(for: .seconds(5))
                    }
                }
                await petLoop(policy: policy, tick: tick, watchdog: watchdogInterval != nil)
                group.cancelAll()
            }
        }
    }

    /// How long the claim loop may go without a pass before the worker counts as wedged.
    static func claimLoopTolerance(pollInterval: Duration) -> Duration {
        max(.seconds(10), pollInterval * 3)
    }

    /// Pets the watchdog and refreshes STATUS= every `tick` while healthy; says why not otherwise.
    private func petLoop(policy: Watchdog, tick: Duration, watchdog: Bool) async {
        var reportedUnhealthy = false
        while !Task.isCancelled {
            let snapshot = state.snapshot()
            let health = policy.check(
                now: ContinuousClock.now, lastClaimTick: snapshot.lastClaimTick,
                lastDatabaseSuccess: snapshot.lastDatabaseSuccess
            )
            if health.isHealthy {
                if watchdog { notifier.watchdog() }
                notifier.status(statusLine())
                if reportedUnhealthy {
                    logger.notice("healthy again")
                    reportedUnhealthy = false
                }
            } else {
                var reason = health.description
                switch health {
                case .databaseUnreachable, .databaseNeverReached:
                    if let error = snapshot.lastDatabaseError { reason += ": \(error)" }
                default:
                    break
                }
                reason = configuration.redact(reason)
                notifier.status("unhealthy, not petting the watchdog: \(reason)")
                if !reportedUnhealthy {
                    logger.error("unhealthy: not petting the watchdog", metadata: ["reason": "\(reason)"])
                    reportedUnhealthy = true
                }
            }
            try? await Task.sleep(for: tick)
        }
    }

    private func refreshQueueDepth() async {
        do {
            let rows = try await pool.query(
                """
                SELECT count(*) AS n FROM (
                    SELECT 1 FROM tasks WHERE state = 'pending' AND queue = ANY (\(state.settings.queues)::text[])
                    LIMIT 100000) AS pending
                """
            )
            state.recordPending(try rows.single?.decode(Int.self, "n"))
            state.databaseSucceeded()
        } catch {
            state.databaseFailed(configuration.redact("\(error)"))
        }
    }

    private func statusLine() -> String {
        let snapshot = state.snapshot()
        var parts = [
            "\(snapshot.running)/\(snapshot.concurrency) busy",
            "\(grouped(snapshot.done)) done",
            "\(grouped(snapshot.failed)) failed",
        ]
        if let pending = snapshot.pending { parts.append("queue \(grouped(pending))\(pending >= 100_000 ? "+" : "")") }
        if snapshot.draining { parts.insert("draining", at: 0) }
        return parts.joined(separator: " · ")
    }
}

/// Formats 1520 as `1,520`.
func grouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var result = ""
    for (index, character) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { result.append(",") }
        result.append(character)
    }
    return value < 0 ? "-" + result : result
}

/// Handles SIGTERM and SIGINT (drain, then a second one hands everything back at once) and SIGHUP (reload).
struct SignalService: Service {
    let router: SignalRouter
    let state: WorkerState
    let notifier: SystemdNotifier
    let trigger: ShutdownTrigger
    let reload: @Sendable () async -> Void
    let logger: Logger

    func run() async throws {
        let stopRequests = Atomic<Int>(0)
        // A stop signal that came while the worker waited for the database, after that wait had already ended,
        // was heard by nobody: replay it, or the worker would run on until systemd's SIGKILL.
        router.route(replayingMissedStop: true) { signal in
            switch signal {
            case .sighup:
                Task { await reload() }
            default:
                if stopRequests.add(1, ordering: .relaxed).newValue == 1 {
                    logger.info("stopping: draining running tasks", metadata: ["signal": "\(signal)"])
                    notifier.stopping(status: "draining: \(state.runningCount) running")
                    state.startDraining()
                    Task { await trigger.trigger() }
                } else {
                    logger.notice("second stop signal: handing back running tasks now")
                    state.releaseNow()
                }
            }
        }
        // Stay until the very end of the shutdown (this service is shut down last), so a second signal is heard.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
        }
    }
}

/// Traps SIGTERM, SIGINT and SIGHUP once for the whole process and hands each signal to the current route.
final class SignalRouter: Sendable {
    private struct Route {
        var handler: (@Sendable (UnixSignal) -> Void)?
        /// The last stop signal (SIGTERM, SIGINT) handed to any route.
        var lastStop: UnixSignal?
    }

    private let current = Mutex(Route())
    private let listener = Mutex<Task<Void, Never>?>(nil)

    /// Starts trapping the signals.
    static func start() async -> SignalRouter {
        let router = SignalRouter()
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
        let task = Task {
            for await signal in signals {
                let handler = router.current.withLock { route in
                    if signal != .sighup { route.lastStop = signal }
                    return route.handler
                }
                handler?(signal)
            }
        }
        router.listener.withLock { $0 = task }
        return router
    }

    /// Sends every following signal to `handler`. With `replayingMissedStop`, a stop signal that an earlier route
    /// received is handed to `handler` at once as well (the earlier route may have been past caring).
    func route(replayingMissedStop: Bool = false, _ handler: @escaping @Sendable (UnixSignal) -> Void) {
        let missed = current.withLock { route in
            route.handler = handler
            return route.lastStop
        }
        if replayingMissedStop, let missed { handler(missed) }
    }

    /// Stops trapping.
    func stop() {
        listener.withLock { $0 }?.cancel()
    }
}

/// Lets a service start the group's graceful shutdown once the group exists.
final class ShutdownTrigger: Sendable {
    private let group = Mutex<ServiceGroup?>(nil)

    func set(_ serviceGroup: ServiceGroup) {
        group.withLock { $0 = serviceGroup }
    }

    func trigger() async {
        await group.withLock { $0 }?.triggerGracefulShutdown()
    }
}
