import Digests
import Testing

@testable import ReviewAgents

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

@Suite("Verdict, fingerprints and reports")
struct ReportTests {
    static func finding(_ severity: Severity, agent: AgentKind = .security, path: String = "a.py", line: Int? = 1)
        -> Finding
    {
        Finding(
            agent: agent, ruleId: "\(agent.rawValue).x", severity: severity, path: path, line: line, message: "m",
            fingerprint: "f\(severity.rank)")
    }

    @Test(
        "status follows the most severe finding",
        arguments: [
            ([], Verdict.Status.approved),
            ([Severity.info], .approved),
            ([.low], .approvedWithComments),
            ([.medium, .info], .approvedWithComments),
            ([.high, .low], .changesRequested),
            ([.critical], .changesRequested),
        ])
    func status(severities: [Severity], expected: Verdict.Status) {
        let verdict = Verdict(findings: severities.map { Self.finding($0) })
        #expect(verdict.status == expected)
        #expect(verdict.totals.total == severities.count)
    }

    @Test("counts per agent and the summary's most important findings")
    func summary() {
        let findings = [
            Self.finding(.low, agent: .quality, path: "z.py", line: 9),
            Self.finding(.critical, agent: .security, path: "k.py", line: 3),
            Self.finding(.medium, agent: .scale, path: "b.py", line: 7),
        ]
        let verdict = Verdict(findings: findings)
        #expect(verdict.byAgent["security"]?.critical == 1)
        #expect(verdict.byAgent["scale"]?.medium == 1)
        #expect(verdict.byAgent["architecture"]?.total == 0)
        #expect(verdict.summary.contains("changes requested"))
        #expect(verdict.summary.contains("| security | 1 | 0 | 0 | 0 | 0 |"))
        let critical = verdict.summary.firstRange(of: "`k.py:3`")
        let low = verdict.summary.firstRange(of: "`z.py:9`")
        #expect(critical != nil && low != nil && critical!.lowerBound < low!.lowerBound)
    }

    @Test("fingerprints ignore line numbers and indentation but not content")
    func fingerprints() async throws {
        var first = DiffBuilder()
        first.newFile("app/db.py", ["cursor.execute(f\"SELECT a FROM t WHERE id = {x}\")"])
        var moved = DiffBuilder()
        moved.modify(
            "app/db.py", context: ["import os", "", "def f():"],
            added: ["        cursor.execute(f\"SELECT a FROM t WHERE id = {x}\")"], startLine: 40)
        var changed = DiffBuilder()
        changed.newFile("app/db.py", ["cursor.execute(f\"SELECT b FROM t WHERE id = {x}\")"])
        let a = try await review(first.text, agent: .security).first { $0.ruleId == "security.sql-injection" }
        let b = try await review(moved.text, agent: .security).first { $0.ruleId == "security.sql-injection" }
        let c = try await review(changed.text, agent: .security).first { $0.ruleId == "security.sql-injection" }
        #expect(a != nil && b != nil && c != nil)
        #expect(a?.line != b?.line)
        #expect(a?.fingerprint == b?.fingerprint)
        #expect(a?.fingerprint != c?.fingerprint)
        #expect(a?.fingerprint.count == 32)
    }

    @Test("identical lines get distinct fingerprints")
    func duplicateLines() async throws {
        var builder = DiffBuilder()
        builder.newFile("app/x.py", ["r = eval(x)", "r = eval(x)"])
        let findings = try await review(builder.text, agent: .security)
        #expect(findings.count == 2 && Set(findings.map(\.fingerprint)).count == 2)
    }

