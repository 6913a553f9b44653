import DiffSources
import GitHubForge
public import ReviewWorkflow
import TaskQueue

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a verified delivery asks for.
public enum DeliveryDecision: Sendable {
    /// `ping`: answer that the webhook works.
    case pong
    /// Nothing to do (another action, a comment that is no command, an event GitHub sends every App); the reason.
    case ignore(String)
    /// Review a pull request.
    case review(ReviewIntent)
    /// A pull request was closed: cancel its live reviews.
    case close(repo: String, number: Int)
}

/// A review a delivery asks for.
public struct ReviewIntent: Sendable {
    /// `owner/name`.
    public let repo: String
    /// The pull request.
    public let number: Int
    /// The head commit, when the delivery names it (a comment does not: the worker asks GitHub).
    public let headSHA: String?
    /// The task's payload.
    public let request: ReviewRequest
    /// Whether it supersedes the pull request's reviews of other commits (a push does; a re-review does not).
    public let supersede: Bool
    /// The dedupe key: one live review per pull request and commit.
    public let dedupeKey: String
}

/// Why a delivery is refused: the HTTP status and a message for GitHub's delivery log.
public struct DeliveryRejection: Error, Sendable, CustomStringConvertible {
    /// 400 (malformed), 401 (signature), 413 (too large), 415, …
    public let status: Int
    /// What is wrong.
    public let description: String

    init(_ status: Int, _ description: String) {
        self.status = status
        self.description = description
    }
}

/// Turns a delivery into a decision: pure, tested with GitHub's real payloads.
public enum DeliveryIntake {
    /// The events AgentQueue acts on.
    public static let handledEvents: Set<String> = [
        "pull_request", "issue_comment", "check_run", "check_suite", "ping",
    ]
    /// Events GitHub sends every App whatever it subscribed to: acknowledged, nothing to do.
    public static let acknowledgedEvents: Set<String> = [
        "installation", "installation_repositories", "github_app_authorization", "installation_target",
    ]
    /// The comment that asks for a new review.
    public static let command = "/agentqueue review"
    /// Who may ask for one by comment.
    public static let collaborators: Set<String> = ["OWNER", "MEMBER", "COLLABORATOR"]

