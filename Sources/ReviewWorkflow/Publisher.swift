import Foundation
import GitHubForge
import Logging
import ReviewAgents
import ReviewStore
import TaskQueue

/// Posts a review to its pull request: the check run (or, with a token, a commit status), the summary comment and a
/// review with inline comments. Every step first looks for what an earlier run of the same step posted (a check run
/// of the same name on the commit, the summary comment's marker, the review's marker), so a task resumed after a
/// crash never posts twice.
struct Publisher: Sendable {
    let client: GitHubClient
    let repo: String
    let number: Int
    let headSHA: String
    let logger: Logger

    /// Whether check runs can be posted (a GitHub App's installation token); otherwise a commit status.
    var usesCheckRuns: Bool { client.credentials.actsAsApp(installation: client.installation) }

    /// What the start of a review posted.
    struct Start: Codable, Sendable {
        var checkRunID: Int64?
        var checkRunURL: String?

        enum CodingKeys: String, CodingKey {
            case checkRunID = "check_run_id"
            case checkRunURL = "check_run_url"
        }
    }

    /// Marks the review as started: an in-progress check run (found again when one exists), or a pending status.
    func start() async throws -> Start {
        try await retrying("starting the check") {
            if usesCheckRuns {
                var run = try await client.checkRuns(repo: repo, sha: headSHA, name: PublishRendering.checkName).first
                if run == nil {
                    run = try await client.createCheckRun(
                        repo: repo, name: PublishRendering.checkName, sha: headSHA,
                        output: CheckOutput(title: "reviewing", summary: "AgentQueue is reviewing this commit."),
                        detailsURL: nil)
                }
                return Start(checkRunID: run?.id, checkRunURL: run?.htmlURL)
            }
            try await client.createStatus(
                repo: repo, sha: headSHA, state: "pending", description: "AgentQueue is reviewing",
                context: PublishRendering.checkName)
            return Start()
        }
    }

    /// Posts the finished review and returns what was posted (and what could not be, as `error` records).
    func finish(
        verdict: Verdict, findings: [Finding], diff: ParsedDiff, settings: RepositoryConfiguration.PullRequestSettings,
        previous: PreviousReviewFindings.Result?, alreadyCommented: Set<String>, start: Start
    ) async throws -> [PublicationRecord] {
        var records: [PublicationRecord] = []
        // Each part stands alone: one GitHub refuses for good (a permission, a 422) is recorded and the others go on.
        func part(_ what: String, _ body: () async throws -> [PublicationRecord]) async throws {
            do {
                records += try await body()
            } catch let error as GitHubError where !error.isRetryable {
                logger.warning("publishing failed", metadata: ["part": "\(what)", "error": "\(error)"])
                records.append(PublicationRecord(kind: "error", detail: "\(what): \(error.description)"))
            }
        }
        try await part("check") {
            try await completeCheck(verdict: verdict, findings: findings, settings: settings, start: start)
        }
        try await part("summary comment") {
            [try await upsertSummary(verdict: verdict, findings: findings, previous: previous)]
        }
        try await part("review") {
            try await postReview(
                verdict: verdict, findings: findings, diff: diff, settings: settings, alreadyCommented: alreadyCommented
            )
        }
        return records
    }

