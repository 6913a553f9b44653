import DiffSources
import Foundation
import PostgresClient
import ReviewStore
import ReviewWorkflow
import TaskQueue
import TestSupport
import Testing

/// A diff touching `count` files, each with one added line.
func manyFileDiff(_ count: Int) -> String {
    var text = ""
    text.reserveCapacity(count * 120)
    for index in 0..<count {
        text +=
            "diff --git a/f\(index).txt b/f\(index).txt\nnew file mode 100644\n--- /dev/null\n+++ b/f\(index).txt\n@@ -0,0 +1 @@\n+x\n"
    }
    return text
}

@Suite("bad input", .serialized)
struct BadInputTests {
    @Test(
        "hostile and broken review tasks end dead with their reason or succeed; nothing half-stored; one worker process throughout",
        .timeLimit(.minutes(3)))
    func hostileReviewTasks() async throws {
        let injection = "'); DROP TABLE tasks; --"
        try await QueueFixture.with { fixture in
            let huge = String(repeating: "x", count: 51 * 1024 * 1024)
            var expectations: [(id: Int64, state: TaskState, mentions: String)] = []
            func add(_ name: String, _ payload: String, _ state: TaskState, _ mentions: String) async throws {
                let id = try await fixture.pool.run(
                    try EnqueueTask(
                        NewTask(kind: "review", payload: PostgresJSON(text: payload), maxAttempts: 2)
                    )
                ).id
                expectations.append((id, state, mentions))
                _ = name
            }
            func json(_ value: some Encodable) throws -> String { try PostgresJSON(encoding: value).text }

            try await add("wrong type", #"{"source": {"diff": 42}}"#, .dead, "wrong type")
            try await add("missing source", #"{"repo": "a/b"}"#, .dead, "missing field 'source'")
            try await add(
                "two sources", #"{"source": {"diff": "x", "pr_url": "https://github.com/a/b/pull/1"}}"#, .dead,
                "exactly one")
            try await add(
                "not a diff", try json(ReviewRequest(source: .diff("hello\u{1}\u{2}world"))), .dead, "cannot be parsed")
            try await add(
                "bad hunk",
                try json(ReviewRequest(source: .diff("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -a,b +c @@\n+x\n"))),
                .dead, "cannot be parsed")
            try await add(
                "too many files", try json(ReviewRequest(source: .diff(manyFileDiff(100_000)))), .dead, "files")
            try await add("too large", try json(ReviewRequest(source: .diff(huge))), .dead, "limit")
            try await add(
                "bad url", try json(ReviewRequest(source: .pullRequest(url: "javascript:alert(1)"))), .dead,
                "not a GitHub pull request URL")
            try await add(
                "git path injection",
                try json(
                    ReviewRequest(source: .git(path: "/nonexistent; rm -rf /", base: "--output=/tmp/x", head: "HEAD"))),
                .dead, "not a valid revision")
            try await add(
                "injection in every text field",
                try json(
                    ReviewRequest(
                        source: .diff(sampleDiff), repo: injection, prNumber: 1, title: injection, author: injection,
                        headSHA: injection, prURL: injection)),
                .succeeded, ""
            )
            // A diff that is large but within the limits reviews fine.
            try await add(
                "large but fine", try json(ReviewRequest(source: .diff(manyFileDiff(15_000)))), .succeeded, "")

            let worker = try RunningProcess(
                "queue-worker", ["--instance", "bad-input"],
                environment: try reviewWorkerEnvironment(fixture, ["LOG_LEVEL": "info"]))
            let settled = try await eventually(timeout: .seconds(120), every: .milliseconds(200)) {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state IN ('pending', 'running')")
                    == 0
            }
            #expect(settled, "\(worker.log.suffix(3000))")
            #expect(worker.isRunning, "the worker must never exit because of input")
            let pid = worker.pid
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
            // One boot: the registry has a single row for this instance.
            #expect(
                try await fixture.scalar(Int.self, "SELECT count(*) FROM workers WHERE instance = 'bad-input'") == 1)
            #expect(
                try await fixture.scalar(Int.self, "SELECT pid FROM workers WHERE instance = 'bad-input'") == Int(pid))

            for expectation in expectations {
                let record = try #require(try await fixture.pool.run(FetchTask(id: expectation.id)))
                #expect(record.state == expectation.state, "task \(expectation.id): \(record.errors.map(\.message))")
                if expectation.state == .dead {
                    #expect(record.attempt == 1, "a bad input is dead at once, not retried")
                    let message = record.errors.last?.message ?? ""
                    #expect(expectation.mentions.isEmpty || message.contains(expectation.mentions), "\(message)")
                    #expect(
                        try await fixture.scalar(
                            Int.self, "SELECT count(*) FROM review_history WHERE task_id = \(expectation.id)") == 0)
                }
            }
            // The hostile strings were stored verbatim, as values.
            #expect(
                try await fixture.scalar(
                    Int.self,
                    "SELECT count(*) FROM review_history WHERE repo = \(injection) AND pr_title = \(injection)") == 1)
            #expect(
                try await fixture.scalar(Int.self, "SELECT count(*) FROM pull_requests WHERE repo = \(injection)") == 1)
            #expect(try await fixture.scalar(Bool.self, "SELECT to_regclass('tasks') IS NOT NULL"))
        }
    }

    @Test("a non-UTF-8 diff from a git repository is reviewed")
    func nonUTF8Diff() async throws {
        let path = try makeGitRepository()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A Latin-1 file: byte 0xE9 is not UTF-8.
        try Data([0x63, 0x61, 0x66, 0xE9, 0x20, 0x3D, 0x20, 0x31, 0x0A]).write(
            to: URL(fileURLWithPath: path + "/latin1.py"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = [
            "-C", path, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qam", "x", "--allow-empty",
        ]
        try process.run()
        process.waitUntilExit()
        let add = Process()
        add.executableURL = URL(fileURLWithPath: "/bin/sh")
        add.arguments = [
            "-c",
            "cd '\(path)' && git add latin1.py && git -c user.name=T -c user.email=t@example.com commit -qm latin1",
        ]
        try add.run()
        add.waitUntilExit()
        try await QueueFixture.with { fixture in
            let id = try await fixture.pool.run(
                try EnqueueTask(
                    try reviewTask(ReviewRequest(source: .git(path: path, base: "main~1", head: "main")))
                )
            ).id
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "latin1"], environment: try reviewWorkerEnvironment(fixture))
            let done = try await eventually(timeout: .seconds(20)) {
                try await fixture.pool.run(FetchTask(id: id))?.state == .succeeded
            }
            #expect(done, "\(worker.log)")
            // The diff travelled as base64 in the checkpoint.
            #expect(
                try await fixture.scalar(
                    Bool.self,
                    "SELECT output->'output' ? 'diff_base64' FROM task_checkpoints WHERE task_id = \(id) AND node = 'fetch_diff'"
                ))
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
        }
    }
}
