public import PostgresClient

/// `accept_review_request(...)`: records a GitHub delivery that asks for a review and enqueues the review in one
/// transaction; a redelivery changes nothing. With `supersede` (a push), the pull request's live reviews of other
/// head commits are cancelled first (latest push wins).
public struct AcceptReviewRequest: PostgresStatement {
    /// What happened.
    public enum Outcome: String, Sendable {
        /// A new review task.
        case enqueued
        /// A live review with the same dedupe key exists: its task.
        case deduplicated
        /// The delivery was received before: its task, nothing changed.
        case redelivery
    }

    /// The `X-GitHub-Delivery` id.
    public let delivery: String
    /// The event (`pull_request`, `issue_comment`, `check_run`).
    public let event: String
    /// The event's action.
    public let action: String
    /// `owner/name`.
    public let repo: String
    /// The pull request.
    public let number: Int
    /// The head commit, when the delivery names it.
    public let headSHA: String?
    /// The review task (kind `review`), already validated.
    public let task: NewTask
    /// Cancel the pull request's live reviews of other head commits.
    public let supersede: Bool

    /// Creates the statement; the task is checked first (``NewTask/validate()``).
    public init(
        delivery: String, event: String, action: String, repo: String, number: Int, headSHA: String?, task: NewTask,
        supersede: Bool
    ) throws(TaskValidationError) {
        try task.validate()
        self.delivery = delivery
        self.event = event
        self.action = action
        self.repo = repo
        self.number = number
        self.headSHA = headSHA
        self.task = task
        self.supersede = supersede
    }

    public var query: PostgresQuery {
        """
        SELECT outcome, task_id FROM accept_review_request(\(delivery), \(event), \(action), \(repo),
            \(number)::integer, \(headSHA)::text, \(task.payload)::jsonb, \(task.queue), \(task.priority)::smallint,
            \(task.dedupeKey)::text, \(supersede))
        """
    }

    public func decode(_ rows: PostgresRows) throws -> (outcome: Outcome, taskID: Int64?) {
        guard let row = rows.single else {
            throw PostgresError.unexpectedResult("accept_review_request returned no row")
        }
        let text = try row.decode(String.self, "outcome")
        guard let outcome = Outcome(rawValue: text) else {
            throw PostgresError.unexpectedResult("accept_review_request returned '\(text)'")
        }
        return (outcome, try row.decode(Int64?.self, "task_id"))
    }
}
