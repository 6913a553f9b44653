/// A repository's review settings, usually read from `.agentqueue.yml`. See docs/review.md for the format.
public struct RepositoryConfiguration: Sendable, Hashable, Codable {
    /// How one rule (or every rule matching a `prefix.*` pattern) is changed.
    public struct RuleOverride: Sendable, Hashable, Codable {
        /// A rule id, or a prefix ending in `*` such as `security.secret.*`.
        public var pattern: String
        /// Whether the matching rules run; nil keeps the default (on).
        public var enabled: Bool?
        /// The severity to report instead of the rule's default; nil keeps the default.
        public var severity: Severity?

        /// Creates an override.
        public init(pattern: String, enabled: Bool? = nil, severity: Severity? = nil) {
            self.pattern = pattern
            self.enabled = enabled
            self.severity = severity
        }

        func matches(_ ruleId: String) -> Bool {
            if pattern.hasSuffix("*") { return ruleId.hasPrefix(pattern.dropLast()) }
            return ruleId == pattern
        }
    }

    /// Size limits used by the quality and architecture rules.
    public struct Thresholds: Sendable, Hashable, Codable {
        /// Longest accepted added line, in characters (`quality.long-line`).
        public var lineLength: Int
        /// Longest accepted new function, in lines (`quality.long-function`).
        public var functionLines: Int
        /// Longest accepted new file, in lines (`quality.long-file`).
        public var fileLines: Int
        /// Largest accepted change, in added plus removed lines (`architecture.large-change`).
        public var changeLines: Int
        /// Most top-level modules one change may touch (`architecture.wide-change`).
        public var modules: Int

        /// Creates thresholds; the defaults are 120, 80, 1000, 1000 and 5.
        public init(
            lineLength: Int = 120, functionLines: Int = 80, fileLines: Int = 1000, changeLines: Int = 1000,
            modules: Int = 5
        ) {
            self.lineLength = lineLength
            self.functionLines = functionLines
            self.fileLines = fileLines
            self.changeLines = changeLines
            self.modules = modules
        }

        enum CodingKeys: String, CodingKey {
            case lineLength = "line_length"
            case functionLines = "function_lines"
            case fileLines = "file_lines"
            case changeLines = "change_lines"
            case modules
        }
    }

    /// A layer of the code base and the modules it must not import.
    public struct LayerRule: Sendable, Hashable, Codable {
        /// A name used in messages.
        public var name: String
        /// The files that belong to the layer.
        public var paths: [PathPattern]
        /// Modules the layer must not import: a module name (`PostgresClient`), a dotted or slashed prefix
        /// (`app.db`, `internal/db`), or a glob (`**/db/**`).
        public var forbiddenImports: [String]

        /// Creates a layer rule.
        public init(name: String, paths: [PathPattern], forbiddenImports: [String]) {
            self.name = name
            self.paths = paths
            self.forbiddenImports = forbiddenImports
        }

        enum CodingKeys: String, CodingKey {
            case name
            case paths
            case forbiddenImports = "forbidden_imports"
        }
    }

    /// How reviews of pull requests are published (`pull_requests:` in `.agentqueue.yml`).
    public struct PullRequestSettings: Sendable, Hashable, Codable {
        /// Whether draft pull requests are reviewed.
        public var reviewDrafts: Bool
        /// The least severe finding that gets an inline comment (the summary lists them all).
        public var commentSeverity: Severity
        /// Whether a `changes_requested` verdict submits the review as REQUEST_CHANGES (otherwise COMMENT).
        public var requestChanges: Bool
        /// The check run's conclusion per verdict: `success`, `neutral` or `failure`.
        public var conclusions: [Verdict.Status: String]

        /// The defaults: no drafts, comments from medium up, COMMENT reviews, failure only on changes requested.
        public init(
            reviewDrafts: Bool = false, commentSeverity: Severity = .medium, requestChanges: Bool = false,
            conclusions: [Verdict.Status: String] = [:]
        ) {
            self.reviewDrafts = reviewDrafts
            self.commentSeverity = commentSeverity
            self.requestChanges = requestChanges
            self.conclusions = conclusions
        }

        /// The check run conclusion for a verdict.
        public func conclusion(for status: Verdict.Status) -> String {
            conclusions[status] ?? (status == .changesRequested ? "failure" : "success")
        }

        enum CodingKeys: String, CodingKey {
            case reviewDrafts = "drafts"
            case commentSeverity = "comment_severity"
            case requestChanges = "request_changes"
            case conclusions
        }
    }

    /// Agents that do not run.
    public var disabledAgents: Set<AgentKind>
    /// Rule overrides, applied in order (a later one wins).
    public var rules: [RuleOverride]
    /// Files no agent looks at.
    public var ignoredPaths: [PathPattern]
    /// Size limits.
    public var thresholds: Thresholds
    /// Layer rules for `architecture.layer-violation`.
    public var layers: [LayerRule]
    /// How reviews of pull requests are published.
    public var pullRequests: PullRequestSettings

    /// Creates a configuration; the defaults run every rule at its default severity.
    public init(
        disabledAgents: Set<AgentKind> = [], rules: [RuleOverride] = [], ignoredPaths: [PathPattern] = [],
        thresholds: Thresholds = Thresholds(), layers: [LayerRule] = [],
        pullRequests: PullRequestSettings = PullRequestSettings()
    ) {
        self.disabledAgents = disabledAgents
        self.rules = rules
        self.ignoredPaths = ignoredPaths
        self.thresholds = thresholds
        self.layers = layers
        self.pullRequests = pullRequests
    }

    /// Every rule on, default thresholds, no layers.
    public static let `default` = RepositoryConfiguration()

    enum CodingKeys: String, CodingKey {
        case disabledAgents = "disabled_agents"
        case rules
        case ignoredPaths = "ignored_paths"
        case thresholds
        case layers
        case pullRequests = "pull_requests"
    }

    /// Whether `agent` runs.
    public func isEnabled(_ agent: AgentKind) -> Bool { !disabledAgents.contains(agent) }

    /// Whether the rule runs (its agent must run too).
    public func isEnabled(rule: RuleDescriptor) -> Bool {
        guard isEnabled(rule.agent) else { return false }
        var enabled = true
        for override in rules where override.matches(rule.id) {
            if let value = override.enabled { enabled = value }
        }
        return enabled
    }

    /// The severity reported for `rule`.
    public func severity(for rule: RuleDescriptor) -> Severity {
        var severity = rule.defaultSeverity
        for override in rules where override.matches(rule.id) {
            if let value = override.severity { severity = value }
        }
        return severity
    }

    /// Whether no agent should look at `path`.
    public func isIgnored(path: String) -> Bool {
        ignoredPaths.contains { $0.matches(path) }
    }
}
