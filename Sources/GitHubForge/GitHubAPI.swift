import Foundation

// The endpoints AgentQueue uses, with request bodies shaped exactly as GitHub's OpenAPI description says (the tests'
// fake GitHub checks every body against the models generated from it).

/// A pull request's metadata.
public struct PullRequestInfo: Decodable, Sendable {
    /// The title.
    public let title: String?
    /// The author.
    public let user: User?
    /// The head.
    public let head: Head
    /// Whether it is a draft.
    public let draft: Bool?
    /// `open` or `closed`.
    public let state: String?

    /// A user.
    public struct User: Decodable, Sendable {
        /// The login.
        public let login: String
    }

    /// The head of a pull request.
    public struct Head: Decodable, Sendable {
        /// The head commit.
        public let sha: String
    }
}

/// A check run as GitHub returns it.
public struct CheckRunInfo: Decodable, Sendable {
    /// Its id.
    public let id: Int64
    /// Its page.
    public let htmlURL: String?
    /// `queued`, `in_progress` or `completed`.
    public let status: String?

    enum CodingKeys: String, CodingKey {
        case id, status
        case htmlURL = "html_url"
    }
}

/// An issue (or pull request conversation) comment.
public struct IssueCommentInfo: Decodable, Sendable {
    /// Its id.
    public let id: Int64
    /// Its text.
    public let body: String?
    /// Its page.
    public let htmlURL: String?

    enum CodingKeys: String, CodingKey {
        case id, body
        case htmlURL = "html_url"
    }
}

/// A pull request review.
public struct ReviewInfo: Decodable, Sendable {
    /// Its id.
    public let id: Int64
    /// Its text.
    public let body: String?
    /// Its page.
    public let htmlURL: String?
    /// The commit it reviewed.
    public let commitID: String?

    enum CodingKeys: String, CodingKey {
        case id, body
        case htmlURL = "html_url"
        case commitID = "commit_id"
    }
}

/// One annotation of a check run's output.
public struct CheckAnnotation: Encodable, Sendable, Hashable {
    /// The file.
    public let path: String
    /// The first line.
    public let startLine: Int
    /// The last line.
    public let endLine: Int
    /// `notice`, `warning` or `failure`.
    public let annotationLevel: String
    /// What is wrong.
    public let message: String
    /// A short title.
    public let title: String?

    /// Creates an annotation.
    public init(path: String, line: Int, level: String, message: String, title: String?) {
        self.path = path
        startLine = line
        endLine = line
        annotationLevel = level
        self.message = message
        self.title = title
    }

    enum CodingKeys: String, CodingKey {
        case path, message, title
        case startLine = "start_line"
        case endLine = "end_line"
        case annotationLevel = "annotation_level"
    }
}

/// A check run's output.
public struct CheckOutput: Encodable, Sendable {
    /// The title.
    public let title: String
    /// The Markdown summary.
    public let summary: String
    /// Up to 50 annotations per request.
    public let annotations: [CheckAnnotation]?

    /// Creates an output.
    public init(title: String, summary: String, annotations: [CheckAnnotation]? = nil) {
        self.title = title
        self.summary = summary
        self.annotations = annotations
    }
}

/// One inline comment of a review: on a line of the new side (`RIGHT`) of the diff.
public struct ReviewCommentDraft: Encodable, Sendable, Hashable {
    /// The file.
    public let path: String
    /// The line.
    public let line: Int
    /// `RIGHT` (the new side) or `LEFT`.
    public let side: String
    /// The text.
    public let body: String

    /// Creates a comment on a new-side line.
    public init(path: String, line: Int, body: String) {
        self.path = path
        self.line = line
        self.side = "RIGHT"
        self.body = body
    }
}

extension GitHubClient {
    /// The most entries one list request returns (GitHub's maximum page size).
    static let pageSize = 100
    /// The most pages read of one list.
    static let maximumPages = 20

    /// A pull request's metadata.
    public func pullRequest(repo: String, number: Int) async throws(GitHubError) -> PullRequestInfo {
        try await send("GET", "/repos/\(repo)/pulls/\(number)").decode(PullRequestInfo.self, what: "the pull request")
    }

    /// A pull request's unified diff, refused beyond `maximumBytes`.
    public func pullRequestDiff(repo: String, number: Int, maximumBytes: Int) async throws(GitHubError) -> [UInt8] {
        let response = try await send("GET", "/repos/\(repo)/pulls/\(number)", accept: "application/vnd.github.diff")
        guard response.body.count <= maximumBytes else {
            throw GitHubError(
                .unprocessable, status: response.status,
                "the diff of \(repo)#\(number) is \(response.body.count) bytes; the limit is \(maximumBytes)")
        }
        return [UInt8](response.body)
    }

    /// A file's text at a revision, or nil when it does not exist there.
    public func fileContents(repo: String, path: String, ref: String) async throws(GitHubError) -> String? {
        do {
            let response = try await send(
                "GET", "/repos/\(repo)/contents/\(path)", query: [URLQueryItem(name: "ref", value: ref)],
                accept: "application/vnd.github.raw")
            return String(decoding: response.body, as: UTF8.self)
        } catch  where error.kind == .notFound {
            return nil
        }
    }

