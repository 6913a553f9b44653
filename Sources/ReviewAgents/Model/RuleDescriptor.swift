/// The description of one rule: identity, default severity and help, as shown in SARIF and docs.
public struct RuleDescriptor: Sendable, Hashable, Codable {
    /// The stable identifier, `agent.rule-name` (for example `security.sql-injection`).
    public let id: String
    /// The agent that owns the rule.
    public let agent: AgentKind
    /// The severity used unless the repository configuration overrides it.
    public let defaultSeverity: Severity
    /// A short title.
    public let title: String
    /// What the rule looks for and why it matters.
    public let help: String
    /// The related CWE identifier (`CWE-89`), when there is one.
    public let cwe: String?

    /// Creates a rule descriptor.
    public init(
        id: String, agent: AgentKind, defaultSeverity: Severity, title: String, help: String, cwe: String? = nil
    ) {
        self.id = id
        self.agent = agent
        self.defaultSeverity = defaultSeverity
        self.title = title
        self.help = help
        self.cwe = cwe
    }

    enum CodingKeys: String, CodingKey {
        case id
        case agent
        case defaultSeverity = "default_severity"
        case title
        case help
        case cwe
    }
}
