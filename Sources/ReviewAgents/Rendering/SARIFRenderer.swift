/// Renders a report as SARIF 2.1.0 (OASIS), as code-scanning services ingest it.
///
/// Every built-in rule is listed in `tool.driver.rules` in catalogue order, so `ruleIndex` values are stable;
/// each result carries `partialFingerprints["agentqueue/v1"]` (the finding's fingerprint).
public enum SARIFRenderer {
    /// The schema URI written in `$schema`.
    public static let schemaURI =
        "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

    /// Renders `report`; `rules` defaults to the built-in catalogue.
    public static func render(_ report: ReviewReport, rules: [RuleDescriptor] = RuleCatalog.all) throws -> String {
        var catalogue = rules
        var index: [String: Int] = [:]
        for (i, rule) in catalogue.enumerated() { index[rule.id] = i }
        // Findings from other sources (an LLM backend) may use rules outside the catalogue.
        for finding in report.findings where index[finding.ruleId] == nil {
            index[finding.ruleId] = catalogue.count
            catalogue.append(
                RuleDescriptor(
                    id: finding.ruleId, agent: finding.agent, defaultSeverity: finding.severity,
                    title: finding.ruleId, help: finding.message))
        }
        let log = Log(
            schema: schemaURI, version: "2.1.0",
            runs: [
                Run(
                    tool: Tool(
                        driver: Driver(
                            name: report.tool.name, version: report.tool.version, semanticVersion: report.tool.version,
                            rules: catalogue.map(Rule.init))),
                    results: report.findings.map { Result($0, ruleIndex: index[$0.ruleId]!) },
                    columnKind: "unicodeCodePoints",
                    properties: RunProperties(
                        verdict: report.verdict.status.rawValue, schemaVersion: report.schemaVersion))
            ])
        return try JSONReportRenderer.encode(log)
    }

    /// SARIF level for a severity: critical/high → error, medium → warning, low/info → note.
    public static func level(_ severity: Severity) -> String {
        switch severity {
        case .critical, .high: "error"
        case .medium: "warning"
        case .low, .info: "note"
        }
    }

    /// The GitHub-style `security-severity` score for a severity.
    static func securityScore(_ severity: Severity) -> String {
        switch severity {
        case .critical: "9.5"
        case .high: "8.0"
        case .medium: "5.5"
        case .low: "3.0"
        case .info: "0.0"
        }
    }

    /// Percent-encodes a repository path into a relative URI reference.
    static func uri(_ path: String) -> String {
        var out = ""
        for byte in path.utf8 {
            let keep = byte.isASCIIAlphanumeric || "-._~/".utf8.contains(byte)
            if keep {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let digits = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]], as: UTF8.self)
            }
        }
        return out
    }

    // MARK: SARIF object model (the subset AgentQueue writes)

    struct Log: Encodable {
        let schema: String
        let version: String
        let runs: [Run]
        enum CodingKeys: String, CodingKey { case schema = "$schema", version, runs }
    }

    struct Run: Encodable {
        let tool: Tool
        let results: [Result]
        let columnKind: String
        let properties: RunProperties
    }

    struct RunProperties: Encodable {
        let verdict: String
        let schemaVersion: Int
        enum CodingKeys: String, CodingKey {
            case verdict = "agentqueue.verdict", schemaVersion = "agentqueue.schema_version"
        }
    }

    struct Tool: Encodable { let driver: Driver }

    struct Driver: Encodable {
        let name: String
        let version: String
        let semanticVersion: String
        let rules: [Rule]
    }

    struct Message: Encodable {
        let text: String
        var markdown: String?
    }

    struct Rule: Encodable {
        let id: String
        let name: String
        let shortDescription: Message
        let fullDescription: Message
        let help: Message
        let defaultConfiguration: Configuration
        let properties: RuleProperties

        struct Configuration: Encodable { let level: String }

        struct RuleProperties: Encodable {
            let tags: [String]
            let precision: String
            let problemSeverity: String
            let securitySeverity: String?
            enum CodingKeys: String, CodingKey {
                case tags, precision
                case problemSeverity = "problem.severity"
                case securitySeverity = "security-severity"
            }
        }

        init(_ rule: RuleDescriptor) {
            id = rule.id
            // SARIF names are identifier-like: "security.sql-injection" becomes "SecuritySqlInjection".
            name = rule.id.split(whereSeparator: { $0 == "." || $0 == "-" })
                .map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
            shortDescription = Message(text: rule.title)
            fullDescription = Message(text: rule.help)
            help = Message(text: rule.help, markdown: "**\(rule.title)**\n\n\(rule.help)")
            defaultConfiguration = Configuration(level: SARIFRenderer.level(rule.defaultSeverity))
            // The agent name doubles as the category tag ("security" is the tag code-scanning services expect).
            var tags = [rule.agent.rawValue]
            if let cwe = rule.cwe { tags.append("external/cwe/" + cwe.lowercased()) }
            properties = RuleProperties(
                tags: tags, precision: "medium", problemSeverity: SARIFRenderer.level(rule.defaultSeverity),
                securitySeverity: rule.agent == .security ? SARIFRenderer.securityScore(rule.defaultSeverity) : nil)
        }
    }

    struct Result: Encodable {
        let ruleId: String
        let ruleIndex: Int
        let level: String
        let message: Message
        let locations: [Location]?
        let partialFingerprints: [String: String]
        let properties: ResultProperties

        struct ResultProperties: Encodable {
            let agent: String
            let severity: String
            let source: String
            let suggestion: String?
        }

        init(_ finding: Finding, ruleIndex: Int) {
            ruleId = finding.ruleId
            self.ruleIndex = ruleIndex
            level = SARIFRenderer.level(finding.severity)
            var text = finding.message
            if let suggestion = finding.suggestion { text += " " + suggestion }
            message = Message(text: text)
            if finding.path.isEmpty {
                locations = nil
            } else {
                locations = [
                    Location(
                        physicalLocation: PhysicalLocation(
                            artifactLocation: ArtifactLocation(
                                uri: SARIFRenderer.uri(finding.path), uriBaseId: "%SRCROOT%"),
                            region: finding.line.map { Region(startLine: $0) }))
                ]
            }
            partialFingerprints = ["agentqueue/v1": finding.fingerprint]
            properties = ResultProperties(
                agent: finding.agent.rawValue, severity: finding.severity.rawValue,
                source: finding.source, suggestion: finding.suggestion)
        }
    }

    struct Location: Encodable { let physicalLocation: PhysicalLocation }

    struct PhysicalLocation: Encodable {
        let artifactLocation: ArtifactLocation
        let region: Region?
    }

    struct ArtifactLocation: Encodable {
        let uri: String
        let uriBaseId: String
    }

    struct Region: Encodable { let startLine: Int }
}
