public import DaemonConfiguration
public import GitHubForge
public import Logging
public import PostgresClient
public import Systemd
import TaskQueue

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What queue-webhook is configured with, read once from the environment and an optional settings file (`--config`),
/// like the worker's: unknown `WEBHOOK_*` keys are refused naming the nearest setting, every invalid value is exit 78.
public struct WebhookConfiguration: Sendable {
    /// How to reach PostgreSQL (a role with `agentqueue_webhook` is enough).
    public var database: PostgresConfiguration
    /// Where to listen when systemd passes no socket: `HOST:PORT` (port 0: any free port).
    public var listenHost: String
    /// The port (0: any free one, logged once bound).
    public var listenPort: Int
    /// The secrets deliveries are signed with (`GITHUB_WEBHOOK_SECRET`, `GITHUB_WEBHOOK_SECRET_PREVIOUS`, or their
    /// `_FILE` variants, which systemd's `LoadCredential=` provides).
    public var secrets: WebhookSecrets
    /// The queue reviews are enqueued in.
    public var queue: String
    /// Their priority (lower runs first).
    public var priority: Int16
    /// GitHub's API (`GITHUB_API_URL`); a GitHub Enterprise Server's web host comes from it.
    public var githubAPIURL: String
    /// GitHub Enterprise Server's web host (from `GITHUB_API_URL`), whose pull request URLs are accepted too.
    public var enterpriseHost: String?
    /// Pool connections.
    public var poolSize: Int
    /// How long the database may be unreachable before the watchdog stops being petted.
    public var databaseTolerance: Duration
    /// Log level.
    public var logLevel: Logger.Level
    /// Log format.
    public var logFormat: LogFormat
    /// The settings file that was read, if any.
    public var settingsFile: SettingsFileStatus = .none
    private let secretValues: [String]

    /// Every setting queue-webhook reads.
    public static let settingNames: Set<String> = [
        "DATABASE_URL", "WEBHOOK_LISTEN", "GITHUB_WEBHOOK_SECRET", "GITHUB_WEBHOOK_SECRET_FILE",
        "GITHUB_WEBHOOK_SECRET_PREVIOUS", "GITHUB_WEBHOOK_SECRET_PREVIOUS_FILE", "WEBHOOK_QUEUE", "WEBHOOK_PRIORITY",
        "WEBHOOK_DB_POOL_SIZE", "WEBHOOK_DB_TOLERANCE_SECONDS", "GITHUB_API_URL", "LOG_LEVEL", "LOG_FORMAT",
    ]

    /// Reads the configuration from the environment and, when given, a `KEY=value` file whose settings win.
    public static func load(environment: [String: String], configFile: String?, logFormatOverride: LogFormat? = nil)
        throws(ConfigurationError) -> WebhookConfiguration
    {
        let (settings, status) = try SettingsLoader.load(
            environment: environment, configFile: configFile, known: settingNames, checkedPrefixes: ["WEBHOOK_"])
        var configuration = try WebhookConfiguration(settings: settings, logFormatOverride: logFormatOverride)
        configuration.settingsFile = status
        return configuration
    }

