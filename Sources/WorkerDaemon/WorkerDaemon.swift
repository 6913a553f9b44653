public import Logging
public import PostgresClient
import ServiceLifecycle
public import Systemd
import TaskQueue
import UnixSignals

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The worker process: the claim loop, heartbeat, rescuer, listener, registry, systemd notifier and signal handling,
/// wired in one `ServiceGroup` that owns SIGTERM and SIGINT (graceful shutdown: the drain). The claim loop first waits
/// for the database and its schema; the services that use the database start once it answers, and READY=1 is sent
/// once the claim loop runs.
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
        // Connections are opened on first use: nothing touches the database before the claim loop found it ready.
        let pool = PostgresConnectionPool(
            connection: configuration.database,
            pool: .init(
                maximumConnections: configuration.poolSize + configuration.poolOverflow,
                maximumIdleConnections: configuration.poolSize
            ),
            logger: logger
        )
        let state = WorkerState(settings: .init(concurrency: configuration.concurrency, queues: configuration.queues))
        var handlers = try makeHandlers(pool)
        if handlers.handler(for: "noop") == nil { handlers.register("noop", NoopHandler()) }

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

        // The group shuts services down in reverse order, each after the one after it finished: the claim loop
        // (last) drains first; the heartbeat keeps the leases of draining tasks until it has; signals stay handled
        // to the very end, so that a second SIGTERM is heard.
        var services: [any Service] = [
            SignalService(state: state, reload: reload, logger: logger),
            SystemdService(configuration: configuration, state: state, pool: pool, notifier: notifier, logger: logger),
            RegistryService(identity: identity, configuration: configuration, state: state, pool: pool, logger: logger),
            RescueService(identity: identity, configuration: configuration, state: state, pool: pool, logger: logger),
            LeaseKeeper(
                connection: PinnedConnection(
                    label: "agentqueue.heartbeat", configuration: configuration.database, logger: logger),
                state: state, leaseDuration: configuration.leaseDuration, interval: configuration.heartbeatInterval,
                redact: { configuration.redact($0) }, logger: logger
            ),
        ]
        // LISTEN/NOTIFY is a latency hint only (the claim loop polls anyway); WORKER_LISTEN=false leaves it out.
        if configuration.listen {
            services.append(WakeupService(configuration: configuration, state: state, logger: logger))
        }
        services.append(
            WorkerService(
                identity: identity, configuration: configuration, state: state, queue: QueueClient(pool: pool),
                handlers: handlers, notifier: notifier, logger: logger
            )
        )
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        await pool.close()
        logger.info("stopped")
    }
}
