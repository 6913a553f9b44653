internal import Yams

/// Why a configuration file was rejected; names the line so the author can fix it.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The kind of problem; compare with the static members (new kinds may be added).
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case syntax, unknownKey = "unknown_key", invalidValue = "invalid_value", unknownRule = "unknown_rule"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The text is not valid YAML.
        public static let syntax = Code(.syntax)
        /// A key the format does not define (often a typo).
        public static let unknownKey = Code(.unknownKey)
        /// A value of the wrong type or out of range.
        public static let invalidValue = Code(.invalidValue)
        /// A rule id or pattern that names no built-in rule.
        public static let unknownRule = Code(.unknownRule)

        /// A stable snake_case name.
        public var description: String { base.rawValue }
    }

    /// The kind of problem.
    public let code: Code
    /// The file name used in messages.
    public let source: String
    /// The 1-based line of the problem, when known.
    public let line: Int?
    /// The 1-based column of the problem, when known.
    public let column: Int?
    /// What is wrong, without quoting the file.
    public let reason: String

    init(_ code: Code, source: String, line: Int?, column: Int?, reason: String) {
        self.code = code
        self.source = source
        self.line = line
        self.column = column
        self.reason = reason
    }

    /// `FILE:LINE:COLUMN: reason`.
    public var description: String {
        var location = source
        if let line { location += ":\(line)" }
        if let column { location += ":\(column)" }
        return "\(location): invalid configuration: \(reason)"
    }

    /// The description with the error code.
    public var debugDescription: String { "ConfigurationError(\(code)): \(description)" }
}

extension RepositoryConfiguration {
    /// The file name looked for at the repository root.
    public static let fileName = ".agentqueue.yml"

    /// Parses `.agentqueue.yml` text. An empty document gives the default configuration.
    ///
    /// - Parameter source: the name used in error messages.
    public static func parse(yaml: String, source: String = RepositoryConfiguration.fileName)
        throws(ConfigurationError) -> RepositoryConfiguration
    {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw Self.syntaxError(error, source: source)
        } catch {
            throw ConfigurationError(.syntax, source: source, line: nil, column: nil, reason: "not valid YAML")
        }
        guard let root else { return .default }
        var reader = ConfigurationReader(source: source)
        return try reader.read(root)
    }

    private static func syntaxError(_ error: YamlError, source: String) -> ConfigurationError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return ConfigurationError(.syntax, source: source, line: mark.line, column: mark.column, reason: problem)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigurationError(
                .syntax, source: source, line: context.mark.line, column: context.mark.column,
                reason: "duplicate key \(duplicates.first.map { "'\($0)'" } ?? "")")
        case .reader(let problem, _, _, _):
            return ConfigurationError(.syntax, source: source, line: nil, column: nil, reason: problem)
        default:
            return ConfigurationError(.syntax, source: source, line: nil, column: nil, reason: "not valid YAML")
        }
    }
}

private struct ConfigurationReader {
    let source: String

    func fail(_ code: ConfigurationError.Code, _ node: Node, _ reason: String) -> ConfigurationError {
        ConfigurationError(code, source: source, line: node.mark?.line, column: node.mark?.column, reason: reason)
    }

    func mapping(_ node: Node, _ what: String) throws(ConfigurationError) -> Node.Mapping {
        guard let mapping = node.mapping else { throw fail(.invalidValue, node, "\(what) must be a mapping") }
        return mapping
    }

    func key(_ node: Node) throws(ConfigurationError) -> String {
        guard let scalar = node.scalar else { throw fail(.invalidValue, node, "keys must be plain strings") }
        return scalar.string
    }

    func string(_ node: Node, _ what: String) throws(ConfigurationError) -> String {
        guard let scalar = node.scalar else { throw fail(.invalidValue, node, "\(what) must be a string") }
        return scalar.string
    }

