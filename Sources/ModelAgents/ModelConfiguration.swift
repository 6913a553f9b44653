public import Foundation
public import ReviewAgents

/// How one agent reviews: with its rules, with the model, or with both (findings merged).
public enum AgentMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// The built-in rules only (the default; no network).
    case rules
    /// The model only.
    case llm
    /// The rules and the model; findings are merged and deduplicated by fingerprint.
    case both

    /// Whether the built-in rules run.
    public var usesRules: Bool { self != .llm }
    /// Whether the model is asked.
    public var usesModel: Bool { self != .rules }
}

/// The model endpoint's API key. It is only ever written into the `Authorization` header: printing, dumping or
/// interpolating it shows `<redacted>`.
public struct ModelAPIKey: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    let value: String

    /// Wraps a key.
    public init(_ value: String) { self.value = value }

    /// Always `<redacted>`.
    public var description: String { "<redacted>" }
    /// Always `<redacted>`.
    public var debugDescription: String { "<redacted>" }
    /// No children, so `dump` and `Mirror` cannot reach the key.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// Settings of the model back-end, read from the `LLM_*` settings (docs/models.md).
///
/// Off by default: every agent is in ``AgentMode/rules`` mode until `LLM_MODE` or `LLM_AGENTS` says otherwise.
public struct ModelConfiguration: Sendable {
    /// The API's base URL, such as `https://api.openai.com/v1`; requests go to `<base>/chat/completions`.
    public var baseURL: URL?
    /// The model name sent with each request.
    public var model: String
    /// The bearer token, when the endpoint needs one.
    public var apiKey: ModelAPIKey?
    /// The mode of agents without their own entry in ``agentModes``.
    public var defaultMode: AgentMode
    /// Per-agent modes that override ``defaultMode``.
    public var agentModes: [AgentKind: AgentMode]
    /// The longest one HTTP call may take, from sending the request to the last byte of the response.
    public var timeout: Duration
    /// Retries after a timeout, a transport error, HTTP 429 or HTTP 5xx (so at most `maxRetries + 1` calls).
    public var maxRetries: Int
    /// The first backoff when the server does not say how long to wait; it doubles per retry, with jitter.
    public var retryBaseDelay: Duration
    /// The longest wait before a retry. A `Retry-After` longer than this ends the call with a rate-limit error
    /// instead of retrying early.
    public var maxRetryDelay: Duration
    /// The most model calls in flight at once in this process, over all tasks and agents.
    public var maxConcurrentCalls: Int
    /// The size budget of the diff part of one prompt, in UTF-8 bytes; larger diffs are split into chunks.
    public var chunkBytes: Int
    /// The most chunks (calls) per agent and review; hunks beyond them are skipped and counted.
    public var maxChunks: Int
    /// `max_tokens` for the completion; nil leaves it to the server.
    public var maxTokens: Int?
    /// `temperature`; nil leaves it to the server (some models accept no other value than their default).
    public var temperature: Double?
    /// Sends `response_format: {"type": "json_object"}` (OpenAI, vLLM, llama.cpp server and Ollama accept it).
    public var jsonMode: Bool

    /// Creates a configuration; the defaults keep every agent on its rules.
    public init(
        baseURL: URL? = nil,
        model: String = "",
        apiKey: ModelAPIKey? = nil,
        defaultMode: AgentMode = .rules,
        agentModes: [AgentKind: AgentMode] = [:],
        timeout: Duration = .seconds(120),
        maxRetries: Int = 2,
        retryBaseDelay: Duration = .seconds(1),
        maxRetryDelay: Duration = .seconds(60),
        maxConcurrentCalls: Int = 4,
        chunkBytes: Int = 32_000,
        maxChunks: Int = 12,
        maxTokens: Int? = nil,
        temperature: Double? = nil,
        jsonMode: Bool = false
    ) {
        self.baseURL = baseURL
        self.model = model
        self.apiKey = apiKey
        self.defaultMode = defaultMode
        self.agentModes = agentModes
        self.timeout = timeout
        self.maxRetries = maxRetries
        self.retryBaseDelay = retryBaseDelay
        self.maxRetryDelay = maxRetryDelay
        self.maxConcurrentCalls = maxConcurrentCalls
        self.chunkBytes = chunkBytes
        self.maxChunks = maxChunks
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.jsonMode = jsonMode
    }

    /// The mode of `agent`.
    public func mode(for agent: AgentKind) -> AgentMode { agentModes[agent] ?? defaultMode }

    /// Whether any agent asks the model.
    public var isEnabled: Bool { AgentKind.allCases.contains { mode(for: $0).usesModel } }

    /// The chat-completions endpoint, `<baseURL>/chat/completions`.
    public var endpoint: URL? {
        guard let baseURL else { return nil }
        var text = baseURL.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        return URL(string: text + "/chat/completions")
    }

