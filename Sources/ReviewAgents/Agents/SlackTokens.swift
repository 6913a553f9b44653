/// Slack tokens and incoming-webhook URLs, recognised by their shapes rather than by their prefixes alone, so that
/// `xoxb-your-bot-token-here` and similar placeholders are not reported.
///
/// A token is a prefix and `-`-separated segments: numeric IDs (team, user, bot), sometimes a one-digit version
/// first, and a random secret last. The shapes follow Slack's documentation of its token types and the formats
/// public secret scanners check:
///
/// - bot `xoxb-TEAM-BOT-secret` (IDs of 8 to 14 digits, 18 to 40 letters and digits), legacy bot `xoxb-ID-secret`;
/// - user `xoxp-ID-ID-ID-secret` (28 to 34 characters, usually hex), and `xoxe-` tokens of the same shape;
/// - configuration tokens `xoxe.xoxp-1-…`, `xoxe.xoxb-1-…` and refresh tokens `xoxe-1-…` (100 to 200 characters);
/// - legacy workspace and refresh tokens `xoxa-2-…`, `xoxr-…`, legacy `xoxs-ID-ID-ID-hex`;
/// - app-level tokens `xapp-1-APPID-ID-secret`;
/// - webhooks `https://hooks.slack.com/services/T…/B…/secret`.
extension SecretScanner {
    /// Where each kind of token starts; `xoxe.xoxp-` and `xoxe.xoxb-` are found through their inner prefix.
    static let slackPrefixes: [Needle] = ["xoxb-", "xoxp-", "xoxe-", "xoxa-", "xoxr-", "xoxs-", "xapp-"]

    /// Words that only placeholders contain.
    static let slackPlaceholderWords: [Needle] = ["token", "slack", "here", "secret", "your"]

    func slackTokens(_ raw: [UInt8]) -> [Hit] {
        var hits: [Hit] = []
        for prefix in Self.slackPrefixes {
            var from = 0
            while let start = raw.find(prefix, from: from) {
                from = start + 1
                if start > 0 && raw[start - 1].isIdentifierByte { continue }
                var end = start + prefix.count
                while end < raw.count && (raw[end].isASCIIAlphanumeric || raw[end] == UInt8(ascii: "-")) { end += 1 }
                if end < raw.count && raw[end] == UInt8(ascii: "_") { continue }
                let body = raw[(start + prefix.count)..<end]
                let segments = body.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
                guard Self.isSlackToken(prefix: prefix, segments: segments) else { continue }
                let token = Array(raw[start..<end])
                guard !Self.isDecoyToken(token, bodyStart: prefix.count),
                    let secret = segments.last, !Array(secret).asciiLowercased.hasAny(Self.slackPlaceholderWords)
                else { continue }
                let text = String(decoding: token, as: UTF8.self)
                hits.append(
                    Hit(
                        rule: Rules.slackToken,
                        message: "Slack token `\(maskSecret(text))` is committed in the change.",
                        suggestion: "Revoke the credential, remove it from the history, and load it from the "
                            + "environment or a secret store."))
                from = end
            }
        }
        return hits
    }

    /// Whether the `-`-separated segments after `prefix` have the shape of a real token.
    static func isSlackToken(prefix: Needle, segments: [ArraySlice<UInt8>]) -> Bool {
        func id(_ segment: ArraySlice<UInt8>, _ digits: ClosedRange<Int> = 8...14) -> Bool {
            digits.contains(segment.count) && segment.allSatisfy(\.isASCIIDigit)
        }
        func secret(_ segment: ArraySlice<UInt8>, _ length: ClosedRange<Int>) -> Bool {
            length.contains(segment.count) && segment.allSatisfy(\.isASCIIAlphanumeric)
        }
        guard let last = segments.last else { return false }
        let ids = segments.dropLast()
        let kind = String(decoding: prefix.bytes, as: UTF8.self)
        // Configuration access (xoxe.xoxb-1-…, xoxe.xoxp-1-…) and refresh (xoxe-1-…) tokens.
        if ["xoxb-", "xoxp-", "xoxe-"].contains(kind), segments.count == 2, id(segments[0], 1...1),
            secret(last, 100...200)
        {
            return true
        }
        switch kind {
        case "xoxb-":
            return (ids.count == 2 && ids.allSatisfy { id($0) } && secret(last, 18...40))
                || (ids.count == 1 && ids.allSatisfy { id($0) } && secret(last, 18...26))
        case "xoxp-", "xoxe-":
            return ids.count == 3 && ids.allSatisfy { id($0) } && secret(last, 28...34)
        case "xoxs-":
            return ids.count == 3 && ids.allSatisfy { id($0, 1...14) } && secret(last, 10...64)
                && last.allSatisfy(\.isHexDigit)
        case "xoxa-", "xoxr-":
            // An optional one-digit version, then up to three IDs, then the secret. Without IDs the shape says
            // little, so the secret must mix letters and digits.
            var rest = ids[...]
            if let first = rest.first, id(first, 1...1) { rest = rest.dropFirst() }
            guard rest.count <= 3, rest.allSatisfy({ id($0) }), secret(last, 8...64) else { return false }
            return !rest.isEmpty || (last.contains(where: \.isASCIIDigit) && last.contains(where: \.isASCIILetter))
        case "xapp-":
            // xapp-1-APPID-ID-secret, the app ID being "A" and capitals or digits.
            guard segments.count == 4, id(segments[0], 1...1), id(segments[2]), secret(last, 32...80) else {
                return false
            }
            let app = segments[1]
            return (9...13).contains(app.count) && app.first == UInt8(ascii: "A")
                && app.allSatisfy { $0.isASCIIUpper || $0.isASCIIDigit }
        default:
            return false
        }
    }

    func slackWebhooks(_ raw: [UInt8]) -> [Hit] {
        var hits: [Hit] = []
        var from = 0
        while let start = raw.find("hooks.slack.com/services/", from: from) {
            from = start + 1
            var i = start + 25
            /// Reads `letter`, 8 to 12 capitals or digits, and `/`: the ID of the team or of the integration.
            func slackID(_ letter: UInt8) -> Bool {
                guard i < raw.count, raw[i] == letter else { return false }
                var end = i + 1
                while end < raw.count && (raw[end].isASCIIUpper || raw[end].isASCIIDigit) { end += 1 }
                guard (8...12).contains(end - i - 1), end < raw.count, raw[end] == UInt8(ascii: "/") else {
                    return false
                }
                i = end + 1
                return true
            }
            guard slackID(UInt8(ascii: "T")), slackID(UInt8(ascii: "B")) else { continue }
            var end = i
            while end < raw.count && raw[end].isASCIIAlphanumeric { end += 1 }
            guard (20...32).contains(end - i), end == raw.count || !raw[end].isIdentifierByte else { continue }
            let secret = Array(raw[i..<end])
            guard !Self.isDecoyToken(secret, bodyStart: 0) else { continue }
            let text = String(decoding: raw[start..<end], as: UTF8.self)
            hits.append(
                Hit(
                    rule: Rules.slackWebhook,
                    message: "Slack webhook URL `\(maskSecret(text))` is committed in the change.",
                    suggestion: "Revoke the credential, remove it from the history, and load it from the "
                        + "environment or a secret store."))
            from = end
        }
        return hits
    }
}
