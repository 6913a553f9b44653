/// Finds credentials on a line. Formats come from the providers' public documentation of their token
/// prefixes and lengths; decoys (placeholders, documented example keys, environment look-ups, low-entropy
/// values, lockfile hashes) are left alone.
struct SecretScanner {
    struct TokenFormat {
        let rule: RuleDescriptor
        let label: String
        let prefixes: [Needle]
        let minBody: Int
        let maxBody: Int
        let bodyByte: @Sendable (UInt8) -> Bool
        /// Extra check on the whole token.
        let accept: @Sendable ([UInt8]) -> Bool
    }

    static let formats: [TokenFormat] = [
        TokenFormat(
            rule: Rules.awsAccessKey, label: "AWS access key ID", prefixes: ["AKIA", "ASIA", "ABIA", "ACCA"],
            minBody: 16, maxBody: 16, bodyByte: { $0.isASCIIUpper || $0.isASCIIDigit }, accept: { _ in true }),
        TokenFormat(
            rule: Rules.githubToken, label: "GitHub token", prefixes: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
            minBody: 36, maxBody: 251, bodyByte: { $0.isASCIIAlphanumeric }, accept: { _ in true }),
        TokenFormat(
            rule: Rules.githubToken, label: "GitHub fine-grained token", prefixes: ["github_pat_"],
            minBody: 50, maxBody: 255, bodyByte: { $0.isIdentifierByte }, accept: { _ in true }),
        TokenFormat(
            rule: Rules.gitlabToken, label: "GitLab token", prefixes: ["glpat-"],
            minBody: 20, maxBody: 64, bodyByte: { $0.isTokenByte }, accept: { _ in true }),
        TokenFormat(
            rule: Rules.stripeKey, label: "Stripe live key", prefixes: ["sk_live_", "rk_live_"],
            minBody: 20, maxBody: 247, bodyByte: { $0.isASCIIAlphanumeric }, accept: { _ in true }),
        TokenFormat(
            rule: Rules.googleAPIKey, label: "Google API key", prefixes: ["AIza"],
            minBody: 35, maxBody: 35, bodyByte: { $0.isTokenByte }, accept: { _ in true }),
        TokenFormat(
            rule: Rules.npmToken, label: "npm token", prefixes: ["npm_"],
            minBody: 36, maxBody: 36, bodyByte: { $0.isASCIIAlphanumeric }, accept: { _ in true }),
        TokenFormat(
            rule: Rules.pypiToken, label: "PyPI token", prefixes: ["pypi-AgEIcHlwaS5vcmc"],
            minBody: 50, maxBody: 400, bodyByte: { $0.isTokenByte }, accept: { _ in true }),
        TokenFormat(
            rule: Rules.sendgridKey, label: "SendGrid key", prefixes: ["SG."],
            minBody: 66, maxBody: 66, bodyByte: { $0.isTokenByte || $0 == UInt8(ascii: ".") },
            accept: { token in token.count > 25 && token[25] == UInt8(ascii: ".") }),
        TokenFormat(
            rule: Rules.openAIKey, label: "OpenAI key", prefixes: ["sk-proj-", "sk-svcacct-", "sk-ant-api"],
            minBody: 40, maxBody: 300, bodyByte: { $0.isTokenByte }, accept: { _ in true }),
        TokenFormat(
            rule: Rules.openAIKey, label: "OpenAI key", prefixes: ["sk-"],
            minBody: 40, maxBody: 60, bodyByte: { $0.isASCIIAlphanumeric },
            accept: { token in
                token.contains(where: \.isASCIIDigit) && token.contains(where: \.isASCIIUpper)
                    && token.contains(where: \.isASCIILower)
            }),
    ]

    /// Lines that only mention a key in a lockfile-style integrity or checksum field are skipped.
    static let hashFieldMarkers: [Needle] = [
        "\"integrity\"", "integrity=", "sha512-", "sha384-", "sha256-", "sha1-", "checksum",
    ]

    struct Hit {
        let rule: RuleDescriptor
        let message: String
        let suggestion: String
    }

    let language: Language
    /// Whether unquoted values count (`.env`, YAML, shell, dotfiles such as `.npmrc`), not only string literals.
    let bareValues: Bool
    /// Test files: fixtures routinely hold throwaway keys, JWTs and passwords, so only provider-format tokens
    /// (which are live by construction) are reported there.
    let isTest: Bool

