public import ArgumentParser
import DaemonConfiguration
import Logging
import Systemd
import TaskQueue
import WebhookDaemon

#if canImport(Glibc)
    import Glibc
#endif

extension LogFormat: ExpressibleByArgument {}

/// `queue-webhook`: receives GitHub webhook deliveries and enqueues reviews. Meant to run as `queue-webhook.service`
/// with `queue-webhook.socket`.
@main
struct QueueWebhook: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue-webhook",
        abstract: "Receive GitHub webhook deliveries at POST /webhooks/github and enqueue AgentQueue reviews.",
        discussion: """
            Configuration comes from the environment (DATABASE_URL, GITHUB_WEBHOOK_SECRET or \
            GITHUB_WEBHOOK_SECRET_FILE, WEBHOOK_LISTEN, … — see systemd/queue-webhook.env.example), overridden by the \
            --config file. Under systemd it serves on the socket queue-webhook.socket passes in; otherwise it binds \
            WEBHOOK_LISTEN (default 127.0.0.1:8080). GET /healthz answers while the process runs, GET /readyz once the \
            database answers at the expected schema.

            Exit status: 0 after a clean stop, 78 for an invalid configuration, 1 for other failures.
            """,
        version: AgentQueueInfo.version
    )

    @Option(help: ArgumentHelp("A KEY=value settings file whose settings override the environment.", valueName: "file"))
    var config: String?

    @Option(help: "Log format: auto (journal when stderr is the journal, else logfmt), journal, logfmt or json.")
    var logFormat: LogFormat?

    @Flag(help: "Check the configuration, print it without secrets, and exit.")
    var checkConfig = false

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        let configuration: WebhookConfiguration
        do {
            configuration = try WebhookConfiguration.load(
                environment: ProcessEnvironment.current(), configFile: config, logFormatOverride: logFormat)
        } catch {
            var message = Array("queue-webhook: configuration error: \(error)\n".utf8)
            _ = message.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
            throw ExitCode(78)
        }
        if checkConfig {
            print(configuration.summary)
            return
        }
        let level = LogLevelSetting(configuration.logLevel)
        let factory = LogHandlerFactory(
            format: configuration.logFormat, level: level, syslogIdentifier: "queue-webhook")
        let secrets = configuration
        LoggingSystem.bootstrap(
            { label, provider in
                RedactingLogHandler(wrapping: factory.makeHandler(label: label, metadataProvider: provider)) {
                    secrets.redact($0)
                }
            },
            metadataProvider: nil)
        let logger = Logger(label: "queue-webhook")
        do {
            try await WebhookDaemon.run(configuration: configuration, logger: logger)
        } catch {
            logger.critical("queue-webhook failed", metadata: ["error": "\(configuration.redact("\(error)"))"])
            throw ExitCode.failure
        }
    }
}
