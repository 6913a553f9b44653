public import PostgresClient

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// The findings of a pull request's latest recorded review of another head commit: what a new review compares itself
/// with ("new", "still open", "fixed since the last review").
public struct PreviousReviewFindings: PostgresStatement {
    /// `owner/name`.
    public let repo: String
    /// The pull request.
    public let number: Int
    /// The head commit being reviewed now (its own earlier reviews do not count).
    public let headSHA: String

    /// Creates the statement.
    public init(repo: String, number: Int, headSHA: String) {
        self.repo = repo
        self.number = number
        self.headSHA = headSHA
    }

    /// The earlier review and its findings.
    public struct Result: Sendable {
        /// The head commit it reviewed.
        public let headSHA: String?
        /// Its findings by fingerprint: rule, severity, path and line.
        public let findings: [String: (rule: String, severity: String, path: String, line: Int?)]
    }

    public var query: PostgresQuery {
        """
        WITH previous AS (
            SELECT r.id, r.head_sha FROM review_history r
            WHERE r.repo = \(repo) AND r.pr_number = \(number)::integer AND r.head_sha IS DISTINCT FROM \(headSHA)
            ORDER BY r.reviewed_at DESC, r.id DESC LIMIT 1
        )
        SELECT p.head_sha, f.fingerprint, f.rule_id, f.severity, f.path, f.line
        FROM previous p LEFT JOIN findings f ON f.review_id = p.id
        """
    }

    public func decode(_ rows: PostgresRows) throws -> Result? {
        guard let first = rows.first else { return nil }
        var findings: [String: (rule: String, severity: String, path: String, line: Int?)] = [:]
        for row in rows where !row.isNull("fingerprint") {
            findings[try row.decode(String.self, "fingerprint")] = (
                try row.decode(String.self, "rule_id"), try row.decode(String.self, "severity"),
                try row.decode(String.self, "path"), try row.decode(Int?.self, "line")
            )
        }
        return Result(headSHA: try first.decode(String?.self, "head_sha"), findings: findings)
    }
}

/// The fingerprints of findings already commented on inline in a pull request, by any earlier review.
public struct CommentedFingerprints: PostgresStatement {
    /// `owner/name`.
    public let repo: String
    /// The pull request.
    public let number: Int

    /// Creates the statement.
    public init(repo: String, number: Int) {
        self.repo = repo
        self.number = number
    }

    public var query: PostgresQuery {
        """
        SELECT DISTINCT fingerprint FROM publications
        WHERE repo = \(repo) AND pr_number = \(number)::integer AND kind = 'review_comment' AND fingerprint IS NOT NULL
        """
    }

    public func decode(_ rows: PostgresRows) throws -> Set<String> {
        Set(try rows.map { try $0.decode(String.self, "fingerprint") })
    }
}

/// What a task's review posted to its pull request (for `queuectl show`).
public struct ListPublications: PostgresStatement {
    /// The task.
    public let taskID: Int64

    /// Creates the statement.
    public init(taskID: Int64) {
        self.taskID = taskID
    }

    /// One thing posted.
    public struct Publication: Encodable, Sendable {
        /// `check_run`, `commit_status`, `summary_comment`, `review`, `review_comment` or `error`.
        public let kind: String
        /// GitHub's id of it.
        public let githubID: Int64?
        /// Its page.
        public let url: String?
        /// For an inline comment: the finding's fingerprint.
        public let fingerprint: String?
        /// For an error: what went wrong.
        public let detail: String?
        /// When it was recorded.
        public let createdAt: Date

        enum CodingKeys: String, CodingKey {
            case kind, url, fingerprint, detail
            case githubID = "github_id"
            case createdAt = "created_at"
        }
    }

    public var query: PostgresQuery {
        """
        SELECT kind, github_id, url, fingerprint, detail, created_at FROM publications
        WHERE task_id = \(taskID) ORDER BY id
        """
    }

    public func decode(_ rows: PostgresRows) throws -> [Publication] {
        try rows.map { row in
            Publication(
                kind: try row.decode(String.self, "kind"), githubID: try row.decode(Int64?.self, "github_id"),
                url: try row.decode(String?.self, "url"), fingerprint: try row.decode(String?.self, "fingerprint"),
                detail: try row.decode(String?.self, "detail"), createdAt: try row.decode(Date.self, "created_at"))
        }
    }
}
