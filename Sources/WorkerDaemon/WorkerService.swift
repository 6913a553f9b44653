import Logging
import PostgresClient
import ServiceLifecycle
import Systemd
import TaskQueue

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The claim loop and the attempts it runs.
///
/// Claims only for free slots, through `claim_task(...)`; wakes on notifications or a freed slot and polls with
/// jitter as the backstop. On graceful shutdown it stops claiming, lets running attempts finish within the grace
/// period, then cancels the rest, which hand their tasks back without spending an attempt.
final class WorkerService: Service {
    private let identity: WorkerIdentity
    private let configuration: WorkerConfiguration
    private let state: WorkerState
    private let queue: QueueClient
    private let handlers: HandlerRegistry
    private let notifier: SystemdNotifier
    private let completer: BatchCompleter
    /// The claim loop's own connection and thread.
    private let claimConnection: PinnedConnection
    private let logger: Logger

    init(
        identity: WorkerIdentity,
        configuration: WorkerConfiguration,
        state: WorkerState,
        queue: QueueClient,
        handlers: HandlerRegistry,
        notifier: SystemdNotifier,
        logger: Logger
    ) {
        self.identity = identity
        self.configuration = configuration
        self.state = state
        self.queue = queue
        self.handlers = handlers
        self.notifier = notifier
        self.logger = logger
        claimConnection = PinnedConnection(
            label: "agentqueue.claim", configuration: configuration.database, logger: logger)
        completer = BatchCompleter(
            connection: PinnedConnection(
                label: "agentqueue.complete", configuration: configuration.database, logger: logger),
            patience: configuration.leaseDuration,
            databaseSucceeded: { state.databaseSucceeded() },
            databaseFailed: { state.databaseFailed($0) },
            redact: { configuration.redact($0) },
            logger: logger
        )
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { outer in
                outer.addTask { await self.completer.run() }
                // The claim loop runs on its connection's thread; the attempts it starts run on the cooperative pool.
                await withTaskExecutorPreference(claimConnection.executor) {
                    await withDiscardingTaskGroup { group in
                        await claimLoop(group: &group)
                        await drain()
                    }
                }
                await claimConnection.close()
                // Every attempt has settled (completions included): let the completer write the last batch and end.
                completer.finish()
            }
        } onGracefulShutdown: {
            self.state.startDraining()
        }
        logger.info("worker drained", metadata: ["worker": "\(identity.id)"])
    }

    /// While other attempts still run, a claim for fewer free slots than a batch waits up to this long for more
    /// slots to free, so that a busy worker claims (and completes) in batches instead of one task per statement.
    /// An idle worker claims at once.
    static let claimGathering: Duration = .milliseconds(5)

    private func claimLoop(group: inout DiscardingTaskGroup) async {
        var failures = 0
        let clock = ContinuousClock()
        var gatheringSince: ContinuousClock.Instant?
        while !state.isDraining && !Task.isCancelled {
            let (free, busy) = state.slots
            let settings = state.settings
            let fullBatch = min(configuration.claimBatchSize, settings.concurrency)
            if free > 0 && free < fullBatch && busy > 0 && failures == 0 {
                let since = gatheringSince ?? clock.now
                gatheringSince = since
                let left = since + Self.claimGathering - clock.now
                if left > .zero {
                    await state.wakeup.wait(timeout: left)
                    continue
                }
            }
            gatheringSince = nil
            var claimedFull = false
            if free > 0 {
                let requested = min(free, configuration.claimBatchSize)
                do {
                    let claimed = try await claimConnection.use { connection in
                        try await QueueClient.claim(
                            workerID: identity.id, queues: settings.queues, limit: requested,
                            lease: configuration.leaseDuration, on: connection
                        )
                    }
                    state.databaseSucceeded()
                    failures = 0
                    for task in claimed {
                        let control = TaskControl()
                        state.register(task, control: control)
                        group.addTask(executorPreference: globalConcurrentExecutor) {
                            await self.runAttempt(task, control: control)
                        }
                    }
                    claimedFull = claimed.count == requested
                } catch {
                    failures += 1
                    let message = configuration.redact("\(error)")
                    state.databaseFailed(message)
                    logger.warning("claim failed", metadata: ["error": "\(message)", "failures": "\(failures)"])
                }
            }
            state.claimLoopTicked()
            if state.isDraining { break }
            if claimedFull && state.freeSlots > 0 { continue }
            await state.wakeup.wait(
                timeout: failures > 0
                    ? Self.failureBackoff(failures, pollInterval: configuration.pollInterval)
                    : jittered(configuration.pollInterval)
            )
        }
    }

    /// Waits for running attempts until the grace period ends (or a second signal), then hands back the rest.
    private func drain() async {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.shutdownGrace
        var lastExtension = clock.now - .seconds(3600)
        logger.info(
            "draining",
            metadata: ["running": "\(state.runningCount)", "grace": "\(configuration.shutdownGrace)"]
        )
        while state.runningCount > 0 && !state.isReleasing && clock.now < deadline {
            if clock.now - lastExtension > .seconds(5) {
                // Tell systemd the stop is progressing, so that a long grace period is not cut short.
                notifier.extendTimeout(
                    deadline - clock.now + .seconds(15),
                    status: "draining: \(state.runningCount) running, handing back at the end of the grace period"
                )
                lastExtension = clock.now
            }
            state.claimLoopTicked()
            await state.wakeup.wait(timeout: min(.seconds(1), deadline - clock.now))
        }
        if state.runningCount > 0 {
            logger.info("handing back running tasks", metadata: ["running": "\(state.runningCount)"])
            state.releaseNow()
        }
    }

    private func jittered(_ interval: Duration) -> Duration {
        interval * Double.random(in: 0.8...1.2)
    }

    /// Backoff after `failures` failed claims in a row, jittered. It stays below the watchdog's claim-loop
    /// tolerance (``SystemdService/claimLoopTolerance(pollInterval:)``): a loop that waits for the database is not
    /// wedged, and the database's own tolerance (`WORKER_DB_TOLERANCE_SECONDS`) decides when an outage should stop
    /// the watchdog.
    static func failureBackoff(_ failures: Int, pollInterval: Duration) -> Duration {
        let longest = max(5.0, Double(pollInterval.milliseconds) / 1000)
        let seconds = min(longest, 0.5 * Double(1 << min(max(failures, 1), 10)))
        return .milliseconds(Int64(seconds * 1000 * Double.random(in: 0.8...1.2)))
    }

    // MARK: One attempt

    private func runAttempt(_ task: ClaimedTask, control: TaskControl) async {
        let lease = task.lease
        var taskLogger = logger
        taskLogger[metadataKey: "task.id"] = "\(lease.taskID)"
        taskLogger[metadataKey: "task.kind"] = "\(task.record.kind)"
        taskLogger[metadataKey: "attempt"] = "\(lease.attempt)"
        let context = TaskContext(workerID: identity.id, queue: queue, logger: taskLogger, control: control)
        taskLogger.debug("task started")

        guard let handler = handlers.handler(for: task.record.kind) else {
            let message =
                "unknown task kind '\(task.record.kind)': this worker runs \(handlers.kinds.joined(separator: ", "))"
            taskLogger.error("unknown task kind")
            state.beginFinishing(taskID: lease.taskID)
            _ = await write(lease, logger: taskLogger) {
                try await self.queue.fail(lease, message: message, permanent: true, retry: self.retryPolicy)
            }
            state.finish(taskID: lease.taskID, succeeded: false)
            return
        }

        let work = Task { try await handler.handle(task, context: context) }
        state.attach(taskID: lease.taskID) { work.cancel() }
        let result = await withTaskCancellationHandler {
            await work.result
        } onCancel: {
            work.cancel()
        }
        state.beginFinishing(taskID: lease.taskID)
        let succeeded = await settle(task, result: result, control: control, logger: taskLogger)
        state.finish(taskID: lease.taskID, succeeded: succeeded)
    }

    private var retryPolicy: RetryPolicy {
        RetryPolicy(base: configuration.retryBase, maximum: configuration.retryMaximum)
    }

    /// Records the attempt's outcome, fenced by its lease. Returns true (succeeded), false (failed), or nil
    /// (handed back, cancelled or lease lost).
    private func settle(
        _ task: ClaimedTask,
        result: Result<TaskOutcome, any Error>,
        control: TaskControl,
        logger: Logger
    ) async -> Bool? {
        let lease = task.lease
        if control.isLeaseLost {
            logger.warning("lease lost: stopped the task and wrote nothing more")
            return nil
        }
        switch result {
        case .success(.succeeded(let output)):
            state.awaitCompletion(taskID: lease.taskID)
            let written = await completer.complete(lease, result: output)
            if written == .leaseLost { logger.warning("lease lost before completion: result not recorded") }
            logger.info("task succeeded")
            return written == .written ? true : nil
        case .success(.completedByHandler):
            logger.info("task succeeded")
            return true
        case .failure(let error as TaskInterruption):
            switch error {
            case .leaseLost:
                logger.warning("lease lost: stopped the task and wrote nothing more")
                return nil
            case .cancelRequested:
                _ = await write(lease, logger: logger) { try await self.queue.finishCancelled(lease) }
                logger.info("task cancelled on request")
                return nil
            }
        case .failure where state.isReleasing:
            let written = await write(lease, logger: logger) {
                try await self.queue.release(lease, reason: "worker shutting down")
            }
            logger.info("task handed back", metadata: ["released": "\(written == .written)"])
            return nil
        case .failure(let error as TaskFailure):
            return await fail(
                lease, message: configuration.redact(error.message), permanent: error.permanent, logger: logger)
        case .failure(let error):
            return await fail(lease, message: configuration.redact("\(error)"), permanent: false, logger: logger)
        }
    }

    private func fail(_ lease: Lease, message: String, permanent: Bool, logger: Logger) async -> Bool? {
        let outcome = await write(lease, logger: logger) {
            try await self.queue.fail(lease, message: message, permanent: permanent, retry: self.retryPolicy)
        }
        switch outcome {
        case .retrying(let at)?:
            logger.warning("task failed, will retry", metadata: ["error": "\(message)", "retry_at": "\(at)"])
        case .dead?:
            logger.error("task failed for good", metadata: ["error": "\(message)"])
        case .leaseLost?:
            logger.warning("lease lost before the failure was recorded")
            return nil
        case nil:
            return nil
        }
        return false
    }

    /// Runs a fenced write, retrying transient database errors for up to a lease period. A write that cannot be
    /// made leaves the task to expire and be rescued (at-least-once).
    private func write<T: Sendable>(_ lease: Lease, logger: Logger, _ body: @Sendable () async throws -> T) async -> T?
    {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.leaseDuration
        var attempt = 0
        while true {
            do {
                let value = try await body()
                state.databaseSucceeded()
                return value
            } catch let error as PostgresError where error.isTransient && clock.now < deadline {
                attempt += 1
                state.databaseFailed(configuration.redact("\(error)"))
                try? await Task.sleep(for: .milliseconds(min(2000, 50 << min(attempt, 6))))
            } catch {
                logger.error(
                    "could not record the task's outcome", metadata: ["error": "\(configuration.redact("\(error)"))"])
                return nil
            }
        }
    }
}