    func scan(_ line: SourceLine, next: SourceLine?) -> [Hit] {
        let raw = line.raw
        var hits: [Hit] = []
        if raw.count < 8 { return hits }
        for format in Self.formats {
            for prefix in format.prefixes {
                var from = 0
                while let start = raw.find(prefix, from: from) {
                    from = start + 1
                    if start > 0 && (raw[start - 1].isASCIIAlphanumeric) { continue }
                    var end = start + prefix.count
                    while end < raw.count && format.bodyByte(raw[end]) && end - start - prefix.count <= format.maxBody {
                        end += 1
                    }
                    let bodyLength = end - start - prefix.count
                    guard bodyLength >= format.minBody, bodyLength <= format.maxBody else { continue }
                    if end < raw.count && raw[end].isASCIIAlphanumeric { continue }
                    let token = Array(raw[start..<end])
                    guard format.accept(token), !Self.isDecoyToken(token, bodyStart: prefix.count) else { continue }
                    let text = String(decoding: token, as: UTF8.self)
                    hits.append(
                        Hit(
                            rule: format.rule,
                            message: "\(format.label) `\(maskSecret(text))` is committed in the change.",
                            suggestion: "Revoke the credential, remove it from the history, and load it from the "
                                + "environment or a secret store."))
                    from = end
                }
            }
        }
        hits += slackTokens(raw)
        hits += slackWebhooks(raw)
        if let hit = telegramToken(raw) { hits.append(hit) }
        if isTest { return hits }
        if let hit = privateKey(line, next: next) { hits.append(hit) }
        if let hit = jwt(raw) { hits.append(hit) }
        if hits.isEmpty, let hit = urlPassword(raw) { hits.append(hit) }
        if hits.isEmpty { hits += assignedCredentials(line) }
        return hits
    }

    /// Documented example keys and obvious fillers.
    static func isDecoyToken(_ token: [UInt8], bodyStart: Int) -> Bool {
        let lower = token.asciiLowercased
        for marker: Needle in [
            "example", "xxxxxxxx", "placeholder", "dummy", "sample", "your", "redacted", "fake",
            "1234567890abcdef", "abcdefghij", "0000000000",
        ]
        where lower.has(marker) {
            return true
        }
        let body = token[min(bodyStart, token.count)...]
        return Set(body).count < 8
    }

    func telegramToken(_ raw: [UInt8]) -> Hit? {
        var from = 0
        while let colon = raw.find(":AA", from: from) {
            from = colon + 1
            var digitsStart = colon
            while digitsStart > 0 && raw[digitsStart - 1].isASCIIDigit { digitsStart -= 1 }
            let digits = colon - digitsStart
            guard digits >= 8 && digits <= 10 else { continue }
            if digitsStart > 0 && raw[digitsStart - 1].isASCIIAlphanumeric { continue }
            var end = colon + 1
            while end < raw.count && raw[end].isTokenByte { end += 1 }
            guard end - colon - 1 == 35 else { continue }
            let token = Array(raw[digitsStart..<end])
            if Self.isDecoyToken(token, bodyStart: digits + 1) { continue }
            let text = String(decoding: token, as: UTF8.self)
            return Hit(
                rule: Rules.telegramBotToken,
                message: "Telegram bot token `\(maskSecret(text))` is committed in the change.",
                suggestion: "Revoke it with BotFather and load the new token from the environment.")
        }
        return nil
    }

    func privateKey(_ line: SourceLine, next: SourceLine?) -> Hit? {
        let raw = line.raw
        guard let begin = raw.find("-----BEGIN "), let keyWord = raw.find("PRIVATE KEY", from: begin),
            keyWord - begin < 40
        else { return nil }
        // A real key has base64 after the header: on the next added line, or after an escaped newline.
        var hasBody = false
        if let escaped = raw.find("\\n", from: keyWord) {
            hasBody = Self.base64Run(raw, from: escaped + 2) >= 40
        }
        if !hasBody, let next, next.isAdded {
            let start = next.raw.skipSpaces(from: 0)
            hasBody =
                Self.base64Run(next.raw, from: start) >= 40 || next.raw.has("Proc-Type:")
                || next.raw.has("Comment:")
        }
        guard hasBody else { return nil }
        let header = raw.string(begin..<min(raw.count, keyWord + 16))
        return Hit(
            rule: Rules.privateKey,
            message: "A private key block (`\(header.prefix(40))`) is committed in the change.",
            suggestion: "Replace the key pair, keep private keys out of the repository, and mount them at "
                + "run time from a secret store.")
    }

