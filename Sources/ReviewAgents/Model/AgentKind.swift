/// The four review agents.
public enum AgentKind: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Credentials, injection, unsafe APIs.
    case security
    /// Database access patterns, unbounded work, migration hazards.
    case scale
    /// Leftovers, readability, tests.
    case quality
    /// Dependencies, layering, size and spread of a change.
    case architecture

    /// The position of the agent in reports: security, scale, quality, architecture.
    public var order: Int {
        switch self {
        case .security: 0
        case .scale: 1
        case .quality: 2
        case .architecture: 3
        }
    }

    /// Orders agents as reports list them.
    public static func < (lhs: AgentKind, rhs: AgentKind) -> Bool { lhs.order < rhs.order }
}

extension Severity {
    /// Parses a severity name case-insensitively.
    public init?(name: String) {
        self.init(rawValue: name.lowercased())
    }
}