    /// Every setting this configuration reads (for the worker's check of unknown keys).
    public static let settingNames: Set<String> = [
        "LLM_MODE", "LLM_AGENTS", "LLM_BASE_URL", "LLM_MODEL", "LLM_API_KEY", "LLM_API_KEY_FILE",
        "LLM_TIMEOUT_SECONDS", "LLM_MAX_RETRIES", "LLM_MAX_RETRY_WAIT_SECONDS", "LLM_MAX_CONCURRENCY",
        "LLM_CHUNK_BYTES", "LLM_MAX_CHUNKS", "LLM_MAX_TOKENS", "LLM_TEMPERATURE", "LLM_JSON_MODE",
    ]

    /// Reads the configuration from environment variables and checks it.
    ///
    /// `LLM_MODE` (rules|llm|both, default rules), `LLM_AGENTS` (`security=both,scale=llm`), `LLM_BASE_URL`,
    /// `LLM_MODEL`, `LLM_API_KEY` or `LLM_API_KEY_FILE`, `LLM_TIMEOUT_SECONDS`, `LLM_MAX_RETRIES`,
    /// `LLM_MAX_RETRY_WAIT_SECONDS`, `LLM_MAX_CONCURRENCY`, `LLM_CHUNK_BYTES`, `LLM_MAX_CHUNKS`, `LLM_MAX_TOKENS`,
    /// `LLM_TEMPERATURE`, `LLM_JSON_MODE`. Base URL and model are required once any agent uses the model.
    public init(environment: [String: String]) throws(ModelConfigurationError) {
        self.init()
        func value(_ name: String) -> String? {
            guard let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
                return nil
            }
            return text
        }
        func seconds(_ name: String, default fallback: Duration) throws(ModelConfigurationError) -> Duration {
            guard let text = value(name) else { return fallback }
            guard let number = Double(text), number > 0, number <= 86_400 else {
                throw .invalid(name, "'\(text)' is not a number of seconds between 0 and 86400")
            }
            return .milliseconds(Int64((number * 1000).rounded()))
        }
        func integer(_ name: String, minimum: Int, default fallback: Int) throws(ModelConfigurationError) -> Int {
            guard let text = value(name) else { return fallback }
            guard let number = Int(text), number >= minimum else {
                throw .invalid(name, "'\(text)' is not a whole number of at least \(minimum)")
            }
            return number
        }

        if let text = value("LLM_MODE") {
            guard let mode = AgentMode(rawValue: text.lowercased()) else {
                throw .invalid("LLM_MODE", "'\(text)' is not one of rules, llm, both")
            }
            defaultMode = mode
        }
        if let text = value("LLM_AGENTS") {
            agentModes = try Self.parseAgentModes(text)
        }
        if let text = value("LLM_BASE_URL") {
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
                scheme == "http" || scheme == "https",
                let host = url.host, !host.isEmpty
            else {
                throw .invalid("LLM_BASE_URL", "it must be an http or https URL such as https://api.openai.com/v1")
            }
            // Credentials in the URL would end up wherever the URL is printed; the key has its own variable.
            guard url.user == nil, url.password == nil else {
                throw .invalid("LLM_BASE_URL", "it must not contain credentials; set LLM_API_KEY instead")
            }
            guard url.query == nil, url.fragment == nil else {
                throw .invalid("LLM_BASE_URL", "it must not have a query or fragment")
            }
            baseURL = url
        }
        model = value("LLM_MODEL") ?? ""
        if let key = environment["LLM_API_KEY"], !key.isEmpty {
            apiKey = ModelAPIKey(key.trimmingCharacters(in: .whitespacesAndNewlines))
        } else if let path = value("LLM_API_KEY_FILE") {
            guard let data = FileManager.default.contents(atPath: path),
                let key = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
                !key.isEmpty
            else {
                throw .invalid("LLM_API_KEY_FILE", "cannot read a key from '\(path)'")
            }
            apiKey = ModelAPIKey(key)
        }
        timeout = try seconds("LLM_TIMEOUT_SECONDS", default: timeout)
        maxRetries = try integer("LLM_MAX_RETRIES", minimum: 0, default: maxRetries)
        maxRetryDelay = try seconds("LLM_MAX_RETRY_WAIT_SECONDS", default: maxRetryDelay)
        maxConcurrentCalls = try integer("LLM_MAX_CONCURRENCY", minimum: 1, default: maxConcurrentCalls)
        chunkBytes = try integer("LLM_CHUNK_BYTES", minimum: 1_000, default: chunkBytes)
        maxChunks = try integer("LLM_MAX_CHUNKS", minimum: 1, default: maxChunks)
        if value("LLM_MAX_TOKENS") != nil {
            maxTokens = try integer("LLM_MAX_TOKENS", minimum: 1, default: 0)
        }
        if let text = value("LLM_TEMPERATURE") {
            guard let number = Double(text), number >= 0, number <= 2 else {
                throw .invalid("LLM_TEMPERATURE", "'\(text)' is not a number between 0 and 2")
            }
            temperature = number
        }
        if let text = value("LLM_JSON_MODE") {
            switch text.lowercased() {
            case "1", "true", "yes", "on": jsonMode = true
            case "0", "false", "no", "off": jsonMode = false
            default: throw .invalid("LLM_JSON_MODE", "'\(text)' is not true or false")
            }
        }
        try validate()
    }

    /// Checks that an enabled back-end has what it needs.
    public func validate() throws(ModelConfigurationError) {
        guard isEnabled else { return }
        guard baseURL != nil, endpoint != nil else {
            throw .missing("LLM_BASE_URL", "an agent is set to use the model (LLM_MODE or LLM_AGENTS)")
        }
        guard !model.isEmpty else {
            throw .missing("LLM_MODEL", "an agent is set to use the model (LLM_MODE or LLM_AGENTS)")
        }
        guard maxRetries >= 0, maxConcurrentCalls >= 1, chunkBytes >= 1, maxChunks >= 1 else {
            throw .invalid("LLM_*", "retries must be at least 0; concurrency, chunk size and chunk count at least 1")
        }
    }

    /// Parses `LLM_AGENTS`: comma-separated `agent=mode` pairs, such as `security=both,scale=llm`.
    public static func parseAgentModes(_ text: String) throws(ModelConfigurationError) -> [AgentKind: AgentMode] {
        var modes: [AgentKind: AgentMode] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map {
                $0.trimmingCharacters(in: .whitespaces).lowercased()
            }
            guard parts.count == 2, let agent = AgentKind(rawValue: parts[0]) else {
                throw .invalid(
                    "LLM_AGENTS", "'\(item)' is not AGENT=MODE with AGENT one of security, scale, quality, architecture"
                )
            }
            guard let mode = AgentMode(rawValue: parts[1]) else {
                throw .invalid("LLM_AGENTS", "'\(item)': the mode must be one of rules, llm, both")
            }
            modes[agent] = mode
        }
        return modes
    }
}

