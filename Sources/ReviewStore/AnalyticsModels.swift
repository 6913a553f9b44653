#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// The four review agents, in the order reports list them.
public enum ReviewAgentName {
    /// `security`, `scale`, `quality`, `architecture`.
    public static let all = ["security", "scale", "quality", "architecture"]
}

/// One review as `review_history` recorded it.
public struct ReviewHistoryEntry: Codable, Sendable, Hashable {
    /// The `review_history` row.
    public var id: Int64
    /// The task that ran the review.
    public var taskID: Int64
    /// When the review finished.
    public var reviewedAt: Date
    /// `owner/name`, when known.
    public var repo: String?
    /// The pull request number, when known.
    public var prNumber: Int?
    /// The pull request title, when known.
    public var title: String?
    /// The pull request author, when known.
    public var author: String?
    /// The head commit reviewed, when known.
    public var headSHA: String?
    /// The pull request URL, when known.
    public var prURL: String?
    /// `approved`, `approved_with_comments` or `changes_requested`.
    public var verdictStatus: String
    /// Findings of the security agent.
    public var security: Int
    /// Findings of the scale agent.
    public var scale: Int
    /// Findings of the quality agent.
    public var quality: Int
    /// Findings of the architecture agent.
    public var architecture: Int
    /// All findings.
    public var total: Int
    /// Wall time of the review.
    public var executionTimeMilliseconds: Double

    /// Creates an entry.
    public init(
        id: Int64, taskID: Int64, reviewedAt: Date, repo: String?, prNumber: Int?, title: String?, author: String?,
        headSHA: String?, prURL: String?, verdictStatus: String, security: Int, scale: Int, quality: Int,
        architecture: Int, total: Int, executionTimeMilliseconds: Double
    ) {
        self.id = id
        self.taskID = taskID
        self.reviewedAt = reviewedAt
        self.repo = repo
        self.prNumber = prNumber
        self.title = title
        self.author = author
        self.headSHA = headSHA
        self.prURL = prURL
        self.verdictStatus = verdictStatus
        self.security = security
        self.scale = scale
        self.quality = quality
        self.architecture = architecture
        self.total = total
        self.executionTimeMilliseconds = executionTimeMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case id, repo, title, author, security, scale, quality, architecture, total
        case taskID = "task_id"
        case reviewedAt = "reviewed_at"
        case prNumber = "pr_number"
        case headSHA = "head_sha"
        case prURL = "pr_url"
        case verdictStatus = "verdict_status"
        case executionTimeMilliseconds = "execution_time_ms"
    }
}

/// The findings of one UTC day, per agent.
public struct FindingsTrendDay: Codable, Sendable, Hashable {
    /// The day, `YYYY-MM-DD` (UTC).
    public var day: String
    /// Reviews finished that day.
    public var reviews: Int
    /// Findings of the security agent.
    public var security: Int
    /// Findings of the scale agent.
    public var scale: Int
    /// Findings of the quality agent.
    public var quality: Int
    /// Findings of the architecture agent.
    public var architecture: Int

    /// All findings of the day.
    public var total: Int { security + scale + quality + architecture }

    /// Creates a day.
    public init(day: String, reviews: Int, security: Int, scale: Int, quality: Int, architecture: Int) {
        self.day = day
        self.reviews = reviews
        self.security = security
        self.scale = scale
        self.quality = quality
        self.architecture = architecture
    }

    /// The findings of one agent by name (`security`, `scale`, `quality`, `architecture`).
    public func count(of agent: String) -> Int {
        switch agent {
        case "security": security
        case "scale": scale
        case "quality": quality
        case "architecture": architecture
        default: 0
        }
    }

