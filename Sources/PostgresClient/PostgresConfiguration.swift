internal import CLibPQ

#if canImport(Glibc)
    import Glibc
#endif

/// How to reach a PostgreSQL server, validated once when created.
///
/// Accepts a `postgresql://` URL or a libpq keyword/value string (`host=… dbname=…`), exactly as libpq does.
/// The password is kept only in `connectionString` and is scrubbed from every message this module produces.
public struct PostgresConfiguration: Sendable {
    /// The connection string as given. Never log it: use ``redactedDescription``.
    public let connectionString: String
    /// Sent to the server as `fallback_application_name`; a value in the connection string wins.
    public var applicationName: String
    /// Seconds to wait for a connection to be established; a `connect_timeout` in the connection string wins.
    public var connectTimeoutSeconds: Int
    /// Session settings applied with `set_config` right after connecting (for example `statement_timeout`).
    public var sessionSettings: [(name: String, value: String)]
    /// A printable form of the target: `postgresql://user@host:port/dbname`, without the password.
    public let redactedDescription: String
    /// The password, if one was given, to scrub from messages.
    let secrets: [String]

    /// Parses and validates a connection string.
    ///
    /// - Throws: ``PostgresError`` with a one-line message (password masked) when the string is malformed.
    public init(
        connectionString: String,
        applicationName: String = "agentqueue",
        connectTimeoutSeconds: Int = 10,
        sessionSettings: [(name: String, value: String)] = []
    ) throws(PostgresError) {
        let trimmed = connectionString.trimmingWhitespace()
        let secrets = Self.guessSecrets(in: trimmed)
        guard !trimmed.isEmpty else {
            throw .invalidConfiguration("the database URL is empty")
        }
        if trimmed.contains("://"),
            !(trimmed.hasPrefix("postgresql://") || trimmed.hasPrefix("postgres://"))
        {
            let scheme = trimmed.prefix(while: { $0 != ":" })
            throw .invalidConfiguration(
                "the database URL must start with postgresql:// (got scheme '\(Self.scrub(String(scheme), secrets))')"
            )
        }
        var errorMessage: UnsafeMutablePointer<CChar>? = nil
        guard let options = PQconninfoParse(trimmed, &errorMessage) else {
            let reason = errorMessage.map { String(cString: $0) } ?? "unknown error"
            if let errorMessage { PQfreemem(errorMessage) }
            throw .invalidConfiguration(
                "invalid database URL: \(Self.scrub(reason.trimmingWhitespace(), secrets))"
            )
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var index = 0
        while let keyword = options[index].keyword {
            if let value = options[index].val {
                values[String(cString: keyword)] = String(cString: value)
            }
            index += 1
        }
        var allSecrets = secrets
        if let password = values["password"], !password.isEmpty, !allSecrets.contains(password) {
            allSecrets.append(password)
        }
        if let port = values["port"], port.split(separator: ",").contains(where: { Int($0) == nil }) {
            throw .invalidConfiguration("invalid database URL: port '\(Self.scrub(port, allSecrets))' is not a number")
        }
        self.connectionString = trimmed
        self.applicationName = applicationName
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.sessionSettings = sessionSettings
        self.secrets = allSecrets
        let user = values["user"].map { "\($0)@" } ?? ""
        let host = values["host"] ?? values["hostaddr"] ?? "localhost"
        let port = values["port"].map { ":\($0)" } ?? ""
        let dbname = values["dbname"].map { "/\($0)" } ?? ""
        self.redactedDescription = Self.scrub("postgresql://\(user)\(host)\(port)\(dbname)", allSecrets)
    }

    /// Removes every known secret of this configuration from a message.
    public func redact(_ message: String) -> String {
        Self.scrub(message, secrets)
    }

    static func scrub(_ message: String, _ secrets: [String]) -> String {
        var text = message
        // Every log line passes through here: look before replacing, so that the common case allocates nothing.
        for secret in secrets where !secret.isEmpty && text.mentions(secret) {
            text = text.replacing(secret, with: "***")
        }
        return maskURLPasswords(text)
    }

    /// Finds passwords in a string before libpq has parsed it (libpq's own errors may echo the string).
    static func guessSecrets(in connectionString: String) -> [String] {
        var secrets: [String] = []
        // URL form: scheme://user:password@host
        if let schemeEnd = connectionString.firstRange(of: "://") {
            let rest = connectionString[schemeEnd.upperBound...]
            let authority = rest.prefix(while: { $0 != "/" && $0 != "?" })
            if let at = authority.lastIndex(of: "@") {
                let userInfo = authority[..<at]
                if let colon = userInfo.firstIndex(of: ":") {
                    let password = String(userInfo[userInfo.index(after: colon)...])
                    if !password.isEmpty {
                        secrets.append(password)
                        if let decoded = password.removingPercentEncoding(), decoded != password {
                            secrets.append(decoded)
                        }
                    }
                }
            }
            // ?password=… in the query part
            if let query = rest.firstIndex(of: "?") {
                for pair in rest[rest.index(after: query)...].split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    if parts.count == 2, parts[0] == "password", !parts[1].isEmpty {
                        secrets.append(String(parts[1]))
                    }
                }
            }
        } else {
            // keyword form: password=secret or password='sec ret'
            var search = connectionString[...]
            while let range = search.firstRange(of: "password") {
                var cursor = range.upperBound
                while cursor < search.endIndex, search[cursor] == " " { cursor = search.index(after: cursor) }
                guard cursor < search.endIndex, search[cursor] == "=" else {
                    search = search[range.upperBound...]
                    continue
                }
                cursor = search.index(after: cursor)
                while cursor < search.endIndex, search[cursor] == " " { cursor = search.index(after: cursor) }
                var value = ""
                if cursor < search.endIndex, search[cursor] == "'" {
                    cursor = search.index(after: cursor)
                    while cursor < search.endIndex, search[cursor] != "'" {
                        if search[cursor] == "\\", search.index(after: cursor) < search.endIndex {
                            cursor = search.index(after: cursor)
                        }
                        value.append(search[cursor])
                        cursor = search.index(after: cursor)
                    }
                } else {
                    while cursor < search.endIndex, search[cursor] != " " {
                        value.append(search[cursor])
                        cursor = search.index(after: cursor)
                    }
                }
                if !value.isEmpty { secrets.append(value) }
                search = search[cursor...]
            }
        }
        return secrets
    }