/// A configuration that cannot be used. Its description names the variable and never shows the API key.
public struct ModelConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Sendable, Hashable {
        case missing
        case invalid
    }

    private let code: Code
    /// The environment variable at fault.
    public let variable: String
    private let reason: String

    private init(code: Code, variable: String, reason: String) {
        self.code = code
        self.variable = variable
        self.reason = reason
    }

    /// A required variable is not set.
    public static func missing(_ variable: String, _ reason: String) -> Self {
        Self(code: .missing, variable: variable, reason: reason)
    }

    /// A variable has a value that cannot be used.
    public static func invalid(_ variable: String, _ reason: String) -> Self {
        Self(code: .invalid, variable: variable, reason: reason)
    }

    /// A message naming the variable.
    public var description: String {
        switch code {
        case .missing: "\(variable) is required: \(reason)"
        case .invalid: "\(variable) is invalid: \(reason)"
        }
    }
}

extension ModelConfiguration {
    /// The effective `LLM_*` settings, one per entry (for the worker's `--check-config` and its reload check). The
    /// API key shows as `(set)` or `(not set)` unless `revealingSecrets`.
    public func settingValues(revealingSecrets: Bool) -> [(name: String, value: String)] {
        func seconds(_ duration: Duration) -> String {
            let milliseconds =
                duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
            return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)" : "\(Double(milliseconds) / 1000)"
        }
        let agents = agentModes.sorted { $0.key.rawValue < $1.key.rawValue }.map {
            "\($0.key.rawValue)=\($0.value.rawValue)"
        }
        let key = revealingSecrets ? apiKey?.value ?? "" : apiKey == nil ? "(not set)" : "(set)"
        return [
            ("LLM_MODE", defaultMode.rawValue),
            ("LLM_AGENTS", agents.joined(separator: ",")),
            ("LLM_BASE_URL", baseURL?.absoluteString ?? ""),
            ("LLM_MODEL", model),
            ("LLM_API_KEY", key),
            ("LLM_TIMEOUT_SECONDS", seconds(timeout)),
            ("LLM_MAX_RETRIES", "\(maxRetries)"),
            ("LLM_MAX_RETRY_WAIT_SECONDS", seconds(maxRetryDelay)),
            ("LLM_MAX_CONCURRENCY", "\(maxConcurrentCalls)"),
            ("LLM_CHUNK_BYTES", "\(chunkBytes)"),
            ("LLM_MAX_CHUNKS", "\(maxChunks)"),
            ("LLM_MAX_TOKENS", maxTokens.map(String.init) ?? ""),
            ("LLM_TEMPERATURE", temperature.map { "\($0)" } ?? ""),
            ("LLM_JSON_MODE", "\(jsonMode)"),
        ]
    }
}
