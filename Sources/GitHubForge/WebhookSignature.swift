import Crypto

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// The secrets a webhook's deliveries are signed with: the current one and, during a rotation, the previous one.
public struct WebhookSecrets: Sendable {
    let keys: [SymmetricKey]

    /// Creates the secrets (a previous secret is accepted too, so that rotating one drops no delivery).
    public init(current: String, previous: String? = nil) {
        keys = ([current] + [previous].compactMap { $0 }).filter { !$0.isEmpty }.map {
            SymmetricKey(data: Array($0.utf8))
        }
    }

    /// Whether `signature` (the `X-Hub-Signature-256` header, `sha256=` and 64 hex digits) is the HMAC-SHA256 of
    /// `body` under one of the secrets. The comparison takes constant time (swift-crypto's), so a forger learns
    /// nothing from how long a refusal takes.
    public func verify(signature: String?, body: some DataProtocol) -> Bool {
        guard let signature, let digest = Self.digest(signature) else { return false }
        return keys.contains { HMAC<SHA256>.isValidAuthenticationCode(digest, authenticating: body, using: $0) }
    }

    /// The header a delivery of `body` signed with `secret` carries (for tests and the benchmark).
    public static func signature(of body: some DataProtocol, secret: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256=" + code.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    private static func digest(_ header: String) -> [UInt8]? {
        guard header.hasPrefix("sha256=") else { return nil }
        let hex = Array(header.utf8.dropFirst(7))
        guard hex.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var index = 0
        while index < hex.count {
            guard let high = Self.nibble(hex[index]), let low = Self.nibble(hex[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
