public import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// GitHub's REST API for one repository's work: fetching pull requests and publishing reviews. Every failure is a
/// ``GitHubError`` that says whether trying again can help; rate limits carry how long to wait.
public struct GitHubClient: Sendable {
    /// The API's base URL: `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server.
    public let apiURL: URL
    /// How requests authenticate.
    public let credentials: GitHubCredentials
    /// The App installation requests are made for (from the delivery), if any.
    public let installation: Int?
    /// The longest one request may take.
    public let timeout: TimeInterval

    /// Creates a client; `apiURL` must be an http(s) URL.
    public init(apiURL: String, credentials: GitHubCredentials, installation: Int? = nil, timeout: TimeInterval = 60)
        throws(GitHubError)
    {
        let trimmed = apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL
        guard let url = URL(string: trimmed), url.scheme == "https" || url.scheme == "http", url.host != nil else {
            throw GitHubError(.configuration, "GITHUB_API_URL '\(apiURL.prefix(200))' is not an http(s) URL")
        }
        self.apiURL = url
        self.credentials = credentials
        self.installation = installation
        self.timeout = timeout
    }

    /// github.com's API without credentials (public repositories only).
    public static let anonymous = GitHubClient(
        apiURL: URL(string: "https://api.github.com")!, credentials: .none, installation: nil, timeout: 60)

    /// The same client for another installation.
    public func forInstallation(_ installation: Int?) -> GitHubClient {
        GitHubClient(apiURL: apiURL, credentials: credentials, installation: installation, timeout: timeout)
    }

    private init(apiURL: URL, credentials: GitHubCredentials, installation: Int?, timeout: TimeInterval) {
        self.apiURL = apiURL
        self.credentials = credentials
        self.installation = installation
        self.timeout = timeout
    }

    /// What GitHub answered.
    public struct Response: Sendable {
        /// The HTTP status.
        public let status: Int
        /// The body.
        public let body: Data
        /// The `Link` header (pagination), if any.
        public let link: String?

        /// The body decoded as JSON.
        public func decode<T: Decodable>(_ type: T.Type, what: String) throws(GitHubError) -> T {
            do {
                return try JSONDecoder().decode(T.self, from: body)
            } catch {
                throw GitHubError(.unexpected, status: status, "GitHub's answer to \(what) cannot be read")
            }
        }
    }

    /// Sends one request. `path` starts with `/` (`/repos/o/r/pulls/2`); `body` is sent as JSON.
    public func send(
        _ method: String,
        _ path: String,
        query: [URLQueryItem] = [],
        body: (any Encodable & Sendable)? = nil,
        accept: String = "application/vnd.github+json",
        authorization: String? = nil
    ) async throws(GitHubError) -> Response {
        var components = URLComponents(url: apiURL.appending(path: path), resolvingAgainstBaseURL: false)
        if !query.isEmpty { components?.queryItems = query }
        guard let url = components?.url else {
            throw GitHubError(.configuration, "the GitHub API URL for \(path) is not valid")
        }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        request.setValue(accept, forHTTPHeaderField: "Accept")
        request.setValue("2022-11-28", forHTTPHeaderField: "X-GitHub-Api-Version")
        request.setValue("agentqueue/\(Self.version)", forHTTPHeaderField: "User-Agent")
        if let body {
            do {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                request.httpBody = try encoder.encode(body)
            } catch {
                throw GitHubError(.unexpected, "the request body for \(method) \(path) cannot be encoded")
            }
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        var header = authorization
        if header == nil { header = try await credentials.authorization(installation: installation, client: self) }
        if let header { request.setValue(header, forHTTPHeaderField: "Authorization") }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw GitHubError(
                .unreachable, "cannot reach the GitHub API at \(apiURL.absoluteString): \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse else {
            throw GitHubError(.unexpected, "GitHub's answer to \(method) \(path) is not HTTP")
        }
        let status = http.statusCode
        if (200..<300).contains(status) {
            return Response(status: status, body: data, link: http.value(forHTTPHeaderField: "Link"))
        }
        if status == 401, authorization == nil { credentials.forget(installation: installation) }
        throw Self.error(method: method, path: path, status: status, headers: http, body: data)
    }

    /// The error for a failed answer: rate limits (primary: `x-ratelimit-remaining: 0` until `x-ratelimit-reset`;
    /// secondary: `retry-after`, or a minute when GitHub says so only in the message) told apart from permission
    /// errors, which a retry cannot fix.
    static func error(method: String, path: String, status: Int, headers: HTTPURLResponse, body: Data) -> GitHubError {
        struct Message: Decodable {
            let message: String?
        }
        let message = (try? JSONDecoder().decode(Message.self, from: body))?.message.map { String($0.prefix(300)) }
        let detail = message.map { ": \($0)" } ?? ""
        let what = "\(method) \(path)"
        if status == 403 || status == 429 {
            if let retry = headers.value(forHTTPHeaderField: "Retry-After").flatMap(Double.init) {
                return GitHubError(
                    .rateLimited, status: status,
                    "GitHub's rate limit for \(what) (retry after \(Int(retry)) s)\(detail)",
                    retryAfter: .milliseconds(Int64(max(1, retry) * 1000)))
            }
            if headers.value(forHTTPHeaderField: "X-RateLimit-Remaining") == "0" {
                let reset = headers.value(forHTTPHeaderField: "X-RateLimit-Reset").flatMap(Double.init)
                let wait = max(1, (reset ?? Date().timeIntervalSince1970 + 60) - Date().timeIntervalSince1970)
                return GitHubError(
                    .rateLimited, status: status, "GitHub's rate limit for \(what) is spent until it resets\(detail)",
                    retryAfter: .milliseconds(Int64(wait * 1000)))
            }
            if status == 429 || (message ?? "").lowercased().contains("rate limit") {
                return GitHubError(
                    .rateLimited, status: status, "GitHub's secondary rate limit for \(what)\(detail)",
                    retryAfter: .seconds(60))
            }
            return GitHubError(
                .forbidden, status: status, "GitHub denied \(what) (403): the credentials lack a permission\(detail)")
        }
        switch status {
        case 401:
            return GitHubError(
                .unauthorized, status: status, "GitHub refused the credentials (401) for \(what)\(detail)")
        case 404:
            return GitHubError(
                .notFound, status: status, "GitHub has no \(path) (404), or the credentials cannot see it\(detail)")
        case 422:
            return GitHubError(.unprocessable, status: status, "GitHub refused \(what) (422)\(detail)")
        case 500..<600:
            return GitHubError(.server, status: status, "GitHub answered \(status) for \(what)\(detail)")
        default:
            return GitHubError(.unexpected, status: status, "GitHub answered \(status) for \(what)\(detail)")
        }
    }

    /// A new installation token (`POST /app/installations/{id}/access_tokens`, authenticated as the App).
    func installationToken(installation: Int, jwt: String) async throws(GitHubError) -> (token: String, expires: Date) {
        struct Token: Decodable {
            let token: String
            let expires_at: String
        }
        let response = try await send(
            "POST", "/app/installations/\(installation)/access_tokens", authorization: "Bearer " + jwt)
        let token = try response.decode(Token.self, what: "the installation token request")
        let expires =
            ISO8601DateFormatter().date(from: token.expires_at) ?? Date().addingTimeInterval(3000)
        return (token.token, expires)
    }

    /// The version sent in `User-Agent`.
    static let version = "0.1.0"
}
