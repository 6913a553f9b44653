/// A glob over repository paths: `*` matches within one path segment, `**` across segments, `?` one
/// character. A pattern without `/` matches the file name in any directory; a pattern ending in `/`
/// matches everything under that directory.
public struct PathPattern: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The pattern as written.
    public let pattern: String
    private let bytes: [UInt8]
    private let matchesBaseName: Bool

    /// Creates a pattern.
    public init(_ pattern: String) {
        self.pattern = pattern
        var text = pattern
        if text.hasPrefix("./") { text.removeFirst(2) }
        if text.hasPrefix("/") { text.removeFirst() }
        if text.hasSuffix("/") { text += "**" }
        matchesBaseName = !text.contains("/")
        bytes = Array(text.utf8)
    }

    /// Decodes a pattern from its string form.
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    /// Encodes the pattern as its string form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(pattern)
    }

    /// The pattern as written.
    public var description: String { pattern }

    /// Whether `path` (relative to the repository root) matches.
    public func matches(_ path: String) -> Bool {
        let target = Array(path.utf8)
        if Self.glob(bytes, target) { return true }
        if matchesBaseName, let slash = target.lastIndex(of: UInt8(ascii: "/")) {
            return Self.glob(bytes, Array(target[(slash + 1)...]))
        }
        return false
    }

    /// Glob matching with memoisation, so it stays linear-ish in pattern × path whatever the stars.
    private static func glob(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        let width = text.count + 1
        var memo = [Int8](repeating: -1, count: (pattern.count + 1) * width)
        let star = UInt8(ascii: "*")
        let slash = UInt8(ascii: "/")
        func match(_ i: Int, _ j: Int) -> Bool {
            let key = i * width + j
            if memo[key] >= 0 { return memo[key] == 1 }
            let result: Bool
            if i == pattern.count {
                result = j == text.count
            } else if pattern[i] == star && i + 1 < pattern.count && pattern[i + 1] == star {
                var rest = i + 2
                let directoryForm = rest < pattern.count && pattern[rest] == slash
                if directoryForm { rest += 1 }
                var found = false
                var k = j
                while k <= text.count && !found {
                    // "**/" stands for zero or more whole directories.
                    if !directoryForm || k == j || text[k - 1] == slash { found = match(rest, k) }
                    k += 1
                }
                result = found
            } else if pattern[i] == star {
                result = match(i + 1, j) || (j < text.count && text[j] != slash && match(i, j + 1))
            } else if pattern[i] == UInt8(ascii: "?") {
                result = j < text.count && text[j] != slash && match(i + 1, j + 1)
            } else {
                result = j < text.count && text[j] == pattern[i] && match(i + 1, j + 1)
            }
            memo[key] = result ? 1 : 0
            return result
        }
        return match(0, 0)
    }
}
