public import DiffSources
public import ReviewAgents
public import ReviewStore
import TaskQueue

/// What a `review` task reviews: the payload of the task.
///
/// JSON: `{"source": {"diff": "…"} | {"git": {"path": "…", "base": "…", "head": "…"}} | {"pr_url": "…"},
/// "repo": "owner/name", "pr_number": 12, "title": "…", "author": "…", "head_sha": "…", "pr_url": "…"}`;
/// everything but `source` is optional.
public struct ReviewRequest: Codable, Sendable, Hashable {
    /// Where the diff comes from.
    public typealias Source = DiffSource

    /// Where the diff comes from.
    public var source: Source
    /// `owner/name`.
    public var repo: String?
    /// The pull request number.
    public var prNumber: Int?
    /// The pull request title.
    public var title: String?
    /// The pull request author.
    public var author: String?
    /// The head commit reviewed (part of the dedupe key).
    public var headSHA: String?
    /// The pull request URL.
    public var prURL: String?
    /// Where the review is published, when it should be: set by queue-webhook (or `queuectl enqueue review
    /// --publish`) for a GitHub pull request.
    public var publish: PublishTarget?

    /// How a review reaches its pull request.
    public struct PublishTarget: Codable, Sendable, Hashable {
        /// The GitHub App installation the delivery came through (its token posts check runs); nil: `GITHUB_TOKEN`.
        public var installationID: Int?
        /// Whether the pull request was a draft when the delivery was sent.
        public var draft: Bool?

        /// Creates a target.
        public init(installationID: Int? = nil, draft: Bool? = nil) {
            self.installationID = installationID
            self.draft = draft
        }

        enum CodingKeys: String, CodingKey {
            case draft
            case installationID = "installation_id"
        }
    }

    /// Creates a request.
    public init(
        source: Source,
        repo: String? = nil,
        prNumber: Int? = nil,
        title: String? = nil,
        author: String? = nil,
        headSHA: String? = nil,
        prURL: String? = nil,
        publish: PublishTarget? = nil
    ) {
        self.source = source
        self.repo = repo
        self.prNumber = prNumber
        self.title = title
        self.author = author
        self.headSHA = headSHA
        self.prURL = prURL
        self.publish = publish
    }

    enum CodingKeys: String, CodingKey {
        case source, repo, title, author, publish
        case prNumber = "pr_number"
        case headSHA = "head_sha"
        case prURL = "pr_url"
    }

    enum SourceKeys: String, CodingKey {
        case diff, git
        case prURL = "pr_url"
    }

    struct GitRange: Codable {
        var path: String
        var base: String
        var head: String
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let source = try container.nestedContainer(keyedBy: SourceKeys.self, forKey: .source)
        let present = [source.contains(.diff), source.contains(.git), source.contains(.prURL)].filter { $0 }.count
        guard present == 1 else {
            throw DecodingError.dataCorruptedError(
                forKey: .source, in: container,
                debugDescription: "source must have exactly one of diff, git or pr_url"
            )
        }
        if source.contains(.diff) {
            self.source = .diff(try source.decode(String.self, forKey: .diff))
        } else if source.contains(.git) {
            let range = try source.decode(GitRange.self, forKey: .git)
            self.source = .git(path: range.path, base: range.base, head: range.head)
        } else {
            self.source = .pullRequest(url: try source.decode(String.self, forKey: .prURL))
        }
        repo = try container.decodeIfPresent(String.self, forKey: .repo)
        prNumber = try container.decodeIfPresent(Int.self, forKey: .prNumber)
        title = try container.decodeIfPresent(String.self, forKey: .title)
        author = try container.decodeIfPresent(String.self, forKey: .author)
        headSHA = try container.decodeIfPresent(String.self, forKey: .headSHA)
        prURL = try container.decodeIfPresent(String.self, forKey: .prURL)
        publish = try container.decodeIfPresent(PublishTarget.self, forKey: .publish)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        var source = container.nestedContainer(keyedBy: SourceKeys.self, forKey: .source)
        switch self.source {
        case .diff(let text): try source.encode(text, forKey: .diff)
        case .git(let path, let base, let head):
            try source.encode(GitRange(path: path, base: base, head: head), forKey: .git)
        case .pullRequest(let url): try source.encode(url, forKey: .prURL)
        }
        try container.encodeIfPresent(repo, forKey: .repo)
        try container.encodeIfPresent(prNumber, forKey: .prNumber)
        try container.encodeIfPresent(title, forKey: .title)
        try container.encodeIfPresent(author, forKey: .author)
        try container.encodeIfPresent(headSHA, forKey: .headSHA)
        try container.encodeIfPresent(prURL, forKey: .prURL)
        try container.encodeIfPresent(publish, forKey: .publish)
    }

    /// Why the request cannot be stored or reviewed, or `nil`: a pull request number PostgreSQL's `integer` cannot
    /// hold, or a title, author, repository or head commit with control characters (which `queuectl` would otherwise
    /// print to an operator's terminal). The CLI checks it before enqueueing; the worker fails such a task at once.
    public var problem: String? {
        if let prNumber, !(1...Int(Int32.max)).contains(prNumber) {
            return "pr_number must be between 1 and \(Int32.max) (got \(prNumber))"
        }
        for (name, value) in [("title", title), ("author", author), ("repo", repo), ("head_sha", headSHA)] {
            if let value, let problem = TaskValidation.controlCharacterProblem(value, name: name) { return problem }
        }
        return nil
    }

    /// The dedupe key of a review of a pull request at a head commit, `review:owner/name#12@sha`, when all three
    /// are known.
    public var dedupeKey: String? {
        guard let repo, let prNumber, let headSHA else { return nil }
        return "review:\(repo)#\(prNumber)@\(headSHA)"
    }
}

/// A finished review: the `result` of a succeeded `review` task, and what `review_history` records.
///
/// JSON (version 1): `{"version": 1, "verdict_status": "…", "summary": "markdown", "counts": {"security": n,
/// "scale": n, "quality": n, "architecture": n}, "findings": [...], "agents": [...], "execution_time_ms": n,
/// "review_id": n | null}`.
public struct ReviewResult: Codable, Sendable, Hashable {
    /// The schema version of this document.
    public var version: Int = 1
    /// The verdict.
    public var verdictStatus: Verdict.Status
    /// A short Markdown summary (counts per agent, the most important findings with file:line).
    public var summary: String
    /// Findings per agent.
    public var counts: [String: Int]
    /// Every finding.
    public var findings: [Finding]
    /// Per-agent timings.
    public var agents: [AgentRun]
    /// Wall time of the whole review.
    public var executionTimeMilliseconds: Double
    /// The `review_history` row, when analytics are enabled.
    public var reviewID: Int64?

    /// Creates a result.
    public init(
        verdictStatus: Verdict.Status, summary: String, counts: [String: Int], findings: [Finding],
        agents: [AgentRun], executionTimeMilliseconds: Double, reviewID: Int64? = nil
    ) {
        self.verdictStatus = verdictStatus
        self.summary = summary
        self.counts = counts
        self.findings = findings
        self.agents = agents
        self.executionTimeMilliseconds = executionTimeMilliseconds
        self.reviewID = reviewID
    }

    enum CodingKeys: String, CodingKey {
        case version, summary, counts, findings, agents
        case verdictStatus = "verdict_status"
        case executionTimeMilliseconds = "execution_time_ms"
        case reviewID = "review_id"
    }
}