    /// What `event`'s delivery `body` asks for; `enterpriseHost` is the GitHub Enterprise Server host, if any.
    public static func decide(event: String, body: [UInt8], enterpriseHost: String? = nil) throws(DeliveryRejection)
        -> DeliveryDecision
    {
        if acknowledgedEvents.contains(event) { return .ignore("\(event) events need nothing from AgentQueue") }
        guard handledEvents.contains(event) else {
            throw DeliveryRejection(
                400,
                "unsupported event '\(event.prefix(60))': AgentQueue handles pull_request, issue_comment, check_run, "
                    + "check_suite and ping (unsubscribe the others in the webhook's or App's settings)")
        }
        let data = Data(body)
        switch event {
        case "ping":
            return .pong
        case "pull_request":
            let delivery: PullRequestEvent = try decode(data, event)
            let pr = delivery.pullRequest
            switch delivery.action {
            case "opened", "reopened", "ready_for_review", "synchronize":
                return .review(
                    try intent(
                        repo: delivery.repository.fullName, number: pr.number, headSHA: pr.head.sha, url: pr.htmlURL,
                        title: pr.title, author: pr.user?.login, installation: delivery.installation?.id,
                        draft: pr.draft ?? false, supersede: true, enterpriseHost: enterpriseHost))
            case "closed":
                return .close(repo: delivery.repository.fullName, number: pr.number)
            default:
                return .ignore("pull_request \(delivery.action) needs no review")
            }
        case "issue_comment":
            let delivery: IssueCommentEvent = try decode(data, event)
            guard delivery.action == "created", let link = delivery.issue.pullRequest else {
                return .ignore(
                    "issue_comment \(delivery.action) on \(delivery.issue.pullRequest == nil ? "an issue" : "a pull request") is no command"
                )
            }
            let text = String(
                (delivery.comment.body ?? "").drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace)
                    .reversed())
            guard text == command || text.hasPrefix(command + " ") || text.hasPrefix(command + "\n") else {
                return .ignore("the comment is not \(command)")
            }
            guard collaborators.contains(delivery.comment.authorAssociation) else {
                return .ignore(
                    "\(command) from a \(delivery.comment.authorAssociation.lowercased()): only owners, members and "
                        + "collaborators may ask for a review")
            }
            let url =
                link.htmlURL ?? delivery.issue.htmlURL?.replacing("/issues/", with: "/pull/")
                ?? "https://github.com/\(delivery.repository.fullName)/pull/\(delivery.issue.number)"
            return .review(
                try intent(
                    repo: delivery.repository.fullName, number: delivery.issue.number, headSHA: nil, url: url,
                    title: delivery.issue.title, author: nil, installation: delivery.installation?.id, draft: false,
                    supersede: false, enterpriseHost: enterpriseHost))
        case "check_suite":
            let delivery: CheckSuiteEvent = try decode(data, event)
            guard delivery.action == "rerequested" else {
                return .ignore("check_suite \(delivery.action) needs no review (pull_request deliveries start them)")
            }
            return try rerequested(
                repo: delivery.repository.fullName, numbers: delivery.checkSuite.pullRequests.map(\.number),
                headSHA: delivery.checkSuite.headSHA, installation: delivery.installation?.id,
                enterpriseHost: enterpriseHost)
        default:  // check_run
            let delivery: CheckRunEvent = try decode(data, event)
            guard delivery.action == "rerequested", delivery.checkRun.name == PublishRendering.checkName else {
                return .ignore("check_run \(delivery.action) of '\(delivery.checkRun.name.prefix(60))' needs no review")
            }
            return try rerequested(
                repo: delivery.repository.fullName, numbers: delivery.checkRun.pullRequests.map(\.number),
                headSHA: delivery.checkRun.headSHA, installation: delivery.installation?.id,
                enterpriseHost: enterpriseHost)
        }
    }

    /// A re-run someone asked for on a check (or the whole suite): a new review of that commit.
    private static func rerequested(
        repo: String, numbers: [Int], headSHA: String, installation: Int?, enterpriseHost: String?
    ) throws(DeliveryRejection) -> DeliveryDecision {
        guard let number = numbers.first else {
            return .ignore("the check belongs to no pull request of this repository")
        }
        let host = enterpriseHost ?? "github.com"
        return .review(
            try intent(
                repo: repo, number: number, headSHA: headSHA, url: "https://\(host)/\(repo)/pull/\(number)",
                title: nil, author: nil, installation: installation, draft: false, supersede: false,
                enterpriseHost: enterpriseHost))
    }

    private static func intent(
        repo: String, number: Int, headSHA: String?, url: String, title: String?, author: String?, installation: Int?,
        draft: Bool, supersede: Bool, enterpriseHost: String?
    ) throws(DeliveryRejection) -> ReviewIntent {
        guard let reference = PullRequestReference(url: url, enterpriseHost: enterpriseHost), reference.repo == repo,
            reference.number == number
        else {
            throw DeliveryRejection(400, "the pull request URL '\(url.prefix(200))' does not match \(repo)#\(number)")
        }
        if let headSHA, !(7...64).contains(headSHA.count) || !headSHA.allSatisfy(\.isHexDigit) {
            throw DeliveryRejection(400, "the head commit '\(headSHA.prefix(80))' is not a commit id")
        }
        let request = ReviewRequest(
            source: .pullRequest(url: url), repo: repo, prNumber: number, title: title, author: author,
            headSHA: headSHA, prURL: url, publish: .init(installationID: installation, draft: draft))
        if let problem = request.problem { throw DeliveryRejection(400, "the delivery cannot be reviewed: \(problem)") }
        return ReviewIntent(
            repo: repo, number: number, headSHA: headSHA, request: request, supersede: supersede,
            dedupeKey: "review:\(repo)#\(number)@\(headSHA ?? "latest")")
    }

    private static func decode<T: Decodable>(_ data: Data, _ event: String) throws(DeliveryRejection) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch DecodingError.dataCorrupted {
            throw DeliveryRejection(400, "the \(event) delivery is not valid JSON")
        } catch DecodingError.keyNotFound(let key, _) {
            throw DeliveryRejection(400, "the \(event) delivery has no '\(key.stringValue)'")
        } catch {
            throw DeliveryRejection(400, "the \(event) delivery is not what GitHub sends: \(error)")
        }
    }
}
