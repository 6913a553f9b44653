import DaemonConfiguration
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
/// Waits until the database answers with the expected schema, then claims only for free slots, through
/// `claim_task(...)`; wakes on notifications or a freed slot and polls with jitter as the backstop. On graceful
/// shutdown it stops claiming, lets running attempts finish within the grace period, then cancels the rest, which hand
/// their tasks back without spending an attempt.
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
            databaseFailed: { state.databaseFailed($0, redact: configuration.redact) },
            redact: { configuration.redact($0) },
            logger: logger
        )
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            guard await waitForDatabase() else {
                logger.info("stopped before the database was ready")
                return
            }
            state.databaseReady.open()
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
            logger.info("worker drained")
        } onGracefulShutdown: {
            self.logger.info("stopping: draining running tasks", metadata: ["running": "\(self.state.runningCount)"])
            self.notifier.stopping(status: "draining: \(self.state.runningCount) running")
            self.state.startDraining()
        }
    }

    /// Waits until the database answers with the expected schema, telling systemd and the log why not. Returns false
    /// when a stop came first.
    private func waitForDatabase() async -> Bool {
        var attempt = 0
        var lastReported = ""
        while !state.isDraining && !Task.isCancelled {
            attempt += 1
            let problem: String
            do {
                let found = try await claimConnection.use { try await Migrator.schemaProblem(on: $0) }
                guard let found else { return true }
                problem = found
            } catch {
                problem = "waiting for the database: \(configuration.redact("\(error)"))"
            }
            notifier.status(problem)
            if problem != lastReported || attempt % 30 == 0 {
                logger.error("not ready", metadata: ["reason": "\(problem)"])
                lastReported = problem
            }
            await state.wakeup.wait(timeout: .milliseconds(Int64(min(5000, 250 * attempt))))
        }
        return false
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
                let claim = ClaimTasks(
                    workerID: identity.id, queues: settings.queues, limit: min(free, configuration.claimBatchSize),
                    lease: configuration.leaseDuration)
                do {
                    let claimed = try await claimConnection.use { try await $0.run(claim) }
                    state.databaseSucceeded()
                    failures = 0
                    for task in claimed {
                        let control = TaskControl()
                        state.register(task, control: control)
                        group.addTask(executorPreference: globalConcurrentExecutor) {
                            await self.runAttempt(task, control: control)
                        }
                    }
                    claimedFull = claimed.count == claim.limit
                } catch {
                    failures += 1
                    state.databaseFailed(error, redact: configuration.redact)
                    logger.warning(
                        "claim failed",
                        metadata: ["error": "\(configuration.redact("\(error)"))", "failures": "\(failures)"])
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
        let context = TaskContext(workerID: identity.id, logger: taskLogger, control: control)
        taskLogger.debug("task started")

        guard let handler = handlers.handler(for: task.record.kind) else {
            let message =
                "unknown task kind '\(task.record.kind)': this worker runs \(handlers.kinds.joined(separator: ", "))"
            taskLogger.error("unknown task kind")
            state.beginFinishing(lease)
            _ = await write(lease, logger: taskLogger) {
                try await self.queue.pool.run(
                    FailTask(lease, message: message, permanent: true, retry: self.retryPolicy))
            }
            state.finish(lease, succeeded: false)
            return
        }

        let work = Task { try await handler.handle(task, context: context) }
        state.attach(lease) { work.cancel() }
        let result = await withTaskCancellationHandler {
            await work.result
        } onCancel: {
            work.cancel()
        }
        state.beginFinishing(lease)
        let succeeded = await settle(task, result: result, control: control, logger: taskLogger)
        state.finish(lease, succeeded: succeeded)
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
            state.awaitCompletion(lease)
            let written = await completer.complete(lease, result: output)
            if written == .leaseLost { logger.warning("lease lost before completion: result not recorded") }
            if written == .written { logger.info("task succeeded") }
            return written == .written ? true : nil
        case .success(.recorded(let records)):
            return await finish(lease, records: records, logger: logger)
        case .failure(TaskInterruption.leaseLost):
            logger.warning("lease lost: stopped the task and wrote nothing more")
            return nil
        case .failure(TaskInterruption.cancelRequested):
            return await finishCancelled(lease, logger: logger)
        case .failure where control.isCancelRequested:
            // The work was cancelled because cancellation was requested (a sleep or a model call stopped mid-way).
            return await finishCancelled(lease, logger: logger)
        case .failure where state.isReleasing:
            let written = await write(lease, logger: logger) {
                try await self.queue.pool.run(ReleaseTask(lease, reason: "worker shutting down"))
            }
            logger.info("task handed back", metadata: ["released": "\(written == .written)"])
            return nil
        case .failure(let error as TaskFailure):
            return await fail(
                lease, message: configuration.redact(error.message), permanent: error.permanent,
                interrupted: error.interrupted, logger: logger)
        case .failure(let error as PostgresError):
            // A data or constraint error does not heal by retrying; a lost connection or a terminated backend is the
            // infrastructure's fault, not the task's: it gives its attempt back (a bounded number of times).
            return await fail(
                lease, message: configuration.redact("\(error)"), permanent: error.isPermanent,
                interrupted: error.isTransient, logger: logger)
        case .failure(let error):
            return await fail(lease, message: configuration.redact("\(error)"), permanent: false, logger: logger)
        }
    }

    private func finishCancelled(_ lease: Lease, logger: Logger) async -> Bool? {
        _ = await write(lease, logger: logger) { try await self.queue.pool.run(FinishCancelledTask(lease)) }
        logger.info("task cancelled on request")
        return nil
    }

    /// Writes a task's records and completes it in one transaction fenced by its lease.
    private func finish(_ lease: Lease, records: any TaskRecords, logger: Logger) async -> Bool? {
        do {
            switch try await writeOrThrow(lease, { try await self.queue.finish(lease, records: records) }) {
            case .written:
                logger.info("task succeeded")
                return true
            case .leaseLost:
                logger.warning("lease lost before the results were recorded: nothing written")
                return nil
            }
        } catch let error as PostgresError where error.isPermanent {
            // The database refuses the results themselves (a value out of range, a constraint): retrying cannot help.
            return await fail(
                lease, message: "the results cannot be recorded: \(configuration.redact("\(error)"))", permanent: true,
                logger: logger)
        } catch {
            return await fail(
                lease, message: "the results could not be recorded: \(configuration.redact("\(error)"))",
                permanent: false, interrupted: (error as? PostgresError)?.isTransient == true, logger: logger)
        }
    }

    /// The longest failure message logged and stored (a model's or git's error can be megabytes).
    static let longestMessage = 4000

    private func fail(_ lease: Lease, message: String, permanent: Bool, interrupted: Bool = false, logger: Logger)
        async -> Bool?
    {
        let message =
            message.count <= Self.longestMessage
            ? message
            : message.prefix(Self.longestMessage) + "… (\(message.count - Self.longestMessage) more characters)"
        let outcome = await write(lease, logger: logger) {
            try await self.queue.pool.run(
                FailTask(
                    lease, message: message, permanent: permanent, interrupted: interrupted, retry: self.retryPolicy))
        }
        switch outcome {
        case .retrying(let at)?:
            logger.warning(
                interrupted ? "task interrupted, will run again" : "task failed, will retry",
                metadata: ["error": "\(message)", "retry_at": "\(at)"])
        case .dead?:
            logger.error("task failed for good", metadata: ["error": "\(message)"])
        case .cancelled?:
            logger.info("task failed after its cancellation was requested: cancelled")
            return nil
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
        do {
            return try await writeOrThrow(lease, body)
        } catch {
            logger.error(
                "could not record the task's outcome", metadata: ["error": "\(configuration.redact("\(error)"))"])
            return nil
        }
    }

    /// Like ``write(_:logger:_:)``, throwing the last error instead of logging it.
    private func writeOrThrow<T: Sendable>(_ lease: Lease, _ body: @Sendable () async throws -> T) async throws -> T {
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
                state.databaseFailed(error, redact: configuration.redact)
                try? await Task.sleep(for: .milliseconds(min(2000, 50 << min(attempt, 6))))
            }
        }
    }
}
