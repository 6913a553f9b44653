public import DaemonConfiguration
public import GitHubForge
public import Logging
public import ModelAgents
public import PostgresClient
public import Systemd
import TaskQueue

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// Everything a worker process is configured with, read in one place and validated once at start (and again on
/// reload): the queue settings, the model back-end's `LLM_*` settings, logging.
///
/// Settings come from the environment, overridden by an optional `KEY=value` file (`--config`), which is read
/// again on SIGHUP. Every setting may be given either way, and every one has a default except `DATABASE_URL`. A key
/// in the file that is not a setting, or an environment variable in the worker's namespaces (`WORKER_`, `LLM_`) that is
/// not one, is an error naming the nearest setting: a misspelt key is never silently ignored.
///
/// (swift-configuration was considered and declined: the units already speak systemd's `EnvironmentFile=` format,
/// which it does not read, and it has no notion of an unknown key; what it adds — hierarchical keys and several
/// providers — this flat set of settings does not need, for a dependency every build would pay for.)
///
/// Under systemd the environment (`EnvironmentFile=`, root-only) carries the secrets and is read only when an
/// instance starts; the settings file is world-readable, so the worker's transient user can read it again on a
/// reload. A reload applies ``reloadableSettings``; ``settingsNeedingRestart(comparedWith:)`` names the rest.
public struct WorkerConfiguration: Sendable {
    /// How to reach PostgreSQL.
    public var database: PostgresConfiguration
    /// This worker's instance name (systemd's `%i`); part of its identity.
    public var instance: String
    /// The queues this worker claims from.
    public var queues: [String]
    /// Tasks run at once.
    public var concurrency: Int
    /// Most tasks claimed in one statement (at most the free slots).
    public var claimBatchSize: Int
    /// How long a claimed task's lease lasts without a heartbeat.
    public var leaseDuration: Duration
    /// How often leases are extended.
    public var heartbeatInterval: Duration
    /// How often the worker looks for work when no notification arrives (with ±20 % jitter).
    public var pollInterval: Duration
    /// Whether to LISTEN for enqueue notifications (a latency hint); off, the worker finds new tasks by polling only.
    public var listen: Bool
    /// How long running tasks may take to finish after SIGTERM before they are handed back.
    public var shutdownGrace: Duration
    /// How long the database may be unreachable before the watchdog stops being petted.
    public var databaseTolerance: Duration
    /// How often expired leases are rescued.
    public var rescueInterval: Duration
    /// Backoff of failed attempts.
    public var retryBase: Duration
    /// Longest backoff.
    public var retryMaximum: Duration
    /// Pool connections kept open.
    public var poolSize: Int
    /// Extra pool connections allowed under load.
    public var poolOverflow: Int
    /// `statement_timeout` of worker sessions.
    public var statementTimeout: Duration
    /// `idle_in_transaction_session_timeout` of worker sessions.
    public var idleInTransactionTimeout: Duration
    /// Log level.
    public var logLevel: Logger.Level
    /// Log format.
    public var logFormat: LogFormat
    /// Write a checkpoint after every node of a review (resume after a crash).
    public var checkpointing: Bool
    /// Store review results in the analytics tables (otherwise only on the task).
    public var analytics: Bool
    /// GitHub token for fetching pull request diffs (never logged).
    public var githubToken: String?
    /// GitHub API base URL.
    public var githubAPIURL: String
    /// The GitHub App the worker acts as for pull requests that came through its installation (check runs need
    /// one); from `GITHUB_APP_ID` and the PEM file `GITHUB_APP_PRIVATE_KEY_FILE` (under systemd, a credential).
    public var githubApp: GitHubAppKey?
    /// The settings file that was read, if any, or why none was (for `--check-config` and logs).
    public var settingsFile: SettingsFileStatus = .none
    /// The threads that parse diffs and run the rule agents, off Swift's cooperative pool.
    public var agentThreads: Int
    /// The model back-end's settings (`LLM_*`); disabled unless an agent is set to use a model.
    public var models: ModelConfiguration
    /// Testing aid: extra time review nodes spend before they work (`AGENTQUEUE_NODE_DELAYS`,
    /// `node=milliseconds,…`). Empty in production.
    public var nodeDelays: [String: Duration]

    /// Masks every secret of this configuration (database password, GitHub token) in a message, for logs,
    /// STATUS= lines and task errors.
    public func redact(_ message: String) -> String {
        var text = database.redact(message)
        // Looked for before replacing: this runs for every log line, and nearly none holds a secret.
        for secret in [githubToken, modelAPIKey].compactMap({ $0 })
        where secret.utf8.count >= 4 && text.mentions(secret) {
            text = text.replacing(secret, with: "***")
        }
        return text
    }

