import Crypto
import CryptoExtras
public import Foundation
import Synchronization

/// A GitHub App's identity: its id and the private key GitHub issued for it (PEM, PKCS#1 or PKCS#8).
public struct GitHubAppKey: Sendable {
    /// The App's numeric id (GitHub Enterprise Server accepts only the id as the JWT issuer).
    public let appID: String
    let key: _RSA.Signing.PrivateKey

    /// Reads the key; a malformed one is a configuration error naming the problem (never the key).
    public init(appID: String, pem: String) throws(GitHubError) {
        guard !appID.isEmpty, appID.allSatisfy(\.isNumber) else {
            throw GitHubError(.configuration, "GITHUB_APP_ID must be the App's numeric id (got '\(appID.prefix(40))')")
        }
        self.appID = appID
        do {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw GitHubError(
                .configuration,
                "the GitHub App private key cannot be read: it must be the PEM file GitHub issued (RSA, 2048 bits or more)"
            )
        }
    }

    /// A JSON Web Token (RS256) that authenticates as the App for ten minutes at most: issued a minute in the past,
    /// for clock drift, expiring nine minutes ahead.
    public func jwt(now: Date = Date()) throws(GitHubError) -> String {
        let issued = Int(now.timeIntervalSince1970) - 60
        let header = Self.base64URL(Array(#"{"alg":"RS256","typ":"JWT"}"#.utf8))
        let claims = Self.base64URL(Array(#"{"iat":\#(issued),"exp":\#(issued + 600),"iss":"\#(appID)"}"#.utf8))
        let input = header + "." + claims
        do {
            let signature = try key.signature(for: Array(input.utf8), padding: .insecurePKCS1v1_5)
            return input + "." + Self.base64URL(Array(signature.rawRepresentation))
        } catch {
            throw GitHubError(.configuration, "the GitHub App JWT cannot be signed with the App's key")
        }
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacing("+", with: "-").replacing("/", with: "_")
            .replacing("=", with: "")
    }
}

/// How AgentQueue authenticates to GitHub: as a GitHub App (an installation token per installation, cached until
/// shortly before it expires) or with a token (`GITHUB_TOKEN`). Check runs need an App; with a token, a commit status
/// stands in for them.
public final class GitHubCredentials: Sendable {
    /// A token for every request.
    public let token: String?
    /// The App, whose installation tokens are used where a delivery named an installation.
    public let app: GitHubAppKey?
    private let cache = Mutex<[Int: (token: String, expires: Date)]>([:])

    /// Credentials from a token and/or an App.
    public init(token: String?, app: GitHubAppKey?) {
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        self.app = app
    }

    /// No credentials (public repositories only; nothing can be published).
    public static let none = GitHubCredentials(token: nil, app: nil)

    /// Whether requests for `installation` are made as the App (check runs possible) rather than with the token.
    public func actsAsApp(installation: Int?) -> Bool { app != nil && installation != nil }

    /// The `Authorization` header value for a request about `installation` (nil: anonymous).
    func authorization(installation: Int?, client: GitHubClient) async throws(GitHubError) -> String? {
        if let app, let installation {
            let now = Date()
            if let cached = cache.withLock({ $0[installation] }), cached.expires.timeIntervalSince(now) > 300 {
                return "Bearer " + cached.token
            }
            let issued = try await client.installationToken(installation: installation, jwt: try app.jwt(now: now))
            cache.withLock { $0[installation] = issued }
            return "Bearer " + issued.token
        }
        return token.map { "Bearer " + $0 }
    }

    /// Forgets the cached token of an installation (GitHub refused it: revoked or expired early).
    func forget(installation: Int?) {
        guard let installation else { return }
        cache.withLock { _ = $0.removeValue(forKey: installation) }
    }

    /// Every secret these credentials hold, to mask in messages.
    public var secrets: [String] {
        [token].compactMap { $0 } + cache.withLock { $0.values.map(\.token) }
    }
}
