import ReviewAgents
import Testing

@testable import ModelAgents

@Suite("Diff chunking")
struct ChunkingTests {
    /// `files` Python files, each with `hunks` hunks of `lines` added lines.
    static func largeDiff(files: Int, hunks: Int, lines: Int) throws -> ParsedDiff {
        var text = ""
        for file in 0..<files {
            text += "diff --git a/src/m\(file).py b/src/m\(file).py\nindex 1111111..2222222 100644\n"
            text += "--- a/src/m\(file).py\n+++ b/src/m\(file).py\n"
            for hunk in 0..<hunks {
                let start = 1 + hunk * (lines + 10)
                text += "@@ -\(start),1 +\(start),\(lines + 1) @@ def f\(hunk)():\n"
                text += " context_\(hunk) = 0\n"
                for line in 0..<lines {
                    text += "+value_\(file)_\(hunk)_\(line) = compute(\(line))\n"
                }
            }
        }
        return try diff(text)
    }

    @Test("a large diff is split into chunks within the budget, every added line sent exactly once")
    func splits() throws {
        let large = try Self.largeDiff(files: 6, hunks: 5, lines: 30)
        let plan = DiffChunker.plan(large, agent: .quality, configuration: .default, budget: 4_000, maxChunks: 100)
        #expect(plan.chunks.count > 5)
        #expect(plan.skippedHunks == 0)
        for chunk in plan.chunks {
            // The budget covers hunks and file headers; headers of split hunks add a few bytes at most.
            #expect(chunk.text.utf8.count <= 4_000 + 200)
        }
        var sent: [String: [Int]] = [:]
        for chunk in plan.chunks {
            for (path, lines) in chunk.addedLines { sent[path, default: []] += lines }
        }
        for file in large.files {
            let added = file.hunks.flatMap { $0.lines.filter { $0.kind == .added }.compactMap(\.newLine) }
            #expect(sent[file.path]?.sorted() == added.sorted())
        }
        // Every line a chunk claims is shown in it, with its number.
        let chunk = plan.chunks[0]
        for (_, lines) in chunk.addedLines {
            for line in lines {
                #expect(chunk.text.contains("+" + String(repeating: " ", count: 6 - "\(line)".count) + "\(line) | "))
            }
        }
    }

    @Test("a hunk larger than the budget is split into continued pieces")
    func splitsAHunk() throws {
        let large = try Self.largeDiff(files: 1, hunks: 1, lines: 400)
        let plan = DiffChunker.plan(large, agent: .quality, configuration: .default, budget: 2_000, maxChunks: 100)
        #expect(plan.chunks.count > 5)
        #expect(plan.chunks.dropFirst().allSatisfy { $0.text.contains("(continued)") })
        #expect(plan.chunks.reduce(0) { $0 + ($1.addedLines["src/m0.py"]?.count ?? 0) } == 400)
    }

    @Test("the chunk limit bounds the calls and counts what was left out")
    func limit() throws {
        let large = try Self.largeDiff(files: 6, hunks: 5, lines: 30)
        let plan = DiffChunker.plan(large, agent: .quality, configuration: .default, budget: 4_000, maxChunks: 3)
        #expect(plan.chunks.count == 3)
        #expect(plan.skippedHunks > 0)
        let sentHunks = Set(
            plan.chunks.flatMap { chunk in
                chunk.addedLines.flatMap { path, lines in lines.map { "\(path):\(($0 - 1) / 40)" } }
            })
        #expect(sentHunks.count + plan.skippedHunks >= 30)
    }

    @Test("each agent gets only its files; ignored, binary and deletion-only hunks go to none")
    func relevance() throws {
        let text = """
            diff --git a/src/api.py b/src/api.py
            --- a/src/api.py
            +++ b/src/api.py
            @@ -1,2 +1,2 @@
            -a = 1
            +a = 2
             b = 3
            @@ -10,2 +10,1 @@
             c = 4
            -d = 5
            diff --git a/tests/test_api.py b/tests/test_api.py
            --- a/tests/test_api.py
            +++ b/tests/test_api.py
            @@ -1 +1 @@
            -x = 1
            +x = 2
            diff --git a/docs/guide.md b/docs/guide.md
            --- a/docs/guide.md
            +++ b/docs/guide.md
            @@ -1 +1 @@
            -old
            +new
            diff --git a/package-lock.json b/package-lock.json
            --- a/package-lock.json
            +++ b/package-lock.json
            @@ -1 +1 @@
            -{}
            +{"a": 1}
            diff --git a/vendor/lib.py b/vendor/lib.py
            --- a/vendor/lib.py
            +++ b/vendor/lib.py
            @@ -1 +1 @@
            -v = 1
            +v = 2
            diff --git a/logo.png b/logo.png
            Binary files a/logo.png and b/logo.png differ

            """
        let parsed = try diff(text)
        let configuration = RepositoryConfiguration(ignoredPaths: [PathPattern("vendor/**")])
        func paths(_ agent: AgentKind) -> Set<String> {
            let plan = DiffChunker.plan(
                parsed, agent: agent, configuration: configuration, budget: 10_000, maxChunks: 5)
            return Set(plan.chunks.flatMap { $0.addedLines.keys })
        }
        #expect(paths(.security) == ["src/api.py"])
        #expect(paths(.scale) == ["src/api.py"])
        #expect(paths(.quality) == ["src/api.py", "tests/test_api.py"])
        #expect(paths(.architecture) == ["src/api.py", "tests/test_api.py", "docs/guide.md"])
        let plan = DiffChunker.plan(
            parsed, agent: .security, configuration: configuration, budget: 10_000, maxChunks: 5)
        #expect(!plan.chunks[0].text.contains("d = 5"), "a hunk that only deletes is not sent")
        #expect(plan.summary.contains("M logo.png (binary)"))
        #expect(!plan.summary.contains("vendor/lib.py"), "ignored paths are not even listed")
    }
}