    enum CodingKeys: String, CodingKey {
        case day, reviews, security, scale, quality, architecture, total
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        day = try container.decode(String.self, forKey: .day)
        reviews = try container.decode(Int.self, forKey: .reviews)
        security = try container.decode(Int.self, forKey: .security)
        scale = try container.decode(Int.self, forKey: .scale)
        quality = try container.decode(Int.self, forKey: .quality)
        architecture = try container.decode(Int.self, forKey: .architecture)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(day, forKey: .day)
        try container.encode(reviews, forKey: .reviews)
        try container.encode(security, forKey: .security)
        try container.encode(scale, forKey: .scale)
        try container.encode(quality, forKey: .quality)
        try container.encode(architecture, forKey: .architecture)
        try container.encode(total, forKey: .total)
    }
}

/// How one agent performed over a period.
public struct AgentPerformanceSummary: Codable, Sendable, Hashable {
    /// The agent.
    public var agent: String
    /// Runs recorded.
    public var runs: Int
    /// Mean wall time.
    public var meanMilliseconds: Double
    /// Median wall time (continuous percentile, interpolated).
    public var p50Milliseconds: Double
    /// 95th percentile wall time (continuous percentile, interpolated).
    public var p95Milliseconds: Double
    /// Longest run.
    public var maxMilliseconds: Double
    /// Findings produced.
    public var findings: Int

    /// Creates a summary.
    public init(
        agent: String, runs: Int, meanMilliseconds: Double, p50Milliseconds: Double, p95Milliseconds: Double,
        maxMilliseconds: Double, findings: Int
    ) {
        self.agent = agent
        self.runs = runs
        self.meanMilliseconds = meanMilliseconds
        self.p50Milliseconds = p50Milliseconds
        self.p95Milliseconds = p95Milliseconds
        self.maxMilliseconds = maxMilliseconds
        self.findings = findings
    }

    enum CodingKeys: String, CodingKey {
        case agent, runs, findings
        case meanMilliseconds = "mean_ms"
        case p50Milliseconds = "p50_ms"
        case p95Milliseconds = "p95_ms"
        case maxMilliseconds = "max_ms"
    }
}

/// How many reviews ended with one verdict.
public struct VerdictCount: Codable, Sendable, Hashable {
    /// `approved`, `approved_with_comments` or `changes_requested`.
    public var verdictStatus: String
    /// Reviews with this verdict.
    public var reviews: Int
    /// Share of all reviews counted, in percent (0 when there are none).
    public var percent: Double

    /// Creates a count.
    public init(verdictStatus: String, reviews: Int, percent: Double) {
        self.verdictStatus = verdictStatus
        self.reviews = reviews
        self.percent = percent
    }

    enum CodingKeys: String, CodingKey {
        case reviews, percent
        case verdictStatus = "verdict_status"
    }
}

/// A file where a rule fired, and how often.
public struct RuleLocation: Codable, Sendable, Hashable {
    /// The file path.
    public var path: String
    /// Findings of the rule in that file.
    public var count: Int

    /// Creates a location.
    public init(path: String, count: Int) {
        self.path = path
        self.count = count
    }
}

/// A rule and how often it fired.
public struct RuleFrequency: Codable, Sendable, Hashable {
    /// The rule.
    public var ruleID: String
    /// The agent whose rule it is.
    public var agent: String
    /// The most severe severity it was reported with.
    public var severity: String
    /// Findings.
    public var occurrences: Int
    /// Reviews in which it fired.
    public var reviews: Int
    /// Distinct files in which it fired.
    public var files: Int
    /// The files where it fired most (at most three), most frequent first.
    public var locations: [RuleLocation]

    /// Creates a frequency.
    public init(
        ruleID: String, agent: String, severity: String, occurrences: Int, reviews: Int, files: Int,
        locations: [RuleLocation]
    ) {
        self.ruleID = ruleID
        self.agent = agent
        self.severity = severity
        self.occurrences = occurrences
        self.reviews = reviews
        self.files = files
        self.locations = locations
    }

    enum CodingKeys: String, CodingKey {
        case agent, severity, occurrences, reviews, files, locations
        case ruleID = "rule_id"
    }
}