    /// The model endpoint's API key (`LLM_API_KEY`), kept only to mask it.
    var modelAPIKey: String?

    /// Reads the configuration from the environment and, when given, a `KEY=value` file whose settings win.
    ///
    /// - Parameter configFile: the file's path; a leading `-` (as in systemd's `EnvironmentFile=-…`) makes it
    ///   optional: a missing file is skipped, while any other problem with it is still an error.
    public static func load(
        environment: [String: String] = ProcessEnvironment.current(),
        configFile: String?,
        instance: String?,
        logFormatOverride: LogFormat? = nil
    ) throws(ConfigurationError) -> WorkerConfiguration {
        let (settings, status) = try SettingsLoader.load(
            environment: environment, configFile: configFile, known: settingNames, checkedPrefixes: checkedPrefixes)
        var configuration = try WorkerConfiguration(
            settings: settings, instance: instance, logFormatOverride: logFormatOverride
        )
        configuration.settingsFile = status
        return configuration
    }

    /// Builds and validates a configuration from settings.
    public init(settings: [String: String], instance: String?, logFormatOverride: LogFormat? = nil)
        throws(ConfigurationError)
    {
        let reader = SettingsReader(settings: settings)
        guard let url = settings["DATABASE_URL"], !url.isEmpty else {
            throw ConfigurationError(
                setting: "DATABASE_URL",
                "is not set: give the database as a postgresql:// URL or a libpq connection string"
            )
        }
        let instanceName = instance ?? settings["WORKER_INSTANCE"] ?? "0"
        guard !instanceName.isEmpty, instanceName.count <= 64, !instanceName.contains("/"),
            instanceName.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else {
            throw ConfigurationError(setting: "--instance", "must be 1-64 printable characters without '/' or spaces")
        }
        self.instance = instanceName
        queues = try reader.list("WORKER_QUEUES", default: ["default"])
        for queue in queues {
            if let problem = TaskValidation.queueProblem(queue) {
                throw ConfigurationError(setting: "WORKER_QUEUES", problem)
            }
        }
        concurrency = try reader.integer("WORKER_CONCURRENCY", default: 4, range: 1...1024)
        claimBatchSize = try reader.integer("WORKER_CLAIM_BATCH", default: 10, range: 1...1000)
        leaseDuration = try reader.seconds("WORKER_LEASE_SECONDS", default: 60, range: 2...86_400)
        heartbeatInterval = try reader.seconds("WORKER_HEARTBEAT_SECONDS", default: 15, range: 0.2...3600)
        pollInterval = try reader.milliseconds("WORKER_POLL_INTERVAL_MS", default: 1000, range: 10...600_000)
        listen = try reader.boolean("WORKER_LISTEN", default: true)
        shutdownGrace = try reader.seconds("WORKER_SHUTDOWN_GRACE_SECONDS", default: 30, range: 0...86_400)
        databaseTolerance = try reader.seconds("WORKER_DB_TOLERANCE_SECONDS", default: 60, range: 1...86_400)
        rescueInterval = try reader.seconds("WORKER_RESCUE_INTERVAL_SECONDS", default: 5, range: 0.1...3600)
        retryBase = try reader.seconds("WORKER_RETRY_BASE_SECONDS", default: 5, range: 0.001...86_400)
        retryMaximum = try reader.seconds("WORKER_RETRY_MAX_SECONDS", default: 600, range: 0.001...604_800)
        poolSize = try reader.integer("DB_POOL_SIZE", default: 5, range: 1...1000)
        poolOverflow = try reader.integer("DB_MAX_OVERFLOW", default: 5, range: 0...1000)
        statementTimeout = try reader.seconds("WORKER_STATEMENT_TIMEOUT_SECONDS", default: 60, range: 1...86_400)
        idleInTransactionTimeout = try reader.seconds(
            "WORKER_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", default: 60, range: 1...86_400
        )
        logLevel = try reader.logLevel("LOG_LEVEL", default: .info)
        if let logFormatOverride {
            logFormat = logFormatOverride
        } else {
            logFormat = try reader.logFormat("LOG_FORMAT", default: .auto)
        }
        checkpointing = try reader.boolean("ENABLE_CHECKPOINTING", default: true)
        analytics = try reader.boolean("ENABLE_ANALYTICS", default: true)
        agentThreads = try reader.integer(
            "WORKER_AGENT_THREADS", default: ProcessInfo.processInfo.activeProcessorCount, range: 1...256)
        githubToken = settings["GITHUB_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        modelAPIKey = settings["LLM_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        githubAPIURL = settings["GITHUB_API_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://api.github.com"
        guard let apiURL = URL(string: githubAPIURL), apiURL.scheme == "https" || apiURL.scheme == "http",
            apiURL.host != nil
        else {
            throw ConfigurationError(
                setting: "GITHUB_API_URL",
                "must be an http(s) URL such as https://api.github.com (got '\(githubAPIURL)')")
        }
        githubApp = try reader.githubApp()
        nodeDelays = try reader.nodeDelays("AGENTQUEUE_NODE_DELAYS")
        do {
            models = try ModelConfiguration(environment: settings)
        } catch {
            throw ConfigurationError(setting: error.variable, message: error.description)
        }

        guard heartbeatInterval * 2 <= leaseDuration else {
            throw ConfigurationError(
                setting: "WORKER_HEARTBEAT_SECONDS",
                "must be at most half of WORKER_LEASE_SECONDS (\(leaseDuration.secondsText) s), so that one missed "
                    + "heartbeat does not lose a lease"
            )
        }
        guard retryBase <= retryMaximum else {
            throw ConfigurationError(setting: "WORKER_RETRY_BASE_SECONDS", "must not exceed WORKER_RETRY_MAX_SECONDS")
        }
        do throws(PostgresError) {
            database = try PostgresConfiguration(
                connectionString: url,
                applicationName: "queue-worker/\(instanceName)",
                sessionSettings: [
                    ("statement_timeout", "\(statementTimeout.milliseconds)ms"),
                    ("idle_in_transaction_session_timeout", "\(idleInTransactionTimeout.milliseconds)ms"),
                ]
            )
        } catch {
            throw ConfigurationError(setting: "DATABASE_URL", "is invalid: \(error.message)")
        }
    }
}

extension WorkerConfiguration {
    /// The settings a reload (SIGHUP) applies to the running worker; every other change needs a restart.
    public static let reloadableSettings: Set<String> = ["LOG_LEVEL", "WORKER_CONCURRENCY", "WORKER_QUEUES"]

    /// The names of the settings whose values differ from `previous` but that a reload cannot apply (everything
    /// but ``reloadableSettings``), sorted. Secrets are compared, never shown.
    public func settingsNeedingRestart(comparedWith previous: WorkerConfiguration) -> [String] {
        let old = Dictionary(previous.settingValues(revealingSecrets: true), uniquingKeysWith: { first, _ in first })
        return settingValues(revealingSecrets: true)
            .filter { !Self.reloadableSettings.contains($0.name) && old[$0.name] != $0.value }
            .map(\.name)
            .sorted()
    }

    /// The effective settings, one per line, without secrets (for `--check-config`), after a comment that tells
    /// which settings file was read.
    public var summary: String {
        let source: String
        switch settingsFile {
        case .none: source = "# settings file: none (environment only)"
        case .read(let path): source = "# settings file: \(path)"
        case .missing(let path): source = "# settings file: \(path) does not exist (optional; environment only)"
        }
        return ([source] + settingValues(revealingSecrets: false).map { "\($0.name)=\($0.value)" })
            .joined(separator: "\n")
    }

    /// Every setting with its effective value, in the order of the example files.
    private func settingValues(revealingSecrets: Bool) -> [(name: String, value: String)] {
        [
            ("DATABASE_URL", revealingSecrets ? database.connectionString : database.redactedDescription),
            ("WORKER_INSTANCE", instance),
            ("WORKER_QUEUES", queues.joined(separator: ",")),
            ("WORKER_CONCURRENCY", "\(concurrency)"),
            ("WORKER_CLAIM_BATCH", "\(claimBatchSize)"),
            ("WORKER_LEASE_SECONDS", leaseDuration.secondsText),
            ("WORKER_HEARTBEAT_SECONDS", heartbeatInterval.secondsText),
            ("WORKER_POLL_INTERVAL_MS", "\(pollInterval.milliseconds)"),
            ("WORKER_LISTEN", "\(listen)"),
            ("WORKER_SHUTDOWN_GRACE_SECONDS", shutdownGrace.secondsText),
            ("WORKER_DB_TOLERANCE_SECONDS", databaseTolerance.secondsText),
            ("WORKER_RESCUE_INTERVAL_SECONDS", rescueInterval.secondsText),
            ("WORKER_RETRY_BASE_SECONDS", retryBase.secondsText),
            ("WORKER_RETRY_MAX_SECONDS", retryMaximum.secondsText),
            ("WORKER_STATEMENT_TIMEOUT_SECONDS", statementTimeout.secondsText),
            ("WORKER_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", idleInTransactionTimeout.secondsText),
            ("DB_POOL_SIZE", "\(poolSize)"),
            ("DB_MAX_OVERFLOW", "\(poolOverflow)"),
            ("LOG_LEVEL", "\(logLevel)"),
            ("LOG_FORMAT", "\(logFormat)"),
            ("WORKER_AGENT_THREADS", "\(agentThreads)"),
            ("ENABLE_CHECKPOINTING", "\(checkpointing)"),
            ("ENABLE_ANALYTICS", "\(analytics)"),
            ("GITHUB_TOKEN", revealingSecrets ? githubToken ?? "" : githubToken == nil ? "(not set)" : "(set)"),
            ("GITHUB_API_URL", githubAPIURL),
            ("GITHUB_APP_ID", githubApp?.appID ?? ""),
            ("GITHUB_APP_PRIVATE_KEY_FILE", githubApp == nil ? "" : "(read)"),
        ] + models.settingValues(revealingSecrets: revealingSecrets)
    }
}

extension WorkerConfiguration {
    /// Every setting a worker reads, from the environment or the settings file.
    public static let settingNames: Set<String> = Set<String>(
        [
            "DATABASE_URL", "WORKER_INSTANCE", "WORKER_QUEUES", "WORKER_CONCURRENCY", "WORKER_CLAIM_BATCH",
            "WORKER_LEASE_SECONDS", "WORKER_HEARTBEAT_SECONDS", "WORKER_POLL_INTERVAL_MS", "WORKER_LISTEN",
            "WORKER_SHUTDOWN_GRACE_SECONDS", "WORKER_DB_TOLERANCE_SECONDS", "WORKER_RESCUE_INTERVAL_SECONDS",
            "WORKER_RETRY_BASE_SECONDS", "WORKER_RETRY_MAX_SECONDS", "WORKER_STATEMENT_TIMEOUT_SECONDS",
            "WORKER_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", "WORKER_AGENT_THREADS", "DB_POOL_SIZE", "DB_MAX_OVERFLOW",
            "LOG_LEVEL", "LOG_FORMAT", "ENABLE_CHECKPOINTING", "ENABLE_ANALYTICS", "GITHUB_TOKEN", "GITHUB_API_URL",
            "GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY_FILE", "AGENTQUEUE_NODE_DELAYS",
        ]
    ).union(ModelConfiguration.settingNames)

    /// Environment variables with these prefixes are the worker's: one that is not a setting is a mistake. (Others,
    /// such as `PATH`, `GITHUB_ACTIONS` or a test script's `AGENTQUEUE_BIN_DIR`, belong to someone else and are not
    /// checked.)
    static let checkedPrefixes = ["WORKER_", "LLM_"]
}

extension SettingsReader {
    /// The GitHub App from `GITHUB_APP_ID` and `GITHUB_APP_PRIVATE_KEY_FILE` (both or neither).
    func githubApp() throws(ConfigurationError) -> GitHubAppKey? {
        let id = value("GITHUB_APP_ID")
        let path = value("GITHUB_APP_PRIVATE_KEY_FILE")
        guard id != nil || path != nil else { return nil }
        guard let id, let path else {
            throw ConfigurationError(
                setting: id == nil ? "GITHUB_APP_ID" : "GITHUB_APP_PRIVATE_KEY_FILE",
                "is not set: a GitHub App needs both GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY_FILE")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(
                setting: "GITHUB_APP_PRIVATE_KEY_FILE", "names a file that cannot be read: \(path)")
        }
        do throws(GitHubError) {
            return try GitHubAppKey(appID: id, pem: String(decoding: data, as: UTF8.self))
        } catch {
            throw ConfigurationError(setting: "GITHUB_APP_PRIVATE_KEY_FILE", message: error.description)
        }
    }

    func nodeDelays(_ name: String) throws(ConfigurationError) -> [String: Duration] {
        guard let text = value(name) else { return [:] }
        var delays: [String: Duration] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: [" ", "\t"]) }
            guard parts.count == 2, !parts[0].isEmpty, let milliseconds = Int64(parts[1]), milliseconds >= 0 else {
                throw ConfigurationError(setting: name, "must be node=milliseconds,… (got '\(item)')")
            }
            delays[parts[0]] = .milliseconds(milliseconds)
        }
        return delays
    }

}
