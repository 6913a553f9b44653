/// How serious a finding is, from most to least severe.
public enum Severity: String, Codable, Sendable, CaseIterable, Comparable {
    case critical
    case high
    case medium
    case low
    case info

    /// Rank used for ordering: a lower rank is more severe.
    public var rank: Int {
        switch self {
        case .critical: 0
        case .high: 1
        case .medium: 2
        case .low: 3
        case .info: 4
        }
    }

    /// More severe sorts first.
    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}
