public import PostgresClient
public import ReviewAgents
public import TaskQueue

/// A finished review as the analytics tables record it: what `record_review(...)` writes into `review_history`,
/// `findings`, `agent_performance` and `pull_requests`.
public struct ReviewRecord: Encodable, Sendable {
    /// The pull request's URL, when known.
    public var prURL: String?
    /// `owner/name`.
    public var repo: String?
    /// The pull request number.
    public var prNumber: Int?
    /// The pull request title.
    public var title: String?
    /// The pull request author.
    public var author: String?
    /// The head commit reviewed.
    public var headSHA: String?
    /// The verdict's Markdown summary.
    public var summary: String
    /// The verdict.
    public var verdictStatus: Verdict.Status
    /// Findings per agent (`security`, `scale`, `quality`, `architecture`).
    public var counts: [String: Int]
    /// Wall time of the whole review.
    public var executionTimeMilliseconds: Double
    /// Every finding.
    public var findings: [Finding]
    /// How each agent did.
    public var agents: [AgentRun]
    /// What was posted to the pull request.
    public var publications: [PublicationRecord] = []

    /// Creates a record.
    public init(
        prURL: String?, repo: String?, prNumber: Int?, title: String?, author: String?, headSHA: String?,
        summary: String, verdictStatus: Verdict.Status, counts: [String: Int], executionTimeMilliseconds: Double,
        findings: [Finding], agents: [AgentRun]
    ) {
        self.prURL = prURL
        self.repo = repo
        self.prNumber = prNumber
        self.title = title
        self.author = author
        self.headSHA = headSHA
        self.summary = summary
        self.verdictStatus = verdictStatus
        self.counts = counts
        self.executionTimeMilliseconds = executionTimeMilliseconds
        self.findings = findings
        self.agents = agents
    }

    enum CodingKeys: String, CodingKey {
        case repo, title, author, summary, counts, findings, agents, publications
        case prURL = "pr_url"
        case prNumber = "pr_number"
        case headSHA = "head_sha"
        case verdictStatus = "verdict_status"
        case executionTimeMilliseconds = "execution_time_ms"
    }
}

/// One thing a review posted to its pull request, as `publications` records it.
public struct PublicationRecord: Codable, Sendable, Hashable {
    /// `check_run`, `commit_status`, `summary_comment`, `review`, `review_comment` or `error`.
    public var kind: String
    /// GitHub's id of it.
    public var githubID: Int64?
    /// Its page.
    public var url: String?
    /// For an inline comment: the finding's fingerprint.
    public var fingerprint: String?
    /// For an error: what went wrong.
    public var detail: String?

    /// Creates a record.
    public init(
        kind: String, githubID: Int64? = nil, url: String? = nil, fingerprint: String? = nil, detail: String? = nil
    ) {
        self.kind = kind
        self.githubID = githubID
        self.url = url
        self.fingerprint = fingerprint
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case kind, url, fingerprint, detail
        case githubID = "github_id"
    }
}

/// `record_review(...)`: writes a review's rows, fenced by the task's lease (database/functions/record_review.sql).
/// Returns the review's id, or `nil` when the lease is not held (nothing was written).
public struct RecordReview: PostgresStatement {
    /// The task's lease.
    public let lease: Lease
    /// The review.
    public let review: PostgresJSON

    /// Creates the statement for a review.
    public init(lease: Lease, review: ReviewRecord) throws {
        self.lease = lease
        self.review = try PostgresJSON(encoding: review)
    }

    public var query: PostgresQuery {
        PostgresQuery(
            "SELECT record_review(\(lease.taskID), \(lease.token)::uuid, \(review)::jsonb) AS review_id"
        ).preparedStatement()
    }

    public func decode(_ rows: PostgresRows) throws -> Int64? {
        try rows.single?.decode(Int64?.self, "review_id")
    }
}

/// A review's rows in the task's finish transaction (``QueueClient/finish(_:records:)``): with analytics on, the
/// review is recorded (``RecordReview``) and its id goes into the task's result; off, only the result is stored.
public struct ReviewRecords: TaskRecords {
    /// The review.
    public let record: ReviewRecord
    /// Whether to write the analytics tables.
    public let analytics: Bool
    /// The task's result, given the review's id (`nil` with analytics off).
    public let result: @Sendable (Int64?) throws -> PostgresJSON

    /// Creates the records.
    public init(record: ReviewRecord, analytics: Bool, result: @escaping @Sendable (Int64?) throws -> PostgresJSON) {
        self.record = record
        self.analytics = analytics
        self.result = result
    }

    public func write(for lease: Lease, on connection: PostgresConnection) async throws -> PostgresJSON? {
        guard analytics else { return try result(nil) }
        guard let reviewID = try await connection.run(RecordReview(lease: lease, review: record)) else {
            // The finish transaction locked the lease first: this cannot happen unless that check was skipped.
            throw PostgresError.unexpectedResult("record_review found the lease of task \(lease.taskID) gone")
        }
        return try result(reviewID)
    }
}