    static func base64Run(_ raw: [UInt8], from start: Int) -> Int {
        var end = start
        while end < raw.count
            && (raw[end].isASCIIAlphanumeric || raw[end] == UInt8(ascii: "+") || raw[end] == UInt8(ascii: "/")
                || raw[end] == UInt8(ascii: "="))
        {
            end += 1
        }
        return end - start
    }

    func jwt(_ raw: [UInt8]) -> Hit? {
        var from = 0
        while let start = raw.find("eyJ", from: from) {
            from = start + 3
            if start > 0 && raw[start - 1].isTokenByte { continue }
            var segments: [Range<Int>] = []
            var segmentStart = start
            var i = start
            while i <= raw.count {
                if i == raw.count || !raw[i].isTokenByte {
                    segments.append(segmentStart..<i)
                    if i < raw.count && raw[i] == UInt8(ascii: ".") && segments.count < 3 {
                        segmentStart = i + 1
                        i += 1
                        continue
                    }
                    break
                }
                i += 1
            }
            guard segments.count == 3, segments[0].count >= 10, segments[1].count >= 10, segments[2].count >= 16,
                raw.matches("eyJ", at: segments[1].lowerBound)
            else { continue }
            let signature = raw.string(segments[2])
            // The signature of the example token on jwt.io, reproduced in countless tutorials.
            if signature.hasPrefix("SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c") { continue }
            let token = raw.string(segments[0].lowerBound..<segments[2].upperBound)
            return Hit(
                rule: Rules.jwt,
                message: "A signed JSON Web Token `\(maskSecret(token))` is committed in the change.",
                suggestion: "Remove it and issue tokens at run time; if it is long-lived, revoke it.")
        }
        return nil
    }

    static let devPasswords: Set<String> = [
        "password", "passwd", "secret", "postgres", "root", "admin", "changeme", "test", "guest", "pass", "example",
        "user", "mysql", "redis", "rabbitmq", "default", "pwd", "xxx", "xxxx", "****", "dev", "local",
    ]

    func urlPassword(_ raw: [UInt8]) -> Hit? {
        var from = 0
        while let scheme = raw.find("://", from: from) {
            from = scheme + 3
            var schemeStart = scheme
            while schemeStart > 0
                && (raw[schemeStart - 1].isASCIIAlphanumeric || raw[schemeStart - 1] == UInt8(ascii: "+")
                    || raw[schemeStart - 1] == UInt8(ascii: ".") || raw[schemeStart - 1] == UInt8(ascii: "-"))
            {
                schemeStart -= 1
            }
            guard scheme - schemeStart >= 2 else { continue }
            // userinfo ends at '@' before any '/', whitespace or quote.
            var i = scheme + 3
            var colon: Int?
            var at: Int?
            while i < raw.count {
                let c = raw[i]
                if c == UInt8(ascii: "/") || c == 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'")
                    || c == UInt8(ascii: "`") || c == UInt8(ascii: "?") || c == UInt8(ascii: "#")
                {
                    break
                }
                if c == UInt8(ascii: ":") && colon == nil { colon = i }
                if c == UInt8(ascii: "@") { at = i }
                i += 1
            }
            guard let colon, let at, colon < at else { continue }
            let user = raw.string((scheme + 3)..<colon)
            let passwordBytes = Array(raw[(colon + 1)..<at])
            let password = String(decoding: passwordBytes, as: UTF8.self)
            guard passwordBytes.count >= 4, !Self.isPlaceholderValue(passwordBytes), password != user,
                !Self.devPasswords.contains(password.lowercased())
            else { continue }
            let host = raw.string((at + 1)..<i)
            let schemeText = raw.string(schemeStart..<scheme)
            return Hit(
                rule: Rules.urlPassword,
                message: "URL `\(schemeText)://\(user):****@\(host)` embeds a literal password "
                    + "(`\(maskSecret(password))`).",
                suggestion: "Pass the password separately (environment variable, secret store, .pgpass) and "
                    + "build the URL at run time.")
        }
        return nil
    }