    /// Ends an interrupted review's check (superseded by a newer push, or cancelled): best effort.
    func cancel(reason: String) async {
        do {
            if usesCheckRuns {
                for run in try await client.checkRuns(repo: repo, sha: headSHA, name: PublishRendering.checkName)
                where run.status != "completed" {
                    _ = try await client.updateCheckRun(
                        repo: repo, id: run.id, conclusion: "cancelled",
                        output: CheckOutput(title: "cancelled", summary: reason))
                }
            } else {
                try await client.createStatus(
                    repo: repo, sha: headSHA, state: "error", description: reason, context: PublishRendering.checkName)
            }
        } catch {
            logger.notice("could not mark the check cancelled", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Parts

    private func completeCheck(
        verdict: Verdict, findings: [Finding], settings: RepositoryConfiguration.PullRequestSettings, start: Start
    ) async throws -> [PublicationRecord] {
        let title = PublishRendering.title(verdict)
        let conclusion = settings.conclusion(for: verdict.status)
        guard usesCheckRuns else {
            try await retrying("posting the commit status") {
                try await client.createStatus(
                    repo: repo, sha: headSHA, state: conclusion == "failure" ? "failure" : "success",
                    description: "AgentQueue: " + title, context: PublishRendering.checkName)
            }
            return [PublicationRecord(kind: "commit_status", detail: conclusion)]
        }
        let summary = String(verdict.summary.prefix(65_000))
        let id = try await retrying("finding the check run") { () async throws -> Int64 in
            if let id = start.checkRunID { return id }
            if let found = try await client.checkRuns(repo: repo, sha: headSHA, name: PublishRendering.checkName).first
            {
                return found.id
            }
            return try await client.createCheckRun(
                repo: repo, name: PublishRendering.checkName, sha: headSHA,
                output: CheckOutput(title: title, summary: summary), detailsURL: nil
            ).id
        }
        // Annotations go 50 per request (GitHub's limit), appended by each update. Before each request the run's
        // annotations are read again, so that none is posted twice: not those an interrupted earlier run posted, nor
        // those of a request GitHub carried out but answered with an error.
        let annotations = PublishRendering.annotations(findings)
        var batches = stride(from: 0, to: annotations.count, by: 50).map {
            Array(annotations[$0..<min($0 + 50, annotations.count)])
        }
        if batches.isEmpty { batches = [[]] }
        var run: CheckRunInfo?
        for (index, batch) in batches.enumerated() {
            let completes = index == batches.count - 1
            run =
                try await retrying(completes ? "completing the check run" : "adding annotations") {
                    let posted = batch.isEmpty ? [] : try await client.checkRunAnnotations(repo: repo, id: id)
                    let fresh = batch.filter { !posted.contains($0.key) }
                    guard !fresh.isEmpty || completes else { return nil }
                    return try await client.updateCheckRun(
                        repo: repo, id: id, conclusion: completes ? conclusion : nil,
                        output: CheckOutput(title: title, summary: summary, annotations: fresh.isEmpty ? nil : fresh))
                } ?? run
        }
        return [PublicationRecord(kind: "check_run", githubID: id, url: run?.htmlURL ?? start.checkRunURL)]
    }

    private func upsertSummary(verdict: Verdict, findings: [Finding], previous: PreviousReviewFindings.Result?)
        async throws -> PublicationRecord
    {
        let body = PublishRendering.summaryComment(
            verdict, findings: findings, headSHA: headSHA, previous: previous)
        let comment = try await retrying("posting the summary comment") { () async throws -> IssueCommentInfo in
            let existing = try await client.issueComments(repo: repo, number: number).last {
                $0.body?.contains(PublishRendering.summaryMarker) == true
            }
            if let existing {
                return try await client.updateIssueComment(repo: repo, id: existing.id, body: body)
            }
            return try await client.createIssueComment(repo: repo, number: number, body: body)
        }
        return PublicationRecord(kind: "summary_comment", githubID: comment.id, url: comment.htmlURL)
    }

    private func postReview(
        verdict: Verdict, findings: [Finding], diff: ParsedDiff, settings: RepositoryConfiguration.PullRequestSettings,
        alreadyCommented: Set<String>
    ) async throws -> [PublicationRecord] {
        let comments = PublishRendering.inlineComments(
            findings, diff: diff, minimum: settings.commentSeverity, alreadyCommented: alreadyCommented)
        let event = settings.requestChanges && verdict.status == .changesRequested ? "REQUEST_CHANGES" : "COMMENT"
        guard !comments.isEmpty || event == "REQUEST_CHANGES" else { return [] }
        let marker = PublishRendering.reviewMarker(headSHA: headSHA)
        func existing() async throws -> ReviewInfo? {
            try await client.reviews(repo: repo, number: number).first { $0.body?.contains(marker) == true }
        }
        let body = PublishRendering.reviewBody(verdict, headSHA: headSHA, comments: comments.count)
        var refused: GitHubError?
        let review = try await retrying("posting the review") { () async throws -> ReviewInfo in
            if let found = try await existing() { return found }
            do {
                return try await client.createReview(
                    repo: repo, number: number, commit: headSHA, body: body, event: event,
                    comments: comments.map(\.comment))
            } catch let error as GitHubError where error.kind == .unprocessable {
                // GitHub refuses the whole review when one comment's line is not in its diff; it may have kept the
                // review anyway. Then post it once more without inline comments, listing them in its body.
                refused = error
                if let found = try await existing() { return found }
                let listed = comments.map { "- `\($0.comment.path):\($0.comment.line)` \($0.finding.message)" }
                return try await client.createReview(
                    repo: repo, number: number, commit: headSHA,
                    body: body + "\n\n" + listed.joined(separator: "\n"), event: event, comments: [])
            }
        }
        var records = [PublicationRecord(kind: "review", githubID: review.id, url: review.htmlURL)]
        if let refused {
            records.append(PublicationRecord(kind: "error", detail: "inline comments: \(refused.description)"))
        } else {
            records += comments.map {
                PublicationRecord(
                    kind: "review_comment", githubID: review.id, url: review.htmlURL,
                    fingerprint: $0.finding.fingerprint)
            }
        }
        return records
    }

    /// Runs a GitHub call, waiting out short rate limits and 5xx answers in place (a few times). A longer rate limit
    /// fails the step as an interruption (retried later without spending the task's attempt); a lasting outage or 5xx
    /// as a retryable failure (the queue's retry, with backoff). The review stays checkpointed either way.
    private func retrying<T: Sendable>(_ what: String, _ body: () async throws -> T) async throws -> T {
        var tries = 0
        while true {
            do {
                return try await body()
            } catch let error as GitHubError where error.isRetryable {
                tries += 1
                let wait = error.retryAfter ?? .seconds(1 << min(tries, 4))
                guard tries < 4, wait <= .seconds(30) else {
                    let message = "\(what): \(error.description)"
                    throw error.kind == .rateLimited ? TaskFailure.interrupted(message) : .retryable(message)
                }
                logger.notice("GitHub asked to wait", metadata: ["step": "\(what)", "wait": "\(wait)"])
                try await Task.sleep(for: wait)
            }
        }
    }
}

extension CheckAnnotation {
    /// What identifies an annotation already posted.
    var key: String { "\(path):\(startLine):\(title ?? ""):\(message)" }
}
