import Foundation

/// A pull request named by its page, `https://github.com/OWNER/NAME/pull/N` (or the same on a GitHub Enterprise
/// Server host).
public struct PullRequestReference: Sendable, Hashable {
    /// `OWNER/NAME`.
    public let repo: String
    /// The pull request number.
    public let number: Int

    /// Parses a pull request URL on github.com or on `enterpriseHost`; `nil` when it is not one.
    public init?(url: String, enterpriseHost: String? = nil) {
        guard let components = URLComponents(string: url), components.scheme == "https",
            let host = components.host?.lowercased(),
            host == "github.com" || host == "www.github.com" || host == enterpriseHost?.lowercased()
        else { return nil }
        let parts = components.path.split(separator: "/").map(String.init)
        guard parts.count == 4, parts[2] == "pull", let number = Int(parts[3]), (1...Int(Int32.max)).contains(number),
            parts[0].allSatisfy(Self.isNameCharacter), parts[1].allSatisfy(Self.isNameCharacter),
            !parts[0].isEmpty, !parts[1].isEmpty
        else { return nil }
        self.repo = "\(parts[0])/\(parts[1])"
        self.number = number
    }

    /// The web host of a GitHub Enterprise Server whose API is `apiURL` (`https://HOST/api/v3`), or nil for
    /// github.com's API.
    public static func enterpriseHost(apiURL: String) -> String? {
        guard let host = URL(string: apiURL)?.host?.lowercased(), host != "api.github.com" else { return nil }
        return host
    }

    private static func isNameCharacter(_ character: Character) -> Bool {
        character.isASCII
            && (character.isLetter || character.isNumber || character == "-" || character == "_" || character == ".")
    }
}
