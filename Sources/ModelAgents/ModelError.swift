/// A model call that failed after its retries. `description` is safe to log: it names the host and the HTTP status,
/// never the API key, the prompt or the response; `debugDescription` adds a short excerpt of the server's error
/// body with the key scrubbed from it.
public struct ModelError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    private enum Code: Sendable, Hashable {
        case notConfigured
        case timedOut
        case rateLimited
        case serverError
        case requestRejected
        case transport
        case invalidResponse
    }

    private let code: Code
    /// The HTTP status of the last response, if one arrived.
    public let status: Int?
    /// The host called (without credentials or path).
    public let host: String
    /// Calls made before giving up.
    public let attempts: Int
    private let detail: String

    private init(_ code: Code, host: String, status: Int? = nil, attempts: Int = 0, detail: String = "") {
        self.code = code
        self.host = host
        self.status = status
        self.attempts = attempts
        self.detail = detail
    }

    /// The back-end is not configured (no base URL or model).
    public static func notConfigured(_ detail: String) -> Self { Self(.notConfigured, host: "", detail: detail) }

    /// No complete response arrived within the per-call timeout.
    static func timedOut(host: String, attempts: Int) -> Self { Self(.timedOut, host: host, attempts: attempts) }

    /// HTTP 429, after the retries or with a `Retry-After` beyond the longest wait.
    static func rateLimited(host: String, attempts: Int, detail: String) -> Self {
        Self(.rateLimited, host: host, status: 429, attempts: attempts, detail: detail)
    }

    /// HTTP 5xx after the retries.
    static func serverError(host: String, status: Int, attempts: Int, detail: String) -> Self {
        Self(.serverError, host: host, status: status, attempts: attempts, detail: detail)
    }

    /// HTTP 4xx other than 429: the request itself is wrong (key, model name, size), so it is not retried.
    static func requestRejected(host: String, status: Int, attempts: Int, detail: String) -> Self {
        Self(.requestRejected, host: host, status: status, attempts: attempts, detail: detail)
    }

    /// The connection failed (refused, reset, DNS) after the retries.
    static func transport(host: String, attempts: Int, detail: String) -> Self {
        Self(.transport, host: host, attempts: attempts, detail: detail)
    }

    /// A 2xx response that is not a chat completion (wrong base URL, a proxy's page).
    static func invalidResponse(host: String, status: Int, detail: String) -> Self {
        Self(.invalidResponse, host: host, status: status, attempts: 1, detail: detail)
    }

    /// Whether trying again later may succeed (timeouts, rate limits, 5xx, connection failures), as opposed to a
    /// request or configuration the endpoint will keep refusing.
    public var isTransient: Bool {
        switch code {
        case .timedOut, .rateLimited, .serverError, .transport: true
        case .notConfigured, .requestRejected, .invalidResponse: false
        }
    }

    /// Whether the call timed out.
    public var isTimeout: Bool { code == .timedOut }

    /// Whether the endpoint kept answering HTTP 429.
    public var isRateLimited: Bool { code == .rateLimited }

    /// A one-line message without secrets.
    public var description: String {
        let tries = attempts == 1 ? "1 call" : "\(attempts) calls"
        return switch code {
        case .notConfigured: "the model back-end is not configured: \(detail)"
        case .timedOut: "the model endpoint \(host) did not answer within the timeout (\(tries))"
        case .rateLimited: "the model endpoint \(host) is rate limiting (HTTP 429, \(tries))"
        case .serverError: "the model endpoint \(host) failed with HTTP \(status ?? 0) (\(tries))"
        case .requestRejected: "the model endpoint \(host) rejected the request with HTTP \(status ?? 0)"
        case .transport: "cannot reach the model endpoint \(host) (\(tries))"
        case .invalidResponse: "the model endpoint \(host) answered with something that is not a chat completion"
        }
    }

    /// The description and the server's explanation (an excerpt, the key scrubbed).
    public var debugDescription: String { detail.isEmpty ? description : "\(description): \(detail)" }
}