    func strings(_ node: Node, _ what: String) throws(ConfigurationError) -> [String] {
        if let scalar = node.scalar { return [scalar.string] }
        guard let sequence = node.sequence else { throw fail(.invalidValue, node, "\(what) must be a list of strings") }
        var values: [String] = []
        for item in sequence { values.append(try string(item, "each entry of \(what)")) }
        return values
    }

    func positiveInt(_ node: Node, _ what: String) throws(ConfigurationError) -> Int {
        guard let scalar = node.scalar, let value = Int(scalar.string), value > 0 else {
            throw fail(.invalidValue, node, "\(what) must be a positive integer")
        }
        return value
    }

    func onOff(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "on", "true", "yes", "enabled": true
        case "off", "false", "no", "disabled": false
        default: nil
        }
    }

    mutating func read(_ root: Node) throws(ConfigurationError) -> RepositoryConfiguration {
        var configuration = RepositoryConfiguration()
        if let scalar = root.scalar, scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" {
            return configuration
        }
        for (keyNode, value) in try mapping(root, "the configuration") {
            switch try key(keyNode) {
            case "version":
                guard value.scalar?.string == "1" else { throw fail(.invalidValue, value, "version must be 1") }
            case "agents":
                for (agentNode, setting) in try mapping(value, "agents") {
                    let name = try key(agentNode)
                    guard let agent = AgentKind(rawValue: name) else {
                        throw fail(
                            .unknownKey, agentNode,
                            "unknown agent '\(name)' (expected security, scale, quality or architecture)")
                    }
                    guard let enabled = onOff(try string(setting, "agents.\(name)")) else {
                        throw fail(.invalidValue, setting, "agents.\(name) must be on or off")
                    }
                    if enabled {
                        configuration.disabledAgents.remove(agent)
                    } else {
                        configuration.disabledAgents.insert(agent)
                    }
                }
            case "rules":
                for (ruleNode, setting) in try mapping(value, "rules") {
                    configuration.rules.append(try ruleOverride(pattern: try key(ruleNode), keyNode: ruleNode, setting))
                }
            case "ignore":
                configuration.ignoredPaths = try strings(value, "ignore").map(PathPattern.init)
            case "thresholds":
                for (nameNode, number) in try mapping(value, "thresholds") {
                    let name = try key(nameNode)
                    let amount = try positiveInt(number, "thresholds.\(name)")
                    switch name {
                    case "line_length": configuration.thresholds.lineLength = amount
                    case "function_lines": configuration.thresholds.functionLines = amount
                    case "file_lines": configuration.thresholds.fileLines = amount
                    case "change_lines": configuration.thresholds.changeLines = amount
                    case "modules": configuration.thresholds.modules = amount
                    default:
                        throw fail(
                            .unknownKey, nameNode,
                            "unknown threshold '\(name)' (expected line_length, "
                                + "function_lines, file_lines, change_lines or modules)")
                    }
                }
            case "layers":
                guard let sequence = value.sequence else { throw fail(.invalidValue, value, "layers must be a list") }
                for item in sequence { configuration.layers.append(try layer(item)) }
            case "pull_requests":
                configuration.pullRequests = try pullRequestSettings(value)
            case let other:
                throw fail(
                    .unknownKey, keyNode,
                    "unknown key '\(other)' (expected version, agents, rules, ignore, "
                        + "thresholds, layers or pull_requests)")
            }
        }
        return configuration
    }

    func ruleOverride(pattern: String, keyNode: Node, _ setting: Node) throws(ConfigurationError)
        -> RepositoryConfiguration.RuleOverride
    {
        let matchesSomething: Bool
        if pattern.hasSuffix("*") {
            let prefix = pattern.dropLast()
            matchesSomething = RuleCatalog.all.contains { $0.id.hasPrefix(prefix) }
        } else {
            matchesSomething = RuleCatalog.rule(id: pattern) != nil
        }
        guard matchesSomething else {
            throw fail(.unknownRule, keyNode, "no rule matches '\(pattern)'")
        }
        var override = RepositoryConfiguration.RuleOverride(pattern: pattern)
        if let scalar = setting.scalar {
            if let enabled = onOff(scalar.string) {
                override.enabled = enabled
            } else if let severity = Severity(name: scalar.string) {
                override.severity = severity
            } else {
                throw fail(
                    .invalidValue, setting,
                    "rules.\(pattern) must be on, off or a severity "
                        + "(critical, high, medium, low, info)")
            }
            return override
        }
        for (fieldNode, value) in try mapping(setting, "rules.\(pattern)") {
            switch try key(fieldNode) {
            case "enabled":
                guard let enabled = onOff(try string(value, "enabled")) else {
                    throw fail(.invalidValue, value, "enabled must be true or false")
                }
                override.enabled = enabled
            case "severity":
                guard let severity = Severity(name: try string(value, "severity")) else {
                    throw fail(.invalidValue, value, "severity must be critical, high, medium, low or info")
                }
                override.severity = severity
            case let other:
                throw fail(.unknownKey, fieldNode, "unknown key '\(other)' (expected enabled or severity)")
            }
        }
        return override
    }

    func pullRequestSettings(_ node: Node) throws(ConfigurationError) -> RepositoryConfiguration.PullRequestSettings {
        var settings = RepositoryConfiguration.PullRequestSettings()
        for (fieldNode, value) in try mapping(node, "pull_requests") {
            switch try key(fieldNode) {
            case "drafts":
                guard let enabled = onOff(try string(value, "pull_requests.drafts")) else {
                    throw fail(.invalidValue, value, "pull_requests.drafts must be true or false")
                }
                settings.reviewDrafts = enabled
            case "comment_severity":
                guard let severity = Severity(name: try string(value, "pull_requests.comment_severity")) else {
                    throw fail(
                        .invalidValue, value,
                        "pull_requests.comment_severity must be critical, high, medium, low or info")
                }
                settings.commentSeverity = severity
            case "request_changes":
                guard let enabled = onOff(try string(value, "pull_requests.request_changes")) else {
                    throw fail(.invalidValue, value, "pull_requests.request_changes must be true or false")
                }
                settings.requestChanges = enabled
            case "conclusions":
                for (verdictNode, conclusion) in try mapping(value, "pull_requests.conclusions") {
                    let name = try key(verdictNode)
                    guard let status = Verdict.Status(rawValue: name) else {
                        throw fail(
                            .unknownKey, verdictNode,
                            "unknown verdict '\(name)' (expected approved, approved_with_comments or changes_requested)"
                        )
                    }
                    let text = try string(conclusion, "pull_requests.conclusions.\(name)")
                    guard ["success", "neutral", "failure"].contains(text) else {
                        throw fail(
                            .invalidValue, conclusion,
                            "pull_requests.conclusions.\(name) must be success, neutral or failure")
                    }
                    settings.conclusions[status] = text
                }
            case let other:
                throw fail(
                    .unknownKey, fieldNode,
                    "unknown key '\(other)' (expected drafts, comment_severity, request_changes or conclusions)")
            }
        }
        return settings
    }

    func layer(_ node: Node) throws(ConfigurationError) -> RepositoryConfiguration.LayerRule {
        var name: String?
        var paths: [PathPattern] = []
        var forbidden: [String] = []
        for (fieldNode, value) in try mapping(node, "each layer") {
            switch try key(fieldNode) {
            case "name": name = try string(value, "name")
            case "paths": paths = try strings(value, "paths").map(PathPattern.init)
            case "forbidden_imports": forbidden = try strings(value, "forbidden_imports")
            case let other:
                throw fail(.unknownKey, fieldNode, "unknown key '\(other)' (expected name, paths or forbidden_imports)")
            }
        }
        guard let name, !name.isEmpty else { throw fail(.invalidValue, node, "a layer needs a name") }
        guard !paths.isEmpty else { throw fail(.invalidValue, node, "layer '\(name)' needs paths") }
        return RepositoryConfiguration.LayerRule(name: name, paths: paths, forbiddenImports: forbidden)
    }
}
