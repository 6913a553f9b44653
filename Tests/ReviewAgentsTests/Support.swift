import Testing

@testable import ReviewAgents

/// Builds unified diffs the way git writes them, for tests.
struct DiffBuilder {
    private(set) var text = ""

    /// A new file whose every line is added.
    mutating func newFile(_ path: String, _ lines: [String], mode: String = "100644") {
        text +=
            "diff --git a/\(path) b/\(path)\nnew file mode \(mode)\nindex 0000000..1111111\n"
            + "--- /dev/null\n+++ b/\(path)\n"
        text += "@@ -0,0 +1,\(lines.count) @@\n"
        for line in lines { text += "+\(line)\n" }
    }

    /// A modified file: `context` lines kept before the change, `removed` replaced by `added`.
    mutating func modify(
        _ path: String, context: [String] = [], removed: [String] = [], added: [String],
        startLine: Int = 10
    ) {
        text += "diff --git a/\(path) b/\(path)\nindex 1111111..2222222 100644\n--- a/\(path)\n+++ b/\(path)\n"
        let oldCount = context.count + removed.count
        let newCount = context.count + added.count
        text += "@@ -\(startLine),\(oldCount) +\(startLine),\(newCount) @@\n"
        for line in context { text += " \(line)\n" }
        for line in removed { text += "-\(line)\n" }
        for line in added { text += "+\(line)\n" }
    }

    func parsed() throws -> ParsedDiff { try DiffParser.parse(text) }
}

/// Runs every agent (or one) on a diff.
func review(_ diff: String, configuration: RepositoryConfiguration = .default, agent: AgentKind? = nil)
    async throws -> [Finding]
{
    let input = ReviewInput(diff: try DiffParser.parse(diff), configuration: configuration)
    if let agent { return try await ReviewAgents.agent(agent).review(input) }
    return try await ReviewAgents.reviewAll(input)
}

/// Deterministic pseudo-random text for fake credentials, so no token-shaped literal sits in the sources.
enum Fake {
    static let alphanumerics = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
    static let upperDigits = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
    static let base64 = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func string(_ count: Int, from alphabet: [UInt8], seed: UInt64) -> String {
        var generator = SplitMix64(seed: seed)
        return String(
            decoding: (0..<count).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] },
            as: UTF8.self)
    }

    static func alnum(_ count: Int, seed: UInt64 = 1) -> String { string(count, from: alphanumerics, seed: seed) }
    static func digits(_ count: Int, seed: UInt64) -> String {
        string(count, from: Array("0123456789".utf8), seed: seed)
    }
    static func hex(_ count: Int, seed: UInt64) -> String {
        string(count, from: Array("0123456789abcdef".utf8), seed: seed)
    }
}

/// A small, fast, seedable generator (SplitMix64) for reproducible fuzzing.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
