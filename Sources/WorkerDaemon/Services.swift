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
    let pool: PostgresConnectionPool
    let logger: Logger

    func run() async throws {
        guard await cancelWhenGracefulShutdown({ await state.databaseReady.wait() }) == true else { return }
        let retry = RetryPolicy(base: configuration.retryBase, maximum: configuration.retryMaximum)
        do {
            let previous = try await pool.run(
                RescueTasks.previousBoots(ownerPrefix: identity.stablePrefix, currentOwner: identity.id, retry: retry)
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
                    let rescued = try await pool.run(RescueTasks.expired(limit: 100, retry: retry))
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
                    state.databaseFailed(error, redact: configuration.redact)
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
        guard await cancelWhenGracefulShutdown({ await state.databaseReady.wait() }) == true else { return }
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
        guard await cancelWhenGracefulShutdown({ await state.databaseReady.wait() }) == true else { return }
        let settings = state.settings
        do {
            try await pool.run(
                RegisterWorker(
                    id: identity.id, host: identity.host, instance: identity.instance,
                    bootID: identity.bootID.uuidString, pid: Int(getpid()), version: AgentQueueInfo.version,
                    queues: settings.queues, concurrency: settings.concurrency, interval: Self.interval
                )
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
        do {
            try await pool.run(
                UpdateWorker(
                    id: identity.id, state: finalState ?? (snapshot.draining ? "draining" : "running"),
                    done: snapshot.done, failed: snapshot.failed, queues: settings.queues,
                    concurrency: settings.concurrency)
            )
            state.databaseSucceeded()
        } catch {
            state.databaseFailed(error, redact: configuration.redact)
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
        // READY=1 only once the claim loop runs: the database answered with the expected schema first.
        guard await cancelWhenGracefulShutdown({ await state.claimLoopStarted.wait() }) == true else { return }
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
                lastDatabaseSuccess: snapshot.lastDatabaseSuccess, readOnlySince: snapshot.readOnlySince
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
                case .databaseUnreachable, .databaseNeverReached, .databaseReadOnly:
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
            state.recordPending(try await pool.run(CountPendingTasks(queues: state.settings.queues, cap: 100_000)))
            // A read: it proves nothing about writes (a read-only standby answers it), so health is not updated.
        } catch {
            state.databaseFailed(error, redact: configuration.redact)
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

/// The signals ServiceGroup does not handle: SIGHUP reloads the configuration, and a second SIGTERM or SIGINT (the
/// first starts the group's graceful shutdown: the drain) hands every running task back at once.
struct SignalService: Service {
    let state: WorkerState
    let reload: @Sendable () async -> Void
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup, .sigterm, .sigint)
        await cancelWhenGracefulShutdown {
            var stops = 0
            for await signal in signals {
                if signal == .sighup {
                    await reload()
                    continue
                }
                stops += 1
                if stops >= 2 {
                    logger.notice("second stop signal: handing back running tasks now")
                    state.releaseNow()
                }
            }
        }
    }
}
