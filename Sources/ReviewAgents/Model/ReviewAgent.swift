/// What every agent reviews: a parsed diff and the repository's configuration.
public struct ReviewInput: Sendable {
    /// The change under review.
    public let diff: ParsedDiff
    /// The repository's review settings.
    public let configuration: RepositoryConfiguration
    /// The diff prepared for the rules, computed once and shared by the agents.
    let analysis: DiffAnalysis

    /// Prepares an input. Lexing happens here, once, so agents sharing the input do not repeat it.
    public init(diff: ParsedDiff, configuration: RepositoryConfiguration = .default) {
        self.diff = diff
        self.configuration = configuration
        analysis = DiffAnalysis(diff)
    }
}

/// A reviewer of diffs. Each agent is independent: the worker runs them as separate graph nodes and
/// checkpoints each one's findings.
public protocol ReviewAgent: Sendable {
    /// Which agent this is.
    var kind: AgentKind { get }
    /// Reviews the diff; returns findings in ``Finding/reportOrder(_:_:)`` order.
    ///
    /// Disabled rules, ignored paths and severity overrides of `input.configuration` are already applied.
    /// Throws `CancellationError` if the task is cancelled.
    func review(_ input: ReviewInput) async throws -> [Finding]
}

/// The built-in agents and a convenience that runs them together.
public enum ReviewAgents {
    /// The built-in agent of a kind.
    public static func agent(_ kind: AgentKind) -> any ReviewAgent {
        switch kind {
        case .security: SecurityAgent()
        case .scale: ScaleAgent()
        case .quality: QualityAgent()
        case .architecture: ArchitectureAgent()
        }
    }

    /// The four built-in agents, in report order.
    public static var all: [any ReviewAgent] { AgentKind.allCases.map(agent) }

    /// Runs `agents` concurrently and merges their findings in ``Finding/reportOrder(_:_:)`` order, so the result
    /// is the same whatever order the agents finish in. Agents disabled by the configuration are skipped.
    public static func reviewAll(_ input: ReviewInput, agents: [any ReviewAgent] = ReviewAgents.all)
        async throws -> [Finding]
    {
        let enabled = agents.filter { input.configuration.isEnabled($0.kind) }
        let findings = try await withThrowingTaskGroup(of: [Finding].self) { group in
            for agent in enabled {
                group.addTask { try await agent.review(input) }
            }
            var merged: [Finding] = []
            for try await part in group { merged += part }
            return merged
        }
        return findings.sorted(by: Finding.reportOrder)
    }
}

/// Gathers an agent's findings and applies the configuration: disabled rules, ignored paths, severity
/// overrides, inline `agentqueue:ignore` comments, and stable fingerprints.
struct FindingCollector {
    let agent: AgentKind
    let configuration: RepositoryConfiguration
    private var findings: [Finding] = []
    private var occurrences: [String: Int] = [:]
    private var enabled: [String: Bool] = [:]

    init(agent: AgentKind, configuration: RepositoryConfiguration) {
        self.agent = agent
        self.configuration = configuration
    }

    /// Whether the rule will be reported at all (lets a rule skip expensive work).
    mutating func isEnabled(_ rule: RuleDescriptor) -> Bool {
        if let known = enabled[rule.id] { return known }
        let value = configuration.isEnabled(rule: rule)
        enabled[rule.id] = value
        return value
    }

    /// Reports a finding on a line; `key` defaults to the line's content for the fingerprint.
    mutating func add(
        _ rule: RuleDescriptor, file: SourceFile, line: SourceLine, message: String, suggestion: String? = nil,
        key: String? = nil
    ) {
        if Self.isSuppressed(line, rule: rule) { return }
        add(
            rule, path: file.path, line: line.number, message: message, suggestion: suggestion,
            key: key ?? line.text)
    }

    /// Reports a finding about a path (or the whole change when `line` is nil).
    mutating func add(
        _ rule: RuleDescriptor, path: String, line: Int?, message: String, suggestion: String? = nil, key: String
    ) {
        guard isEnabled(rule), !configuration.isIgnored(path: path) else { return }
        let occurrenceKey = rule.id + "\u{0}" + path + "\u{0}" + key
        let occurrence = occurrences[occurrenceKey, default: 0]
        occurrences[occurrenceKey] = occurrence + 1
        findings.append(
            Finding(
                agent: agent, ruleId: rule.id, severity: configuration.severity(for: rule), path: path, line: line,
                message: message, suggestion: suggestion,
                fingerprint: Finding.fingerprint(ruleId: rule.id, path: path, content: key, occurrence: occurrence)))
    }

    /// The findings in report order.
    func finish() -> [Finding] { findings.sorted(by: Finding.reportOrder) }

    /// `agentqueue:ignore` on a line silences every rule there; `agentqueue:ignore rule.id` silences one.
    static func isSuppressed(_ line: SourceLine, rule: RuleDescriptor) -> Bool {
        guard let index = line.raw.find("agentqueue:ignore") else { return false }
        let rest = line.raw.skipSpaces(from: index + 17)
        guard rest < line.raw.count, line.raw[rest].isASCIILetter else { return true }
        var end = rest
        while end < line.raw.count
            && (line.raw[end].isTokenByte || line.raw[end] == UInt8(ascii: ".")
                || line.raw[end] == UInt8(ascii: ",") || line.raw[end] == UInt8(ascii: "*"))
        {
            end += 1
        }
        let names = line.raw.string(rest..<end).split(separator: ",")
        return names.contains { name in
            name.hasSuffix("*") ? rule.id.hasPrefix(name.dropLast()) : rule.id == name
        }
    }
}

extension ReviewInput {
    /// The files an agent looks at: not ignored by the configuration.
    var reviewableFiles: [SourceFile] {
        analysis.files.filter { !configuration.isIgnored(path: $0.path) }
    }
}
