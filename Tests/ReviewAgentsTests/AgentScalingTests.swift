import Testing

@testable import ReviewAgents

/// The agents' costs grow with the size of a hunk, not with its square; compared as ratios, never with a budget.
@Suite("Agent cost")
struct AgentScalingTests {
    /// The scan `BraceIndex` replaces: from the header, the first brace to open within five lines, then the brace
    /// that brings the depth back.
    static func scannedEnd(_ hunk: [SourceLine], header: Int) -> BraceIndex.End {
        var depth = 0
        var opened = false
        var k = header
        while k < hunk.count {
            for byte in hunk[k].code {
                if byte == UInt8(ascii: "{") {
                    depth += 1
                    opened = true
                } else if byte == UInt8(ascii: "}") {
                    depth -= 1
                    if opened && depth <= 0 { return .line(k) }
                }
            }
            if !opened && k > header + 3 { return .noBody }
            k += 1
        }
        return .openAtEnd
    }

    @Test("the brace index finds the same function ends as a scan, on random code")
    func braceIndexMatchesScan() {
        let pieces = ["{", "}", "}", "{", "x = 1;", " ", "f() {", "'{'", "// }", "} else {", "{ }"]
        var generator = SplitMix64(seed: 42)
        for _ in 0..<2_000 {
            var lexer = LineLexer(language: .javascript)
            let count = Int(generator.next() % 30) + 1
            let hunk = (0..<count).map { number in
                let text = (0..<Int(generator.next() % 4)).map { _ in
                    pieces[Int(generator.next() % UInt64(pieces.count))]
                }.joined(separator: " ")
                return lexer.lex(Array(text.utf8), number: number + 1, isAdded: true)
            }
            let index = BraceIndex(hunk)
            for header in hunk.indices {
                #expect(index.end(ofFunctionAt: header) == Self.scannedEnd(hunk, header: header))
            }
        }
    }

    @Test("the quality agent is linear in a hunk of functions that never close")
    func unclosedFunctions() async throws {
        func input(_ lines: Int) throws -> ReviewInput {
            var builder = DiffBuilder()
            builder.newFile("web/a.js", (0..<lines).map { "function f\($0)() {" })
            return ReviewInput(diff: try builder.parsed())
        }
        let small = try input(2_000)
        let large = try input(20_000)
        let agent = ReviewAgents.agent(.quality)
        let clock = ContinuousClock()
        var smallBest = Double.infinity
        var largeBest = Double.infinity
        for _ in 0..<3 {
            smallBest = min(smallBest, seconds(try await clock.measure { _ = try await agent.review(small) }))
            largeBest = min(largeBest, seconds(try await clock.measure { _ = try await agent.review(large) }))
        }
        // Linear gives about 1; the scan from every header gave about 10.
        let ratio = (largeBest / 20_000) / (smallBest / 2_000)
        #expect(ratio < 4, "time per line grew \(ratio) times from 2,000 to 20,000 lines")
    }
}
