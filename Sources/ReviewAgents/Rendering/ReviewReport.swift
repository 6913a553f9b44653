#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A complete review: the diff's size, the findings and the verdict. This is what the JSON format encodes.
public struct ReviewReport: Sendable, Hashable, Codable {
    /// The JSON schema version; bumped only on incompatible changes (see docs/review.md).
    public static let currentSchemaVersion = 1
    /// The version reported as the tool's version in JSON and SARIF.
    public static let toolVersion = "0.1.0"
    /// The tool name reported in JSON and SARIF.
    public static let toolName = "AgentQueue"

    /// The producing tool.
    public struct Tool: Sendable, Hashable, Codable {
        /// `AgentQueue`.
        public var name: String
        /// The tool's version.
        public var version: String
    }

    /// The size of the reviewed diff.
    public struct DiffSummary: Sendable, Hashable, Codable {
        /// Files in the diff.
        public var files: Int
        /// Added lines.
        public var additions: Int
        /// Removed lines.
        public var deletions: Int
    }

    /// The schema version of this document.
    public var schemaVersion: Int
    /// The producing tool.
    public var tool: Tool
    /// The size of the reviewed diff.
    public var diff: DiffSummary
    /// The verdict.
    public var verdict: Verdict
    /// The findings, most severe first.
    public var findings: [Finding]

    /// Builds a report from a diff and the findings of the agents.
    public init(diff: ParsedDiff, findings: [Finding]) {
        schemaVersion = Self.currentSchemaVersion
        tool = Tool(name: Self.toolName, version: Self.toolVersion)
        self.diff = DiffSummary(files: diff.files.count, additions: diff.additions, deletions: diff.deletions)
        let ordered = findings.sorted(by: Finding.reportOrder)
        verdict = Verdict(findings: ordered, diff: diff)
        self.findings = ordered
    }

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case tool
        case diff
        case verdict
        case findings
    }
}

/// The output formats of a report.
public enum ReportFormat: String, Sendable, CaseIterable {
    /// Human-readable Markdown, for pull-request comments.
    case markdown
    /// The documented JSON schema (``ReviewReport``).
    case json
    /// SARIF 2.1.0, for code-scanning tools.
    case sarif

    /// Renders `report` in this format.
    public func render(_ report: ReviewReport) throws -> String {
        switch self {
        case .markdown: MarkdownRenderer.render(report)
        case .json: try JSONReportRenderer.render(report)
        case .sarif: try SARIFRenderer.render(report)
        }
    }
}

/// Renders the JSON format: stable key order, two-space indentation, no escaped slashes.
public enum JSONReportRenderer {
    /// Encodes `report` as pretty-printed JSON with sorted keys.
    public static func render(_ report: ReviewReport) throws -> String {
        try encode(report)
    }

    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Renders a report as Markdown for a pull-request comment.
public enum MarkdownRenderer {
    /// The verdict summary followed by every finding, grouped by file.
    public static func render(_ report: ReviewReport) -> String {
        var out: [String] = [report.verdict.summary]
        guard !report.findings.isEmpty else { return out.joined(separator: "\n") + "\n" }
        out.append("")
        out.append("### Findings")
        var byPath: [String: [Finding]] = [:]
        for finding in report.findings { byPath[finding.path, default: []].append(finding) }
        for path in byPath.keys.sorted() {
            let findings = byPath[path]!.sorted {
                ($0.line ?? 0, $0.severity.rank, $0.ruleId) < ($1.line ?? 0, $1.severity.rank, $1.ruleId)
            }
            out.append("")
            out.append(path.isEmpty ? "#### Whole change" : "#### `\(path)`")
            out.append("")
            for finding in findings {
                let location = finding.line.map { "line \($0)" } ?? "file"
                out.append(
                    "- **\(finding.severity.rawValue)** \(path.isEmpty ? "" : location + " · ")"
                        + "`\(finding.ruleId)` (\(finding.agent.rawValue)): \(finding.message)")
                if let suggestion = finding.suggestion { out.append("  - Suggestion: \(suggestion)") }
            }
        }
        return out.joined(separator: "\n") + "\n"
    }
}