    @Test("SHA-256 matches the FIPS 180-4 test vectors")
    func sha256() {
        #expect(
            SHA256.hexDigest(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hexDigest([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256.hexDigest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("secrets are masked in every output format")
    func masking() async throws {
        let token = RuleCases.githubToken
        let secretPassword = RuleCases.password
        let urlPassword = Fake.alnum(18, seed: 77)
        var builder = DiffBuilder()
        builder.newFile(
            "ci/deploy.py",
            [
                "TOKEN = \"\(token)\"", "DB_PASSWORD = \"\(secretPassword)\"",
                "URL = \"postgres://app:\(urlPassword)@db/x\"",
            ])
        let diff = try builder.parsed()
        let findings = try await ReviewAgents.reviewAll(ReviewInput(diff: diff))
        #expect(findings.count(where: { $0.agent == .security }) >= 3)
        let report = ReviewReport(diff: diff, findings: findings)
        for format in ReportFormat.allCases {
            let output = try format.render(report)
            #expect(!output.contains(token), "\(format) leaks the token")
            #expect(!output.contains(secretPassword), "\(format) leaks the password")
            #expect(!output.contains(urlPassword), "\(format) leaks the URL password")
            #expect(output.contains("ghp_****"), "\(format) should show the masked token")
        }
        #expect(maskSecret("abcdefghijkl") == "abcd****")
        #expect(maskSecret("abc") == "a****")
    }

    @Test("Slack tokens and webhook URLs are masked in every output format and in the masked diff")
    func slackMasking() async throws {
        let secrets = [RuleCases.slackToken, RuleCases.slackUserToken, RuleCases.slackAppToken, RuleCases.slackWebhook]
        var builder = DiffBuilder()
        builder.newFile(
            "ops/notify.py",
            [
                "BOT = '\(secrets[0])'", "USER = '\(secrets[1])'", "APP = '\(secrets[2])'",
                "requests.post('\(secrets[3])', json=payload)",
            ])
        let diff = try builder.parsed()
        let findings = try await ReviewAgents.reviewAll(ReviewInput(diff: diff))
        #expect(findings.count(where: { $0.ruleId == "security.secret.slack-token" }) == 3)
        #expect(findings.count(where: { $0.ruleId == "security.secret.slack-webhook" }) == 1)
        let report = ReviewReport(diff: diff, findings: findings)
        for format in ReportFormat.allCases {
            let output = try format.render(report)
            for secret in secrets { #expect(!output.contains(secret), "\(format) leaks \(secret.prefix(4))") }
            #expect(output.contains("xoxb****") && output.contains("hook****"), "\(format) should show the masks")
        }
        let masked = diff.maskingCredentials()
        #expect(masked.maskedLineCount == 4)
        let text = masked.diff.files.flatMap(\.hunks).flatMap(\.lines).map(\.text).joined(separator: "\n")
        for secret in secrets { #expect(!text.contains(secret)) }
    }

    @Test("the JSON report has the documented shape and decodes back")
    func json() async throws {
        var builder = DiffBuilder()
        builder.newFile("app/x.py", ["r = eval(x)"])
        let diff = try builder.parsed()
        let report = ReviewReport(diff: diff, findings: try await ReviewAgents.reviewAll(ReviewInput(diff: diff)))
        let text = try JSONReportRenderer.render(report)
        for key in [
            "\"schema_version\" : 1", "\"rule_id\" : \"security.code-injection\"", "\"verdict\"", "\"by_agent\"",
            "\"status\" : \"changes_requested\"", "\"fingerprint\"", "\"additions\" : 1", "\"source\" : \"rules\"",
        ] {
            #expect(text.contains(key), "missing \(key)")
        }
        let decoded = try JSONDecoder().decode(ReviewReport.self, from: Data(text.utf8))
        #expect(decoded == report)
    }

    @Test("SARIF output carries the catalogue, levels, locations and fingerprints")
    func sarif() async throws {
        var builder = DiffBuilder()
        builder.newFile("app/my file.py", ["r = eval(x)", "# TODO: later"])
        let diff = try builder.parsed()
        let findings = try await ReviewAgents.reviewAll(ReviewInput(diff: diff))
        let text = try SARIFRenderer.render(ReviewReport(diff: diff, findings: findings))
        #expect(text.contains("\"version\" : \"2.1.0\""))
        #expect(text.contains("\"uri\" : \"app/my%20file.py\""))
        #expect(text.contains("\"agentqueue/v1\""))
        #expect(text.contains("\"level\" : \"error\"") && text.contains("\"level\" : \"note\""))
        #expect(text.contains("\"external/cwe/cwe-95\""))
        for rule in RuleCatalog.all { #expect(text.contains("\"id\" : \"\(rule.id)\"")) }
        // SARIF requires unique tags per rule.
        #expect(!text.contains("\"security\",\n              \"security\""))
    }

    @Test("reviewAll is deterministic whatever order the agents finish in")
    func deterministic() async throws {
        var builder = DiffBuilder()
        builder.newFile("app/x.py", ["r = eval(x)", "# TODO: later", "for u in users:", "    User.objects.get(id=u)"])
        builder.newFile("db/migrations/2.sql", ["CREATE INDEX i ON t (c);"])
        let input = ReviewInput(diff: try builder.parsed())
        let first = try await ReviewAgents.reviewAll(input)
        for _ in 0..<5 {
            #expect(try await ReviewAgents.reviewAll(input) == first)
            #expect(try await ReviewAgents.reviewAll(input, agents: ReviewAgents.all.reversed()) == first)
        }
        #expect(first == first.sorted(by: Finding.reportOrder))
        #expect(Set(first.map(\.agent)).count >= 3)
    }

    @Test("agents check for cancellation")
    func cancellation() async throws {
        var builder = DiffBuilder()
        for index in 0..<50 { builder.newFile("f\(index).py", ["r = eval(x)"]) }
        let input = ReviewInput(diff: try builder.parsed())
        let task = Task {
            try await ReviewAgents.agent(.security).review(input)
        }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}
