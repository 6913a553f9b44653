import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A pull request named by its GitHub URL, `https://github.com/OWNER/NAME/pull/N`.
public struct PullRequestReference: Sendable, Hashable {
    /// `OWNER/NAME`.
    public let repo: String
    /// The pull request number.
    public let number: Int

    /// Parses a pull request URL; `nil` when it is not one.
    public init?(url: String) {
        guard let components = URLComponents(string: url), components.scheme == "https",
            let host = components.host?.lowercased(), host == "github.com" || host == "www.github.com"
        else { return nil }
        let parts = components.path.split(separator: "/").map(String.init)
        guard parts.count == 4, parts[2] == "pull", let number = Int(parts[3]), number > 0,
            parts[0].allSatisfy(Self.isNameCharacter), parts[1].allSatisfy(Self.isNameCharacter),
            !parts[0].isEmpty, !parts[1].isEmpty
        else { return nil }
        self.repo = "\(parts[0])/\(parts[1])"
        self.number = number
    }

    private static func isNameCharacter(_ character: Character) -> Bool {
        character.isASCII
            && (character.isLetter || character.isNumber || character == "-" || character == "_" || character == ".")
    }
}

/// Fetches pull request metadata and diffs through the GitHub REST API.
struct GitHubPullRequests: Sendable {
    let apiURL: String
    let token: String?
    let timeout: TimeInterval

    struct PullRequestInfo: Sendable {
        let title: String?
        let author: String?
        let headSHA: String?
    }

    private struct PullRequestJSON: Decodable {
        struct User: Decodable { let login: String? }
        struct Head: Decodable { let sha: String? }
        let title: String?
        let user: User?
        let head: Head?
    }

    /// The pull request's title, author and head commit.
    func pullRequest(_ reference: PullRequestReference) async throws -> PullRequestInfo {
        let data = try await get(reference, accept: "application/vnd.github+json")
        do {
            let info = try JSONDecoder().decode(PullRequestJSON.self, from: data)
            return PullRequestInfo(title: info.title, author: info.user?.login, headSHA: info.head?.sha)
        } catch {
            throw DiffSourceError.retryable(
                "GitHub returned an unreadable pull request for \(reference.repo)#\(reference.number)")
        }
    }

    /// The pull request's unified diff.
    func diff(_ reference: PullRequestReference, maximumBytes: Int) async throws -> [UInt8] {
        let data = try await get(reference, accept: "application/vnd.github.diff")
        guard data.count <= maximumBytes else {
            throw DiffSourceError.permanent(
                "the diff of \(reference.repo)#\(reference.number) is \(data.count) bytes; the limit is \(maximumBytes)"
            )
        }
        return [UInt8](data)
    }

    private func get(_ reference: PullRequestReference, accept: String) async throws -> Data {
        let base = apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL
        guard let url = URL(string: "\(base)/repos/\(reference.repo)/pulls/\(reference.number)") else {
            throw DiffSourceError.permanent("GITHUB_API_URL '\(apiURL)' does not form a valid URL")
        }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.setValue(accept, forHTTPHeaderField: "Accept")
        request.setValue("2022-11-28", forHTTPHeaderField: "X-GitHub-Api-Version")
        request.setValue("agentqueue/\(DiffSources.userAgentVersion)", forHTTPHeaderField: "User-Agent")
        if let token, !token.isEmpty { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw DiffSourceError.retryable("cannot reach the GitHub API at \(base): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let name = "\(reference.repo)#\(reference.number)"
        switch status {
        case 200..<300:
            return data
        case 401:
            throw DiffSourceError.permanent("GitHub refused the token (401) for \(name): set a valid GITHUB_TOKEN")
        case 403 where (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "X-RateLimit-Remaining") == "0",
            429:
            throw DiffSourceError.retryable("GitHub rate limit reached while fetching \(name); will retry")
        case 403:
            throw DiffSourceError.permanent("GitHub denied access (403) to \(name): the token lacks permission")
        case 404:
            throw DiffSourceError.permanent("pull request \(name) was not found on GitHub (or the token cannot see it)")
        case 406, 422:
            throw DiffSourceError.permanent(
                "GitHub cannot produce the diff of \(name) (HTTP \(status)); it may be too large")
        default:
            throw DiffSourceError.retryable("GitHub answered HTTP \(status) for \(name); will retry")
        }
    }
}
