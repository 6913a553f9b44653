public import Logging
public import PostgresClient
import ServiceLifecycle
import Synchronization
public import Systemd
import TaskQueue
import UnixSignals

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The worker process: waits for the database, then runs the claim loop, heartbeat, rescuer, listener, registry
/// and systemd notifier in one `ServiceGroup` until SIGTERM.
public enum WorkerDaemon {
    /// Runs a worker until it is stopped. Returns normally after a clean drain.
    ///
    /// - Parameters:
    ///   - configuration: the validated configuration.
    ///   - reloadConfiguration: reads the configuration again (on SIGHUP).
    ///   - logLevel: the level every logger follows; a reload changes it.
    ///   - handlers: the task kinds this worker runs, given the worker's pool (`noop` is always added).
    public static func run(
        configuration: WorkerConfiguration,
        reloadConfiguration: @escaping @Sendable () throws -> WorkerConfiguration,
        logLevel: LogLevelSetting,
        handlers makeHandlers: (PostgresConnectionPool) throws -> HandlerRegistry,
        logger: Logger
    ) async throws {
        let notifier = SystemdNotifier()
        let identity = WorkerIdentity(instance: configuration.instance)
        let logger = {
            var logger = logger
            logger[metadataKey: "worker"] = "\(identity.id)"
            return logger
        }()
        logger.info(
            "starting",
            metadata: [
                "version": "\(AgentQueueInfo.version)", "database": "\(configuration.database.redactedDescription)",
                "queues": "\(configuration.queues.joined(separator: ","))",
                "concurrency": "\(configuration.concurrency)",
            ]
        )
        let router = await SignalRouter.start()
        defer { router.stop() }
        guard await waitForDatabase(configuration: configuration, router: router, notifier: notifier, logger: logger)
        else {
            logger.info("stopped before the database was ready")
            notifier.stopping()
            return
        }

        let pool = PostgresConnectionPool(
            connection: configuration.database,
            pool: .init(
                maximumConnections: configuration.poolSize + configuration.poolOverflow,
                maximumIdleConnections: configuration.poolSize
            ),
            logger: logger
        )
        let queue = QueueClient(pool: pool, logger: logger)
        let state = WorkerState(settings: .init(concurrency: configuration.concurrency, queues: configuration.queues))
        var handlers = try makeHandlers(pool)
        if handlers.handler(for: "noop") == nil { handlers.register("noop", NoopHandler()) }
        let trigger = ShutdownTrigger()

        let reload: @Sendable () async -> Void = {
            notifier.reloading(status: "reloading configuration")
            let status: String
            do {
                let next = try reloadConfiguration()
                logLevel.level = next.logLevel
                state.update(settings: .init(concurrency: next.concurrency, queues: next.queues))
                logger.notice(
                    "configuration reloaded",
                    metadata: [
                        "log_level": "\(next.logLevel)", "concurrency": "\(next.concurrency)",
                        "queues": "\(next.queues.joined(separator: ","))",
                    ]
                )
                status = "reloaded: \(state.runningCount)/\(state.settings.concurrency) busy"
            } catch {
                logger.error("reload failed; keeping the running configuration", metadata: ["error": "\(error)"])
                status =
                    "reload failed, running settings kept: \(state.runningCount)/\(state.settings.concurrency) busy · "
                    + configuration.redact("\(error)")
            }
            notifier.ready(status: status)
        }

        var services: [any Service] = [
            SignalService(
                router: router, state: state, notifier: notifier, trigger: trigger, reload: reload, logger: logger),
            SystemdService(configuration: configuration, state: state, pool: pool, notifier: notifier, logger: logger),
            RegistryService(identity: identity, configuration: configuration, state: state, pool: pool, logger: logger),
            RescueService(identity: identity, configuration: configuration, state: state, queue: queue, logger: logger),
            LeaseKeeper(
                configuration: configuration.database, state: state, leaseDuration: configuration.leaseDuration,
                interval: configuration.heartbeatInterval, logger: logger
            ),
        ]
        // LISTEN/NOTIFY is a latency hint only (the claim loop polls anyway); WORKER_LISTEN=false leaves it out.
        if configuration.listen {
            services.append(WakeupService(configuration: configuration, state: state, logger: logger))
        }
        services.append(
            WorkerService(
                identity: identity, configuration: configuration, state: state, queue: queue, handlers: handlers,
                notifier: notifier, logger: logger
            )
        )
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
                logger: logger
            )
        )
        trigger.set(group)
        try await group.run()
        await pool.close()
        logger.info("stopped")
    }

    /// Waits until the database answers with the expected schema version, telling systemd and the log why not.
    /// Returns false when a stop signal arrived first.
    static func waitForDatabase(
        configuration: WorkerConfiguration,
        router: SignalRouter,
        notifier: SystemdNotifier,
        logger: Logger
    ) async -> Bool {
        let waiting = Task {
            var attempt = 0
            var lastReported = ""
            while !Task.isCancelled {
                attempt += 1
                let problem: String
                do {
                    let connection = try await PostgresConnection.connect(
                        configuration: configuration.database, logger: logger)
                    let version = try await Migrator.currentVersion(on: connection)
                    await connection.close()
                    if version == Migrator.latestVersion { return true }
                    problem =
                        version < Migrator.latestVersion
                        ? "the database schema is at version \(version) but this worker needs "
                            + "\(Migrator.latestVersion): run `queuectl migrate`"
                        : "the database schema is at version \(version), newer than this worker knows "
                            + "(\(Migrator.latestVersion)): upgrade queue-worker"
                } catch {
                    problem = "waiting for the database: \(configuration.redact("\(error)"))"
                }
                notifier.status(problem)
                if problem != lastReported || attempt % 30 == 0 {
                    logger.error("not ready", metadata: ["reason": "\(problem)"])
                    lastReported = problem
                }
                try? await Task.sleep(for: .milliseconds(Int64(min(5000, 250 * attempt))))
            }
            return false
        }
        router.route { signal in
            if signal != .sighup { waiting.cancel() }
        }
        return await waiting.value
    }
}
