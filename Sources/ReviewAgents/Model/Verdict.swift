/// The outcome of a review, computed from its findings.
public struct Verdict: Sendable, Hashable, Codable {
    /// What the review asks of the author.
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// No finding at low severity or above.
        case approved
        /// Medium or low findings only.
        case approvedWithComments = "approved_with_comments"
        /// At least one critical or high finding.
        case changesRequested = "changes_requested"

        /// Words for people ("changes requested").
        public var title: String {
            switch self {
            case .approved: "approved"
            case .approvedWithComments: "approved with comments"
            case .changesRequested: "changes requested"
            }
        }
    }

    /// Finding counts per severity.
    public struct Counts: Sendable, Hashable, Codable {
        /// Critical findings.
        public var critical = 0
        /// High findings.
        public var high = 0
        /// Medium findings.
        public var medium = 0
        /// Low findings.
        public var low = 0
        /// Informational findings.
        public var info = 0

        /// Creates empty counts.
        public init() {}

        /// All findings.
        public var total: Int { critical + high + medium + low + info }

        /// The count for one severity.
        public subscript(severity: Severity) -> Int {
            get {
                switch severity {
                case .critical: critical
                case .high: high
                case .medium: medium
                case .low: low
                case .info: info
                }
            }
            set {
                switch severity {
                case .critical: critical = newValue
                case .high: high = newValue
                case .medium: medium = newValue
                case .low: low = newValue
                case .info: info = newValue
                }
            }
        }

        enum CodingKeys: String, CodingKey { case critical, high, medium, low, info, total }

        /// Decodes counts (the redundant `total` is ignored).
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            critical = try container.decode(Int.self, forKey: .critical)
            high = try container.decode(Int.self, forKey: .high)
            medium = try container.decode(Int.self, forKey: .medium)
            low = try container.decode(Int.self, forKey: .low)
            info = try container.decode(Int.self, forKey: .info)
        }

        /// Encodes the counts and their `total`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(critical, forKey: .critical)
            try container.encode(high, forKey: .high)
            try container.encode(medium, forKey: .medium)
            try container.encode(low, forKey: .low)
            try container.encode(info, forKey: .info)
            try container.encode(total, forKey: .total)
        }
    }

    /// The decision.
    public var status: Status
    /// Counts over all agents.
    public var totals: Counts
    /// Counts per agent, keyed by agent name; every agent is present.
    public var byAgent: [String: Counts]
    /// A short Markdown summary: status, counts per agent, and the most important findings with file:line.
    public var summary: String

    /// How many findings the summary lists.
    public static let summaryFindingLimit = 5

    /// Computes the verdict: changes requested for any critical or high finding, approved with comments for any
    /// medium or low one, approved otherwise.
    public init(findings: [Finding], diff: ParsedDiff? = nil) {
        var totals = Counts()
        var byAgent: [String: Counts] = Dictionary(
            uniqueKeysWithValues: AgentKind.allCases.map { ($0.rawValue, Counts()) })
        for finding in findings {
            totals[finding.severity] += 1
            byAgent[finding.agent.rawValue, default: Counts()][finding.severity] += 1
        }
        let status: Status =
            totals.critical + totals.high > 0
            ? .changesRequested
            : totals.medium + totals.low > 0 ? .approvedWithComments : .approved
        self.status = status
        self.totals = totals
        self.byAgent = byAgent
        summary = Self.summary(status: status, totals: totals, byAgent: byAgent, findings: findings, diff: diff)
    }

    enum CodingKeys: String, CodingKey {
        case status
        case totals
        case byAgent = "by_agent"
        case summary
    }

    static func summary(
        status: Status, totals: Counts, byAgent: [String: Counts], findings: [Finding],
        diff: ParsedDiff?
    ) -> String {
        var lines: [String] = []
        var headline = "**AgentQueue review: \(status.title)**"
        if let diff {
            let files = "\(diff.files.count) file\(diff.files.count == 1 ? "" : "s")"
            headline += " · \(files), +\(diff.additions) −\(diff.deletions)"
        }
        lines.append(headline)
        lines.append("")
        if totals.total == 0 {
            lines.append("No findings.")
            return lines.joined(separator: "\n")
        }
        let parts = Severity.allCases.filter { totals[$0] > 0 }.map { "\(totals[$0]) \($0.rawValue)" }
        lines.append("\(totals.total) finding\(totals.total == 1 ? "" : "s"): \(parts.joined(separator: ", ")).")
        lines.append("")
        lines.append("| agent | critical | high | medium | low | info |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
        for agent in AgentKind.allCases {
            let counts = byAgent[agent.rawValue] ?? Counts()
            let cells = [counts.critical, counts.high, counts.medium, counts.low, counts.info].map(String.init)
            lines.append("| \(agent.rawValue) | " + cells.joined(separator: " | ") + " |")
        }
        let top = findings.sorted(by: Finding.reportOrder).prefix(summaryFindingLimit)
        lines.append("")
        lines.append("Most important:")
        for finding in top {
            lines.append(
                "- **\(finding.severity.rawValue)** \(finding.locationText) `\(finding.ruleId)`: \(finding.message)")
        }
        return lines.joined(separator: "\n")
    }
}

extension Finding {
    /// `` `path:line` ``, `` `path` `` or "(whole change)".
    public var locationText: String {
        if path.isEmpty { return "(whole change)" }
        if let line { return "`\(path):\(line)`" }
        return "`\(path)`"
    }
}
