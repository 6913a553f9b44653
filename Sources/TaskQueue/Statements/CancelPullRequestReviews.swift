public import PostgresClient

/// `cancel_pull_request_reviews(...)`: records a GitHub delivery that closes a pull request and cancels its live
/// reviews in one transaction; a redelivery changes nothing. Returns whether it was a redelivery and how many reviews
/// were cancelled.
public struct CancelPullRequestReviews: PostgresStatement {
    /// The `X-GitHub-Delivery` id.
    public let delivery: String
    /// The event.
    public let event: String
    /// The event's action.
    public let action: String
    /// `owner/name`.
    public let repo: String
    /// The pull request.
    public let number: Int

    /// Creates the statement.
    public init(delivery: String, event: String, action: String, repo: String, number: Int) {
        self.delivery = delivery
        self.event = event
        self.action = action
        self.repo = repo
        self.number = number
    }

    public var query: PostgresQuery {
        """
        SELECT outcome, cancelled FROM cancel_pull_request_reviews(\(delivery), \(event), \(action), \(repo),
            \(number)::integer)
        """
    }

    public func decode(_ rows: PostgresRows) throws -> (redelivery: Bool, cancelled: Int) {
        guard let row = rows.single else {
            throw PostgresError.unexpectedResult("cancel_pull_request_reviews returned no row")
        }
        return (try row.decode(String.self, "outcome") == "redelivery", try row.decode(Int.self, "cancelled"))
    }
}
