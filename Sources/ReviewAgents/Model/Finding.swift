import Digests

/// One problem an agent reports about a diff.
///
/// Encoded as JSON with snake_case keys (`rule_id`); see docs/review.md for the schema.
public struct Finding: Sendable, Hashable, Codable {
    /// The agent that produced the finding.
    public var agent: AgentKind
    /// The stable rule identifier, such as `security.sql-injection`.
    public var ruleId: String
    /// How serious the finding is, after repository overrides.
    public var severity: Severity
    /// The path of the file (new side).
    public var path: String
    /// The 1-based new-side line; nil for a finding about a whole file or the whole change.
    public var line: Int?
    /// What is wrong, in one or two sentences. Credentials appear masked (first four characters and `****`).
    public var message: String
    /// How to fix it, when there is a clear fix.
    public var suggestion: String?
    /// A hex digest of rule, path and normalised line content (not the line number), stable across pushes.
    public var fingerprint: String
    /// Where the finding comes from: `rules` for the built-in rule packs.
    public var source: String

    /// Creates a finding. Prefer letting an agent create them; this is for other back-ends and tests.
    public init(
        agent: AgentKind, ruleId: String, severity: Severity, path: String, line: Int?, message: String,
        suggestion: String? = nil, fingerprint: String, source: String = "rules"
    ) {
        self.agent = agent
        self.ruleId = ruleId
        self.severity = severity
        self.path = path
        self.line = line
        self.message = message
        self.suggestion = suggestion
        self.fingerprint = fingerprint
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case agent
        case ruleId = "rule_id"
        case severity
        case path
        case line
        case message
        case suggestion
        case fingerprint
        case source
    }

    /// Decodes a finding; a missing `source` means `rules`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        agent = try container.decode(AgentKind.self, forKey: .agent)
        ruleId = try container.decode(String.self, forKey: .ruleId)
        severity = try container.decode(Severity.self, forKey: .severity)
        path = try container.decode(String.self, forKey: .path)
        line = try container.decodeIfPresent(Int.self, forKey: .line)
        message = try container.decode(String.self, forKey: .message)
        suggestion = try container.decodeIfPresent(String.self, forKey: .suggestion)
        fingerprint = try container.decode(String.self, forKey: .fingerprint)
        source = try container.decodeIfPresent(String.self, forKey: .source) ?? "rules"
    }

    /// Encodes every key, writing `null` for a missing line or suggestion, so the JSON shape never varies.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(agent, forKey: .agent)
        try container.encode(ruleId, forKey: .ruleId)
        try container.encode(severity, forKey: .severity)
        try container.encode(path, forKey: .path)
        try container.encode(line, forKey: .line)
        try container.encode(message, forKey: .message)
        try container.encode(suggestion, forKey: .suggestion)
        try container.encode(fingerprint, forKey: .fingerprint)
        try container.encode(source, forKey: .source)
    }

    /// The order reports use: most severe first, then by path, line, agent and rule.
    public static func reportOrder(_ lhs: Finding, _ rhs: Finding) -> Bool {
        if lhs.severity != rhs.severity { return lhs.severity < rhs.severity }
        if lhs.path != rhs.path { return lhs.path < rhs.path }
        if lhs.line != rhs.line { return (lhs.line ?? 0) < (rhs.line ?? 0) }
        if lhs.agent != rhs.agent { return lhs.agent < rhs.agent }
        if lhs.ruleId != rhs.ruleId { return lhs.ruleId < rhs.ruleId }
        return lhs.fingerprint < rhs.fingerprint
    }

    /// Computes the fingerprint for a rule, a path and a line's content (or another stable key).
    ///
    /// Whitespace is collapsed so re-indenting does not change it; `occurrence` separates identical lines.
    public static func fingerprint(ruleId: String, path: String, content: String, occurrence: Int = 0) -> String {
        var normalised: [UInt8] = []
        var pendingSpace = false
        for byte in content.utf8 {
            if byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A {
                pendingSpace = !normalised.isEmpty
                continue
            }
            if pendingSpace { normalised.append(0x20) }
            pendingSpace = false
            normalised.append(byte)
        }
        var input = Array("agentqueue/v1\u{0}\(ruleId)\u{0}\(path)\u{0}".utf8)
        input += normalised
        input += Array("\u{0}\(occurrence)".utf8)
        return String(SHA256.hexDigest(input).prefix(32))
    }
}

/// Masks a credential for display: its first four characters followed by `****`.
public func maskSecret(_ secret: some StringProtocol) -> String {
    // Short values keep fewer characters so that the mask never reveals most of the secret.
    let keep = min(4, secret.count / 3)
    return String(secret.prefix(keep)) + "****"
}
