public import ArgumentParser
import DaemonConfiguration
import Logging
import Systemd
import TaskQueue
import WorkerDaemon

#if canImport(Glibc)
    import Glibc
#endif

extension LogFormat: ExpressibleByArgument {}

/// `queue-worker`: claims and runs AgentQueue tasks until stopped. Meant to run as `queue-worker@N.service`.
@main
struct QueueWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue-worker",
        abstract: "Claim and run AgentQueue tasks from PostgreSQL until stopped.",
        discussion: """
            Configuration comes from the environment (DATABASE_URL, WORKER_QUEUES, WORKER_CONCURRENCY, … — see \
            systemd/queue-worker.env.example and systemd/queue-worker.conf.example), overridden by the --config \
            file, which is read again on SIGHUP. --config=-FILE (a leading "-", as in systemd's EnvironmentFile=) \
            skips the file when it does not exist.

            Signals: SIGTERM/SIGINT drain (running tasks finish within WORKER_SHUTDOWN_GRACE_SECONDS, the rest are \
            handed back without spending an attempt); a second SIGTERM hands them back at once. SIGHUP reads the \
            settings again and applies LOG_LEVEL, WORKER_CONCURRENCY and WORKER_QUEUES; other changed settings are \
            logged as needing a restart.

            Exit status: 0 after a clean stop, 78 for an invalid configuration, 1 for other failures.
            """,
        version: AgentQueueInfo.version
    )

    @Option(help: "The instance name, part of the worker's identity (systemd's %i).")
    var instance: String?

    @Option(
        help: ArgumentHelp(
            "A KEY=value settings file whose settings override the environment, read again on SIGHUP. "
                + "Write --config=-FILE to skip a missing file.",
            valueName: "file"
        )
    )
    var config: String?

    @Option(help: "Log format: auto (journal when stderr is the journal, else logfmt), journal, logfmt or json.")
    var logFormat: LogFormat?

    @Flag(help: "Check the configuration, print it without secrets, and exit.")
    var checkConfig = false

    func run() async throws {
        // A closed stderr pipe must not kill the worker; writes fail with EPIPE instead.
        signal(SIGPIPE, SIG_IGN)
        let instance = self.instance
        let configFile = self.config
        let logFormat = self.logFormat
        let load: @Sendable () throws -> WorkerConfiguration = {
            try WorkerConfiguration.load(configFile: configFile, instance: instance, logFormatOverride: logFormat)
        }
        let configuration: WorkerConfiguration
        do {
            configuration = try load()
        } catch {
            printError("queue-worker: configuration error: \(error)")
            throw ExitCode(78)
        }
        if checkConfig {
            print(configuration.summary)
            return
        }
        let logLevel = LogLevelSetting(configuration.logLevel)
        let factory = LogHandlerFactory(
            format: configuration.logFormat, level: logLevel, syslogIdentifier: "queue-worker")
        let secrets = configuration
        LoggingSystem.bootstrap(
            { label, provider in
                RedactingLogHandler(wrapping: factory.makeHandler(label: label, metadataProvider: provider)) {
                    secrets.redact($0)
                }
            },
            metadataProvider: nil
        )
        let logger = Logger(label: "queue-worker")
        if case .missing(let path) = configuration.settingsFile {
            logger.notice("settings file not found; using the environment", metadata: ["path": "\(path)"])
        }
        // What a reload cannot apply keeps the value the worker started with: name every such change, each time.
        let reload: @Sendable () throws -> WorkerConfiguration = {
            let next = try load()
            let needRestart = next.settingsNeedingRestart(comparedWith: configuration)
            if !needRestart.isEmpty {
                logger.notice(
                    "changed settings take effect only after a restart",
                    metadata: ["settings": "\(needRestart.joined(separator: ","))"]
                )
            }
            if case .missing(let path) = next.settingsFile {
                logger.notice("settings file not found; using the environment", metadata: ["path": "\(path)"])
            }
            return next
        }
        do {
            try await WorkerDaemon.run(
                configuration: configuration,
                reloadConfiguration: reload,
                logLevel: logLevel,
                handlers: { pool in
                    try WorkerDaemon.standardHandlers(configuration: configuration, pool: pool, logger: logger)
                },
                logger: logger
            )
        } catch {
            logger.critical("worker failed", metadata: ["error": "\(configuration.redact("\(error)"))"])
            throw ExitCode.failure
        }
    }
}

func printError(_ message: String) {
    var bytes = Array((message + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}