    /// Values that are obviously not real: template references, environment look-ups, fillers.
    static func isPlaceholderValue(_ value: [UInt8]) -> Bool {
        guard let first = value.first else { return true }
        if first == UInt8(ascii: "$") || first == UInt8(ascii: "{") || first == UInt8(ascii: "<")
            || first == UInt8(ascii: "%") || first == UInt8(ascii: "[") || first == UInt8(ascii: "(")
        {
            return true
        }
        let lower = value.asciiLowercased
        let markers: [Needle] = [
            "example", "placeholder", "your", "xxx", "changeme", "change_me", "change-me", "dummy", "sample", "fake",
            "redacted", "***", "...", "{{", "${", "%s", "%(", "<", "todo", "insert", "replace", "env(", "environ",
            "process.env", "getenv", "secret_key_here", "password", "passwd", "test", "mock", "foobar", "none",
            "null", "undefined", "secrets.", "vault:", "arn:aws", "op://", "keyring",
        ]
        for marker in markers where lower.has(marker) { return true }
        return false
    }

    // MARK: Assigned credentials

    static let nameWords: [Needle] = [
        "password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "api-key", "accesskey", "access_key",
        "private_key", "privatekey", "credential", "auth", "pass",
    ]
    static let nameExclusions: [Needle] = [
        "url", "uri", "path", "file", "name", "field", "header", "env", "var", "type", "length", "len", "prefix",
        "suffix", "hint", "label", "placeholder", "regex", "pattern", "policy", "count", "_id", "keyid", "endpoint",
        "expir", "ttl", "timeout", "format", "mode", "strategy", "method", "provider", "kind", "class", "message",
        "error", "msg", "text", "title", "description", "help", "min", "max", "enabled", "required", "input", "param",
        "tokenizer", "tokens", "public", "publishable", "hash", "digest", "salt_rounds", "author", "oauth_url",
        "passthrough", "passive", "passed", "passes", "passenger", "pass_through", "compass", "bypass",
        "password_reset",
        "reset", "confirm", "strength", "validator", "validation", "rule", "policy", "question", "forgot", "changed",
        "store", "manager", "service", "backend", "dir", "file", "config", "cache", "lookup", "source", "location",
    ]

    /// `password = "…"`, `"apiKey": "…"`, `TOKEN=…` with a literal, random-looking value.
    func assignedCredentials(_ line: SourceLine) -> [Hit] {
        let raw = line.raw
        let lower = raw.asciiLowercased
        guard lower.hasAny(Self.nameWords) else { return [] }
        var hits: [Hit] = []
        var i = 0
        while i < raw.count {
            let c = raw[i]
            guard c == UInt8(ascii: "=") || c == UInt8(ascii: ":") else { i += 1; continue }
            var operatorEnd = i + 1
            // Skip comparisons and arrows: ==, !=, <=, >=, ===, :: ; accept := and =>.
            if c == UInt8(ascii: "=") {
                if i > 0
                    && [UInt8(ascii: "="), UInt8(ascii: "!"), UInt8(ascii: "<"), UInt8(ascii: ">")].contains(raw[i - 1])
                {
                    i += 1
                    continue
                }
                if operatorEnd < raw.count && raw[operatorEnd] == UInt8(ascii: "=") { i += 2; continue }
                if operatorEnd < raw.count && raw[operatorEnd] == UInt8(ascii: ">") { operatorEnd += 1 }
            } else {
                if operatorEnd < raw.count && raw[operatorEnd] == UInt8(ascii: ":") { i += 2; continue }
                if operatorEnd < raw.count && raw[operatorEnd] == UInt8(ascii: "=") { operatorEnd += 1 }
                // "://" belongs to a URL.
                if operatorEnd + 1 < raw.count && raw[operatorEnd] == UInt8(ascii: "/") { i += 1; continue }
            }
            defer { i = operatorEnd }
            guard let (nameStart, nameEnd) = Self.nameBefore(raw, operatorAt: i) else { continue }
            let name = Array(lower[nameStart..<nameEnd])
            guard name.hasAny(Self.nameWords), !name.hasAny(Self.nameExclusions) else { continue }
            guard let value = valueAfter(line, from: operatorEnd) else { continue }
            guard let hit = judge(name: name, value: value, line: line) else { continue }
            hits.append(hit)
        }
        return hits
    }

    static func nameBefore(_ raw: [UInt8], operatorAt index: Int) -> (Int, Int)? {
        var end = index
        while end > 0
            && (raw[end - 1].isSpaceOrTab || raw[end - 1] == UInt8(ascii: "\"") || raw[end - 1] == UInt8(ascii: "'")
                || raw[end - 1] == UInt8(ascii: "]") || raw[end - 1] == UInt8(ascii: "?"))
        {
            end -= 1
        }
        var start = end
        while start > 0 && (raw[start - 1].isTokenByte || raw[start - 1] == UInt8(ascii: ".")) { start -= 1 }
        guard end > start else { return nil }
        return (start, end)
    }