    /// The check runs named `name` on a commit.
    public func checkRuns(repo: String, sha: String, name: String) async throws(GitHubError) -> [CheckRunInfo] {
        struct List: Decodable {
            let check_runs: [CheckRunInfo]
        }
        return try await send(
            "GET", "/repos/\(repo)/commits/\(sha)/check-runs",
            query: [URLQueryItem(name: "check_name", value: name), URLQueryItem(name: "filter", value: "latest")]
        ).decode(List.self, what: "the check run list").check_runs
    }

    /// Creates a check run that is in progress.
    public func createCheckRun(repo: String, name: String, sha: String, output: CheckOutput, detailsURL: String?)
        async throws(GitHubError) -> CheckRunInfo
    {
        struct Body: Encodable, Sendable {
            let name: String
            let head_sha: String
            let status: String
            let output: CheckOutput
            let details_url: String?
        }
        return try await send(
            "POST", "/repos/\(repo)/check-runs",
            body: Body(name: name, head_sha: sha, status: "in_progress", output: output, details_url: detailsURL)
        ).decode(CheckRunInfo.self, what: "the new check run")
    }

    /// Updates a check run: more annotations while in progress, or its completion (`conclusion` given).
    public func updateCheckRun(repo: String, id: Int64, conclusion: String?, output: CheckOutput)
        async throws(GitHubError) -> CheckRunInfo
    {
        struct Body: Encodable, Sendable {
            let status: String?
            let conclusion: String?
            let output: CheckOutput
        }
        return try await send(
            "PATCH", "/repos/\(repo)/check-runs/\(id)",
            body: Body(status: conclusion == nil ? nil : "completed", conclusion: conclusion, output: output)
        ).decode(CheckRunInfo.self, what: "the updated check run")
    }

    /// Sets a commit status (what a token can post instead of a check run).
    public func createStatus(repo: String, sha: String, state: String, description: String, context: String)
        async throws(GitHubError)
    {
        struct Body: Encodable, Sendable {
            let state: String
            let description: String
            let context: String
        }
        _ = try await send(
            "POST", "/repos/\(repo)/statuses/\(sha)",
            body: Body(state: state, description: String(description.prefix(140)), context: context))
    }

    /// Every comment of a pull request's conversation (up to ``maximumPages`` pages).
    public func issueComments(repo: String, number: Int) async throws(GitHubError) -> [IssueCommentInfo] {
        try await pages("/repos/\(repo)/issues/\(number)/comments", what: "the comment list")
    }

    /// Comments on a pull request's conversation.
    public func createIssueComment(repo: String, number: Int, body: String) async throws(GitHubError)
        -> IssueCommentInfo
    {
        struct Body: Encodable, Sendable { let body: String }
        return try await send("POST", "/repos/\(repo)/issues/\(number)/comments", body: Body(body: body))
            .decode(IssueCommentInfo.self, what: "the new comment")
    }

    /// Rewrites a comment.
    public func updateIssueComment(repo: String, id: Int64, body: String) async throws(GitHubError)
        -> IssueCommentInfo
    {
        struct Body: Encodable, Sendable { let body: String }
        return try await send("PATCH", "/repos/\(repo)/issues/comments/\(id)", body: Body(body: body))
            .decode(IssueCommentInfo.self, what: "the updated comment")
    }

    /// Every review of a pull request (up to ``maximumPages`` pages).
    public func reviews(repo: String, number: Int) async throws(GitHubError) -> [ReviewInfo] {
        try await pages("/repos/\(repo)/pulls/\(number)/reviews", what: "the review list")
    }

    /// Submits a review with inline comments (`event`: `COMMENT` or `REQUEST_CHANGES`).
    public func createReview(
        repo: String, number: Int, commit: String, body: String, event: String, comments: [ReviewCommentDraft]
    ) async throws(GitHubError) -> ReviewInfo {
        struct Body: Encodable, Sendable {
            let commit_id: String
            let body: String
            let event: String
            let comments: [ReviewCommentDraft]
        }
        return try await send(
            "POST", "/repos/\(repo)/pulls/\(number)/reviews",
            body: Body(commit_id: commit, body: body, event: event, comments: comments)
        ).decode(ReviewInfo.self, what: "the new review")
    }

    func pages<T: Decodable & Sendable>(_ path: String, what: String) async throws(GitHubError) -> [T] {
        var all: [T] = []
        for page in 1...Self.maximumPages {
            let batch = try await send(
                "GET", path,
                query: [
                    URLQueryItem(name: "per_page", value: "\(Self.pageSize)"),
                    URLQueryItem(name: "page", value: "\(page)"),
                ]
            ).decode([T].self, what: what)
            all += batch
            if batch.count < Self.pageSize { break }
        }
        return all
    }
}

extension GitHubClient {
    /// The annotations already posted to a check run, as `path:line:title:message` keys.
    public func checkRunAnnotations(repo: String, id: Int64) async throws(GitHubError) -> Set<String> {
        struct Annotation: Decodable, Sendable {
            let path: String
            let start_line: Int
            let title: String?
            let message: String?
        }
        let all: [Annotation] = try await pages("/repos/\(repo)/check-runs/\(id)/annotations", what: "the annotations")
        return Set(all.map { "\($0.path):\($0.start_line):\($0.title ?? ""):\($0.message ?? "")" })
    }
}
