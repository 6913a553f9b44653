#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why a GitHub API call failed. `description` is one line, safe to log and store: it never holds a token.
public struct GitHubError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure it was.
    public enum Kind: Sendable, Equatable {
        /// GitHub could not be reached, or the connection broke.
        case unreachable
        /// A primary or secondary rate limit: try again after ``GitHubError/retryAfter``.
        case rateLimited
        /// GitHub answered 5xx.
        case server
        /// The credentials were refused (401).
        case unauthorized
        /// The credentials lack a permission (403 that is not a rate limit).
        case forbidden
        /// The resource does not exist or the credentials cannot see it (404).
        case notFound
        /// GitHub refused the request itself (422: a comment on a line outside the diff, …).
        case unprocessable
        /// Any other answer AgentQueue does not expect.
        case unexpected
        /// The configuration cannot work (a malformed API URL, an unreadable App key).
        case configuration
    }

    /// What kind of failure it was.
    public let kind: Kind
    /// The HTTP status, when GitHub answered.
    public let status: Int?
    /// One line for people.
    public let description: String
    /// For rate limits: how long to wait before trying again, as GitHub said (or a minute when it did not).
    public let retryAfter: Duration?

    /// Creates an error.
    public init(_ kind: Kind, status: Int? = nil, _ description: String, retryAfter: Duration? = nil) {
        self.kind = kind
        self.status = status
        self.description = description
        self.retryAfter = retryAfter
    }

    /// Whether trying again later can succeed (an outage, a rate limit, 5xx); otherwise only a fix by someone can.
    public var isRetryable: Bool { kind == .unreachable || kind == .rateLimited || kind == .server }
}
