public import ArgumentParser
import Logging
import Systemd
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
            systemd/queue-worker.env.example), overridden by the --config file, which is read again on SIGHUP.

            Signals: SIGTERM/SIGINT drain (running tasks finish within WORKER_SHUTDOWN_GRACE_SECONDS, the rest are \
            handed back without spending an attempt); a second SIGTERM hands them back at once. SIGHUP reloads the \
            log level, concurrency and queues.

            Exit status: 0 after a clean stop, 78 for an invalid configuration, 1 for other failures.
            """
    )

    @Option(help: "The instance name, part of the worker's identity (systemd's %i).")
    var instance: String?

    @Option(help: ArgumentHelp("A KEY=value settings file; its settings override the environment.", valueName: "file"))
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
        let factory = LogHandlerFactory(format: configuration.logFormat, level: logLevel, syslogIdentifier: "queue-worker")
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
        do {
            try await WorkerDaemon.run(
                configuration: configuration,
                reloadConfiguration: load,
                logLevel: logLevel,
                handlers: WorkerDaemon.standardHandlers(configuration: configuration, logger: logger),
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
