import Foundation
public import GitHubForge
public import ReviewAgents
public import ReviewStore

/// What a review posts to its pull request, as text: pure functions, tested without GitHub.
///
/// Every text AgentQueue posts carries a hidden marker, so that a resumed or repeated publish finds what it posted
/// before instead of posting it again: the summary comment's marker is the same for every push (it is updated in
/// place), a review's names the head commit.
public enum PublishRendering {
    /// The check run's name (and the commit status's context).
    public static let checkName = "AgentQueue"
    /// The hidden marker of the summary comment.
    public static let summaryMarker = "<!-- agentqueue:summary -->"

    /// The hidden marker of the review of `headSHA`.
    public static func reviewMarker(headSHA: String) -> String {
        "<!-- agentqueue:review \(headSHA) -->"
    }

    /// The check run's title, e.g. `changes requested: 2 high, 1 medium`.
    public static func title(_ verdict: Verdict) -> String {
        let counts = [Severity.critical, .high, .medium, .low, .info].compactMap { severity -> String? in
            let count = verdict.totals[severity]
            return count > 0 ? "\(count) \(severity.rawValue)" : nil
        }
        return verdict.status.title + (counts.isEmpty ? "" : ": " + counts.joined(separator: ", "))
    }

    /// The annotation of every finding that has a line (most severe first): failure for critical and high, warning
    /// for medium, notice below.
    public static func annotations(_ findings: [Finding]) -> [CheckAnnotation] {
        findings.sorted(by: Finding.reportOrder).compactMap { finding in
            guard let line = finding.line else { return nil }
            let level: String
            switch finding.severity {
            case .critical, .high: level = "failure"
            case .medium: level = "warning"
            case .low, .info: level = "notice"
            }
            var message = finding.message
            if let suggestion = finding.suggestion { message += "\n\nSuggestion: " + suggestion }
            return CheckAnnotation(
                path: finding.path, line: line, level: level, message: String(message.prefix(60_000)),
                title: String("\(finding.severity.rawValue) · \(finding.ruleId)".prefix(255)))
        }
    }

    /// The new-side lines of the diff, per file: where an inline comment may go.
    public static func commentableLines(_ diff: ParsedDiff) -> [String: Set<Int>] {
        var lines: [String: Set<Int>] = [:]
        for file in diff.files {
            guard let path = file.newPath else { continue }
            for hunk in file.hunks {
                for line in hunk.lines where line.kind != .removed {
                    if let number = line.newLine { lines[path, default: []].insert(number) }
                }
            }
        }
        return lines
    }

    /// The inline comments of a review: findings at or above `minimum` on a new-side line of the diff, not commented
    /// on by an earlier review of the pull request (same fingerprint), most severe first, at most `limit`.
    public static func inlineComments(
        _ findings: [Finding], diff: ParsedDiff, minimum: Severity, alreadyCommented: Set<String>, limit: Int = 50
    ) -> [(finding: Finding, comment: ReviewCommentDraft)] {
        let lines = commentableLines(diff)
        var seen: Set<String> = []
        return findings.sorted(by: Finding.reportOrder).compactMap { finding in
            guard finding.severity <= minimum, let line = finding.line, lines[finding.path]?.contains(line) == true,
                !alreadyCommented.contains(finding.fingerprint), seen.insert(finding.fingerprint).inserted
            else { return nil }
            var body = "**\(finding.severity.rawValue)** · `\(finding.ruleId)` (\(finding.agent.rawValue))\n\n"
            body += finding.message
            if let suggestion = finding.suggestion { body += "\n\n**Suggestion:** " + suggestion }
            return (finding, ReviewCommentDraft(path: finding.path, line: line, body: body))
        }.prefix(limit).map { $0 }
    }

    /// The body of the review that carries the inline comments.
    public static func reviewBody(_ verdict: Verdict, headSHA: String, comments: Int) -> String {
        """
        \(reviewMarker(headSHA: headSHA))
        **AgentQueue** reviewed `\(headSHA.prefix(12))`: \(verdict.status.title). \
        \(comments) finding\(comments == 1 ? "" : "s") commented on below; the summary comment lists every finding.
        """
    }

    /// The summary comment: the verdict, what changed since the pull request's previous review (new, still open,
    /// fixed), and every finding.
    public static func summaryComment(
        _ verdict: Verdict, findings: [Finding], headSHA: String, previous: PreviousReviewFindings.Result?
    ) -> String {
        var text = summaryMarker + "\n"
        text += "### AgentQueue: \(verdict.status.title) at `\(headSHA.prefix(12))`\n\n"
        if let previous {
            let now = Set(findings.map(\.fingerprint))
            let before = Set(previous.findings.keys)
            let fixed = before.subtracting(now).sorted()
            let new = now.subtracting(before).count
            let open = now.intersection(before).count
            text += "Since the previous review (`\((previous.headSHA ?? "?").prefix(12))`): \(new) new · \(open) still "
            text += "open · \(fixed.count) fixed\n"
            for fingerprint in fixed.prefix(20) {
                if let old = previous.findings[fingerprint] {
                    text += "- fixed: `\(old.path)\(old.line.map { ":\($0)" } ?? "")` \(old.rule) (\(old.severity))\n"
                }
            }
            if fixed.count > 20 { text += "- … and \(fixed.count - 20) more fixed\n" }
            text += "\n"
        }
        text += verdict.summary.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
        if !findings.isEmpty {
            text += "\n<details><summary>All \(findings.count) finding\(findings.count == 1 ? "" : "s")</summary>\n\n"
            text += "| severity | rule | where | message |\n|---|---|---|---|\n"
            for finding in findings.sorted(by: Finding.reportOrder).prefix(500) {
                let location = finding.path + (finding.line.map { ":\($0)" } ?? "")
                text +=
                    "| \(finding.severity.rawValue) | `\(finding.ruleId)` | `\(cell(location))` | \(cell(finding.message)) |\n"
            }
            if findings.count > 500 { text += "\n… and \(findings.count - 500) more.\n" }
            text += "\n</details>\n"
        }
        return String(text.prefix(65_000))
    }

    /// Text for a Markdown table cell: one line, no pipes.
    static func cell(_ text: String) -> String {
        String(text.split(whereSeparator: \.isNewline).joined(separator: " ").replacing("|", with: "\\|").prefix(300))
    }
}