    /// The literal value after an assignment operator: a quoted string, or in configuration-like files a bare word.
    func valueAfter(_ line: SourceLine, from index: Int) -> [UInt8]? {
        let raw = line.raw
        var start = raw.skipSpaces(from: index)
        guard start < raw.count else { return nil }
        if let literal = line.literals.first(where: { $0.start == start || $0.start + $0.prefix.count == start }) {
            guard literal.isTerminated, !literal.isInterpolated else { return nil }
            var value = Array(raw[literal.contentStart..<literal.contentEnd])
            for scheme: Needle in ["Bearer ", "Basic ", "token ", "Token "] where value.matches(scheme, at: 0) {
                value.removeFirst(scheme.count)
            }
            // The literal must be the whole value, not the start of an expression.
            let after = raw.skipSpaces(from: literal.end)
            if after < raw.count {
                let c = raw[after]
                if c == UInt8(ascii: "+") || c == UInt8(ascii: "%") || c == UInt8(ascii: ".") || c == UInt8(ascii: "|")
                    || c == UInt8(ascii: "?")
                {
                    return nil
                }
            }
            return value
        }
        guard bareValues else { return nil }
        if raw[start] == UInt8(ascii: "\"") || raw[start] == UInt8(ascii: "'") { start += 1 }
        var end = start
        while end < raw.count && !raw[end].isSpaceOrTab && raw[end] != UInt8(ascii: "\"")
            && raw[end] != UInt8(ascii: "'")
            && !(raw[end] == UInt8(ascii: "#") && end > start && raw[end - 1].isSpaceOrTab)
        {
            end += 1
        }
        return end > start ? Array(raw[start..<end]) : nil
    }

    func judge(name: [UInt8], value: [UInt8], line: SourceLine) -> Hit? {
        guard value.count >= 8, value.count <= 400 else { return nil }
        guard !Self.isPlaceholderValue(value) else { return nil }
        if value.contains(where: { $0 == 0x20 || $0 == 0x09 }) { return nil }
        if value.has("://") { return nil }
        if value.first == UInt8(ascii: "/") || value.matches("./", at: 0) || value.matches("~/", at: 0) { return nil }
        // An all-caps identifier is the name of an environment variable, not its value.
        if value.allSatisfy({ $0.isASCIIUpper || $0 == UInt8(ascii: "_") || $0.isASCIIDigit })
            && value.contains(UInt8(ascii: "_"))
        {
            return nil
        }
        // A dotted or called expression in a config file (settings.secret, os.getenv(…)).
        if value.contains(UInt8(ascii: "(")) { return nil }
        // A qualified name (Module.Type, settings.SECRET_KEY) is a reference, not a value.
        if value.contains(UInt8(ascii: ".")),
            value.allSatisfy({ $0.isIdentifierByte || $0 == UInt8(ascii: ".") }),
            value.split(separator: UInt8(ascii: ".")).allSatisfy({
                $0.first?.isASCIILetter == true || $0.first == UInt8(ascii: "_")
            })
        {
            return nil
        }
        let entropy = shannonEntropy(value)
        let classes = [
            value.contains(where: \.isASCIILower), value.contains(where: \.isASCIIUpper),
            value.contains(where: \.isASCIIDigit), value.contains(where: { !$0.isASCIIAlphanumeric }),
        ].count(where: { $0 })
        let isPasswordName = name.has("pass") || name.has("pwd")
        let isAWSSecret = name.has("aws") && name.has("secret") || name.has("secret_access_key")
        if isAWSSecret && value.count == 40 {
            let text = String(decoding: value, as: UTF8.self)
            return Hit(
                rule: Rules.awsSecretKey,
                message: "AWS secret access key `\(maskSecret(text))` is committed in the change.",
                suggestion: "Rotate the key pair in IAM and use a role, the environment or a secret store.")
        }
        let minimumLength = isPasswordName ? 8 : 16
        let minimumEntropy = isPasswordName ? 3.0 : 3.5
        guard value.count >= minimumLength, entropy >= minimumEntropy, classes >= 2 else { return nil }
        let text = String(decoding: value, as: UTF8.self)
        let nameText = String(decoding: name, as: UTF8.self)
        return Hit(
            rule: Rules.hardcodedCredential,
            message: "`\(nameText)` is assigned a literal credential `\(maskSecret(text))`.",
            suggestion: "Read it from the environment or a secret store, and rotate the value that was committed.")
    }
}
