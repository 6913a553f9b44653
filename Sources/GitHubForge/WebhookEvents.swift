#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

// The parts of GitHub's webhook deliveries that AgentQueue reads. Everything else in a delivery is ignored; a field
// listed here that is missing or of the wrong type makes the delivery malformed.

/// A repository as deliveries name it.
public struct WebhookRepository: Decodable, Sendable {
    /// `owner/name`.
    public let fullName: String
    /// Its page, e.g. `https://github.com/owner/name`.
    public let htmlURL: String?

    enum CodingKeys: String, CodingKey {
        case fullName = "full_name"
        case htmlURL = "html_url"
    }
}

/// The GitHub App installation a delivery came through (absent for a repository's own webhook).
public struct WebhookInstallation: Decodable, Sendable {
    /// The installation's id: the worker asks for its token to fetch and publish.
    public let id: Int
}

/// A user as deliveries name it.
public struct WebhookUser: Decodable, Sendable {
    /// The login.
    public let login: String
}

/// A `pull_request` delivery.
public struct PullRequestEvent: Decodable, Sendable {
    /// `opened`, `synchronize`, `closed`, …
    public let action: String
    /// The pull request.
    public let pullRequest: PullRequest
    /// Its repository.
    public let repository: WebhookRepository
    /// The App installation, if any.
    public let installation: WebhookInstallation?

    /// The pull request as the delivery describes it.
    public struct PullRequest: Decodable, Sendable {
        /// The number.
        public let number: Int
        /// The title.
        public let title: String?
        /// Its page.
        public let htmlURL: String
        /// The author.
        public let user: WebhookUser?
        /// The head branch.
        public let head: Head
        /// Whether it is a draft (older deliveries have no such field: not a draft).
        public let draft: Bool?

        /// The head of the pull request.
        public struct Head: Decodable, Sendable {
            /// The head commit.
            public let sha: String
        }

        enum CodingKeys: String, CodingKey {
            case number, title, user, head, draft
            case htmlURL = "html_url"
        }
    }

    enum CodingKeys: String, CodingKey {
        case action, repository, installation
        case pullRequest = "pull_request"
    }
}

/// An `issue_comment` delivery (a pull request's conversation is an issue's).
public struct IssueCommentEvent: Decodable, Sendable {
    /// `created`, `edited`, `deleted`.
    public let action: String
    /// The issue (or pull request) commented on.
    public let issue: Issue
    /// The comment.
    public let comment: Comment
    /// The repository.
    public let repository: WebhookRepository
    /// The App installation, if any.
    public let installation: WebhookInstallation?

    /// The issue commented on.
    public struct Issue: Decodable, Sendable {
        /// Its number.
        public let number: Int
        /// Present when the issue is a pull request.
        public let pullRequest: PullRequestLink?
        /// Its page.
        public let htmlURL: String?
        /// Its title.
        public let title: String?

        /// The link that marks an issue as a pull request.
        public struct PullRequestLink: Decodable, Sendable {
            /// The pull request's page.
            public let htmlURL: String?

            enum CodingKeys: String, CodingKey {
                case htmlURL = "html_url"
            }
        }

        enum CodingKeys: String, CodingKey {
            case number, title
            case pullRequest = "pull_request"
            case htmlURL = "html_url"
        }
    }

    /// The comment.
    public struct Comment: Decodable, Sendable {
        /// Its text.
        public let body: String?
        /// The commenter's relation to the repository: `OWNER`, `MEMBER`, `COLLABORATOR`, `CONTRIBUTOR`, `NONE`, …
        public let authorAssociation: String
        /// The commenter.
        public let user: WebhookUser?

        enum CodingKeys: String, CodingKey {
            case body, user
            case authorAssociation = "author_association"
        }
    }
}

/// A `check_run` delivery.
public struct CheckRunEvent: Decodable, Sendable {
    /// `created`, `completed`, `rerequested`, `requested_action`.
    public let action: String
    /// The check run.
    public let checkRun: CheckRun
    /// The repository.
    public let repository: WebhookRepository
    /// The App installation, if any.
    public let installation: WebhookInstallation?

    /// The check run.
    public struct CheckRun: Decodable, Sendable {
        /// Its name (AgentQueue's are `AgentQueue`).
        public let name: String
        /// The commit it is about.
        public let headSHA: String
        /// The pull requests of that commit (in this repository).
        public let pullRequests: [PullRequestReference]

        /// A pull request a check run belongs to.
        public struct PullRequestReference: Decodable, Sendable {
            /// Its number.
            public let number: Int
        }

        enum CodingKeys: String, CodingKey {
            case name
            case headSHA = "head_sha"
            case pullRequests = "pull_requests"
        }
    }

    enum CodingKeys: String, CodingKey {
        case action, repository, installation
        case checkRun = "check_run"
    }
}

/// A `check_suite` delivery (GitHub sends these to every App with the checks permission: `requested` on a push,
/// `rerequested` when someone asks to re-run all of the App's checks).
public struct CheckSuiteEvent: Decodable, Sendable {
    /// `requested`, `rerequested` or `completed`.
    public let action: String
    /// The check suite.
    public let checkSuite: CheckSuite
    /// The repository.
    public let repository: WebhookRepository
    /// The App installation, if any.
    public let installation: WebhookInstallation?

    /// The check suite.
    public struct CheckSuite: Decodable, Sendable {
        /// The commit it is about.
        public let headSHA: String
        /// The pull requests of that commit (in this repository).
        public let pullRequests: [CheckRunEvent.CheckRun.PullRequestReference]

        enum CodingKeys: String, CodingKey {
            case headSHA = "head_sha"
            case pullRequests = "pull_requests"
        }
    }

    enum CodingKeys: String, CodingKey {
        case action, repository, installation
        case checkSuite = "check_suite"
    }
}