    /// Builds and validates a configuration from settings.
    public init(settings: [String: String], logFormatOverride: LogFormat? = nil) throws(ConfigurationError) {
        let reader = SettingsReader(settings: settings)
        guard let url = reader.value("DATABASE_URL") else {
            throw ConfigurationError(
                setting: "DATABASE_URL", "is not set: give the database as a postgresql:// URL or a libpq string")
        }
        let listen = reader.value("WEBHOOK_LISTEN") ?? "127.0.0.1:8080"
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65_535).contains(port), colon != listen.startIndex
        else {
            throw ConfigurationError(
                setting: "WEBHOOK_LISTEN", "must be HOST:PORT such as 127.0.0.1:8080 (got '\(listen)')")
        }
        listenHost = String(listen[..<colon]).trimmingCharacters(in: ["[", "]"])
        listenPort = port
        guard let current = try reader.secret("GITHUB_WEBHOOK_SECRET") else {
            throw ConfigurationError(
                setting: "GITHUB_WEBHOOK_SECRET",
                "is not set: give the webhook's secret (or GITHUB_WEBHOOK_SECRET_FILE, e.g. a systemd credential)")
        }
        guard current.utf8.count >= 16 else {
            throw ConfigurationError(
                setting: "GITHUB_WEBHOOK_SECRET", "must be at least 16 characters (a random string)")
        }
        let previous = try reader.secret("GITHUB_WEBHOOK_SECRET_PREVIOUS")
        secrets = WebhookSecrets(current: current, previous: previous)
        secretValues = [current, previous].compactMap { $0 }
        queue = reader.value("WEBHOOK_QUEUE") ?? "default"
        if let problem = TaskValidation.queueProblem(queue) {
            throw ConfigurationError(setting: "WEBHOOK_QUEUE", problem)
        }
        priority = Int16(try reader.integer("WEBHOOK_PRIORITY", default: 0, range: -32_768...32_767))
        let apiURL = reader.value("GITHUB_API_URL") ?? "https://api.github.com"
        guard URL(string: apiURL)?.host != nil else {
            throw ConfigurationError(setting: "GITHUB_API_URL", "must be an http(s) URL (got '\(apiURL)')")
        }
        githubAPIURL = apiURL
        enterpriseHost = PullRequestReference.enterpriseHost(apiURL: apiURL)
        poolSize = try reader.integer("WEBHOOK_DB_POOL_SIZE", default: 4, range: 1...100)
        databaseTolerance = try reader.seconds("WEBHOOK_DB_TOLERANCE_SECONDS", default: 60, range: 1...86_400)
        logLevel = try reader.logLevel("LOG_LEVEL", default: .info)
        if let logFormatOverride {
            logFormat = logFormatOverride
        } else {
            logFormat = try reader.logFormat("LOG_FORMAT", default: .auto)
        }
        do throws(PostgresError) {
            database = try PostgresConfiguration(
                connectionString: url, applicationName: "queue-webhook",
                sessionSettings: [("statement_timeout", "5000ms"), ("idle_in_transaction_session_timeout", "10000ms")])
        } catch {
            throw ConfigurationError(setting: "DATABASE_URL", "is invalid: \(error.message)")
        }
    }

    /// Masks the database password and the webhook secrets in a message.
    public func redact(_ message: String) -> String {
        var text = database.redact(message)
        for secret in secretValues where text.mentions(secret) { text = text.replacing(secret, with: "***") }
        return text
    }

    /// The effective settings without secrets (for `--check-config`).
    public var summary: String {
        let source: String
        switch settingsFile {
        case .none: source = "# settings file: none (environment only)"
        case .read(let path): source = "# settings file: \(path)"
        case .missing(let path): source = "# settings file: \(path) does not exist (optional; environment only)"
        }
        return [
            source, "DATABASE_URL=\(database.redactedDescription)", "WEBHOOK_LISTEN=\(listenHost):\(listenPort)",
            "GITHUB_WEBHOOK_SECRET=(set)",
            "GITHUB_WEBHOOK_SECRET_PREVIOUS=\(secretValues.count > 1 ? "(set)" : "(not set)")",
            "WEBHOOK_QUEUE=\(queue)",
            "WEBHOOK_PRIORITY=\(priority)", "WEBHOOK_DB_POOL_SIZE=\(poolSize)",
            "WEBHOOK_DB_TOLERANCE_SECONDS=\(databaseTolerance.secondsText)",
            "GITHUB_API_URL=\(githubAPIURL)",
            "LOG_LEVEL=\(logLevel)", "LOG_FORMAT=\(logFormat)",
        ].joined(separator: "\n")
    }
}
