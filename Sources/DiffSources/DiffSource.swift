public import GitHubForge
public import ReviewAgents

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where a review's diff comes from: a unified diff given inline, a range of a local git repository, or a GitHub pull
/// request fetched through the REST API.
public enum DiffSource: Sendable, Hashable {
    /// A unified diff, inline.
    case diff(String)
    /// A range of a local git repository.
    case git(path: String, base: String, head: String)
    /// A GitHub pull request, fetched through the GitHub REST API.
    case pullRequest(url: String)
}

/// A fetched diff with what fetching learned: the repository's `.agentqueue.yml` (where it lives next to the diff)
/// and the pull request's metadata.
public struct FetchedDiff: Sendable {
    /// The diff's bytes.
    public var bytes: [UInt8]
    /// The text of `.agentqueue.yml` at the head revision, if found.
    public var configuration: String?
    /// The pull request's title, if learned.
    public var title: String?
    /// The pull request's author, if learned.
    public var author: String?
    /// The head commit, if learned.
    public var headSHA: String?
    /// Whether the pull request is a draft, if learned.
    public var draft: Bool?

    /// Creates a fetched diff.
    public init(
        bytes: [UInt8], configuration: String? = nil, title: String? = nil, author: String? = nil,
        headSHA: String? = nil, draft: Bool? = nil
    ) {
        self.bytes = bytes
        self.configuration = configuration
        self.title = title
        self.author = author
        self.headSHA = headSHA
        self.draft = draft
    }
}

/// Why a diff could not be fetched. `permanent` tells whether retrying can help (a bad revision or URL cannot; a
/// network error or a rate limit can).
public struct DiffSourceError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in one line, without secrets.
    public let description: String
    /// Retrying cannot help.
    public let permanent: Bool
    /// The service asked to wait (a rate limit): not the task's fault, so retrying should not spend its attempts.
    public var waitRequested = false

    /// A failure worth retrying.
    public static func retryable(_ message: String) -> DiffSourceError {
        DiffSourceError(description: message, permanent: false)
    }

    /// A failure retrying cannot fix.
    public static func permanent(_ message: String) -> DiffSourceError {
        DiffSourceError(description: message, permanent: true)
    }

    /// A rate limit: retry later without spending an attempt.
    public static func rateLimited(_ message: String) -> DiffSourceError {
        DiffSourceError(description: message, permanent: false, waitRequested: true)
    }
}

/// Fetches diffs from any ``DiffSource``. Blocking work (git) runs on a thread of its own, never on Swift's
/// cooperative pool; GitHub is asked through ``GitHubClient`` (an App installation's token, or `GITHUB_TOKEN`).
public struct DiffSources: Sendable {
    /// GitHub's API (`GITHUB_API_URL`) and its credentials.
    public var github: GitHubClient
    /// The limits every fetched diff must keep.
    public var limits: DiffLimits

    /// Creates a fetcher.
    public init(github: GitHubClient = .anonymous, limits: DiffLimits = .default) {
        self.github = github
        self.limits = limits
    }

    /// Fetches the diff (and, where it lives, the repository configuration) of a source; `installation` is the
    /// GitHub App installation a pull request's delivery came through, if any.
    public func fetch(_ source: DiffSource, installation: Int? = nil) async throws(DiffSourceError) -> FetchedDiff {
        switch source {
        case .diff(let text):
            guard text.utf8.count <= limits.maxBytes else {
                throw .permanent("the diff is \(text.utf8.count) bytes; the limit is \(limits.maxBytes)")
            }
            return FetchedDiff(bytes: Array(text.utf8))
        case .git(let path, let base, let head):
            let range = GitRange(path: path, base: base, head: head)
            let limits = self.limits
            let result = await GitDiff.runOnDedicatedThread { () throws(GitDiffError) -> FetchedDiff in
                FetchedDiff(
                    bytes: try GitDiff.diffBytes(range, limits: limits),
                    configuration: try GitDiff.configurationText(range))
            }
            switch result {
            case .success(let fetched): return fetched
            // A bad path or revision does not heal by retrying.
            case .failure(let error): throw .permanent(error.description)
            }
        case .pullRequest(let url):
            let host = PullRequestReference.enterpriseHost(apiURL: github.apiURL.absoluteString)
            guard let reference = PullRequestReference(url: url, enterpriseHost: host) else {
                throw .permanent(
                    "'\(url)' is not a GitHub pull request URL (https://\(host ?? "github.com")/OWNER/NAME/pull/N)")
            }
            let client = github.forInstallation(installation)
            do throws(GitHubError) {
                let info = try await client.pullRequest(repo: reference.repo, number: reference.number)
                let bytes = try await client.pullRequestDiff(
                    repo: reference.repo, number: reference.number, maximumBytes: limits.maxBytes)
                let configuration = try await client.fileContents(
                    repo: reference.repo, path: ".agentqueue.yml", ref: info.head.sha)
                return FetchedDiff(
                    bytes: bytes, configuration: configuration, title: info.title, author: info.user?.login,
                    headSHA: info.head.sha, draft: info.draft)
            } catch {
                if error.kind == .rateLimited { throw .rateLimited(error.description) }
                throw error.isRetryable ? .retryable(error.description) : .permanent(error.description)
            }
        }
    }
}
