import Testing

@testable import ReviewAgents

/// Feeds random and mutated bytes to the parser and the agents: they may reject input with a DiffParseError,
/// but must never trap, hang or throw anything else.
@Suite("Fuzzing")
struct FuzzTests {
    static let seedDiff: [UInt8] = {
        var builder = DiffBuilder()
        builder.newFile(
            "src/app.py",
            ["import os", "def f(x):", "    os.system(\"ls \" + x)", "    # TODO: fix", "    return eval(x)"])
        builder.modify(
            "web/ui.js", context: ["function show(h) {"], removed: ["  el.textContent = h;"],
            added: ["  el.innerHTML = h;", "  for (const a of xs) {", "    await db.query(a);", "  }"])
        builder.newFile(
            "db/migrations/1.sql", ["ALTER TABLE t ADD COLUMN c int NOT NULL;", "CREATE INDEX i ON t (c);"])
        builder.modify("package.json", context: ["  \"dependencies\": {"], added: ["    \"x\": \"^1.0.0\","])
        return Array(builder.text.utf8)
            + Array("diff --git a/b.bin b/b.bin\nGIT binary patch\nliteral 3\nKcmZ?w\n\n".utf8)
    }()

    static let interesting: [[UInt8]] = [
        "diff --git ", "@@ -1,3 +1,4 @@", "@@ -0,0 +1 @@\n", "\n+", "\n-", "\n ", "\n\\ No newline at end of file\n",
        "--- a/x\n+++ b/x\n", "rename from x\n", "\"", "\\", "\r\n", "\u{0}", "@@@", "+++ /dev/null\n", "Binary files ",
    ].map { Array($0.utf8) }

    static func mutate(_ input: [UInt8], using generator: inout SplitMix64) -> [UInt8] {
        var bytes = input
        let operations = 1 + Int(generator.next() % 8)
        for _ in 0..<operations {
            let position = bytes.isEmpty ? 0 : Int(generator.next() % UInt64(bytes.count))
            switch generator.next() % 6 {
            case 0 where !bytes.isEmpty:
                bytes[position] = UInt8(truncatingIfNeeded: generator.next())
            case 1 where !bytes.isEmpty:
                let length = min(bytes.count - position, 1 + Int(generator.next() % 40))
                bytes.removeSubrange(position..<(position + length))
            case 2:
                let chunk = interesting[Int(generator.next() % UInt64(interesting.count))]
                bytes.insert(contentsOf: chunk, at: position)
            case 3 where !bytes.isEmpty:
                let length = min(bytes.count - position, 1 + Int(generator.next() % 80))
                bytes.insert(contentsOf: bytes[position..<(position + length)], at: position)
            case 4:
                bytes = Array(bytes[..<position])
            default:
                bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
            }
        }
        return bytes
    }

    @Test("mutated diffs never crash the parser or the agents", arguments: 0..<8)
    func mutated(batch: Int) async throws {
        var generator = SplitMix64(seed: 0xA6E7 &+ UInt64(batch))
        var parsed = 0
        for _ in 0..<250 {
            let input = Self.mutate(Self.seedDiff, using: &generator)
            do {
                let diff = try DiffParser.parse(bytes: input)
                parsed += 1
                let findings = try await ReviewAgents.reviewAll(ReviewInput(diff: diff))
                _ = try SARIFRenderer.render(ReviewReport(diff: diff, findings: findings))
            } catch is DiffParseError {
                continue
            }
        }
        #expect(parsed > 0)
    }

    @Test("random bytes never crash the parser", arguments: 0..<4)
    func random(batch: Int) {
        var generator = SplitMix64(seed: 0x5EED &+ UInt64(batch))
        for _ in 0..<300 {
            let length = Int(generator.next() % 512)
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            _ = try? DiffParser.parse(bytes: bytes)
        }
    }
}
