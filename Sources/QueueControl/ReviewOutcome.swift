import ArgumentParser
import ReviewAgents

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `--fail-on`: the severity from which a review's findings fail the command (exit 10), or `none`.
enum FailOnSeverity: String, ExpressibleByArgument, CaseIterable, Sendable {
    case critical, high, medium, low, none

    /// The threshold, or nil for `none`.
    var severity: Severity? {
        switch self {
        case .critical: .critical
        case .high: .high
        case .medium: .medium
        case .low: .low
        case .none: nil
        }
    }

    static let help = ArgumentHelp(
        "Exit 10 when a finding is at least this severe, 0 otherwise (none: 0 whatever the verdict); "
            + "without it the exit status is the verdict's (0, 5 or 6).",
        valueName: "severity"
    )
}

/// The exit status of a finished review, the same for `review` and `enqueue review --wait`: the verdict's (0
/// approved, 5 approved with comments, 6 changes requested) or, with `--fail-on`, 10 when a finding is at or
/// above the threshold and 0 otherwise. Nil means success (0).
func reviewExitCode(verdict: Verdict.Status, findings: [Finding], failOn: FailOnSeverity?) -> ExitCode? {
    guard let failOn else {
        switch verdict {
        case .approved: return nil
        case .approvedWithComments: return CLIExit.approvedWithComments
        case .changesRequested: return CLIExit.changesRequested
        }
    }
    guard let threshold = failOn.severity else { return nil }
    return findings.contains(where: { $0.severity <= threshold }) ? CLIExit.findingsAtThreshold : nil
}

/// The accepted findings of `review --baseline FILE`: the fingerprints of an earlier report, JSON
/// (`findings[].fingerprint`) or SARIF (`runs[].results[].partialFingerprints["agentqueue/v1"]`).
struct ReviewBaseline: Sendable {
    let path: String
    let fingerprints: Set<String>

    /// The largest baseline file read.
    static let maximumBytes = 64 * 1024 * 1024

    private struct JSONReport: Decodable {
        struct Entry: Decodable { let fingerprint: String }
        let findings: [Entry]?
        let runs: [Run]?
    }

    private struct Run: Decodable {
        struct Result: Decodable { let partialFingerprints: [String: String]? }
        let results: [Result]?
    }

    /// Reads and decodes `path`; anything else than a report of `queuectl review` is a usage error.
    static func read(_ path: String) throws(CLIFailure) -> ReviewBaseline {
        let bytes = try InputFile.read(path, what: "the baseline", limit: maximumBytes) { _ in
            "the baseline '\(path)' is larger than \(InputFile.megabytes(maximumBytes)): give a report of queuectl review"
        }
        let report: JSONReport
        do {
            report = try JSONDecoder().decode(JSONReport.self, from: Data(bytes))
        } catch {
            let reason = (error as? DecodingError).map(describe) ?? "not JSON"
            throw CLIFailure(
                "the baseline '\(path)' is not a JSON or SARIF report of queuectl review (\(reason))",
                exitCode: CLIExit.usage)
        }
        if let findings = report.findings {
            return ReviewBaseline(path: path, fingerprints: Set(findings.map(\.fingerprint)))
        }
        if let runs = report.runs {
            let fingerprints = runs.flatMap { $0.results ?? [] }.compactMap { $0.partialFingerprints?["agentqueue/v1"] }
            return ReviewBaseline(path: path, fingerprints: Set(fingerprints))
        }
        throw CLIFailure(
            "the baseline '\(path)' has neither \"findings\" (queuectl review --format json) nor \"runs\" (--format sarif)",
            exitCode: CLIExit.usage)
    }

    /// `findings` without the accepted ones, and how many were left out.
    func filter(_ findings: [Finding]) -> (kept: [Finding], accepted: Int) {
        let kept = findings.filter { !fingerprints.contains($0.fingerprint) }
        return (kept, findings.count - kept.count)
    }
}