    /// Masks `scheme://user:password@` patterns anywhere in a message.
    static func maskURLPasswords(_ text: String) -> String {
        guard text.mentions("://") else { return text }
        var output = ""
        var remainder = text[...]
        while let scheme = remainder.firstRange(of: "://") {
            output += remainder[..<scheme.upperBound]
            let afterScheme = remainder[scheme.upperBound...]
            let authorityEnd =
                afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == " " || $0 == "\"" || $0 == "'" })
                ?? afterScheme.endIndex
            let authority = afterScheme[..<authorityEnd]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                output += authority[..<colon]
                output += ":***"
                output += authority[at...]
            } else {
                output += authority
            }
            remainder = afterScheme[authorityEnd...]
        }
        output += remainder
        return output
    }
}

extension String {
    /// Whether `other` occurs in this string, byte for byte (a search over the UTF-8 that allocates nothing; for
    /// hot paths such as masking secrets in every log line).
    public func mentions(_ other: String) -> Bool {
        var text = self
        var needle = other
        return text.withUTF8 { haystack in
            needle.withUTF8 { needle in
                guard let first = needle.first else { return true }
                guard needle.count <= haystack.count, let base = haystack.baseAddress else { return false }
                let last = haystack.count - needle.count
                var start = 0
                while start <= last {
                    guard let hit = memchr(base + start, Int32(first), last - start + 1) else { return false }
                    let offset = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    if memcmp(base + offset, needle.baseAddress!, needle.count) == 0 { return true }
                    start = offset + 1
                }
                return false
            }
        }
    }

    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first...last])
    }

    func removingPercentEncoding() -> String? {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
