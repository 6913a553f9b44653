import DiffSources
import Foundation
import PostgresClient
import ReviewAgents
import ReviewStore
import ReviewWorkflow
import TaskQueue
import TestSupport
import Testing

/// A small unified diff.
let sampleDiff = """
    diff --git a/app/db.py b/app/db.py
    index 1111111..2222222 100644
    --- a/app/db.py
    +++ b/app/db.py
    @@ -1,2 +1,3 @@
     import sqlite3
    +query = "SELECT * FROM users WHERE id = " + user_id
     conn = sqlite3.connect("db")

    """

/// Runs git in a directory and returns its trimmed output.
@discardableResult
func git(_ arguments: [String], in directory: URL) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
    process.arguments = ["-C", directory.path, "-c", "user.name=Test", "-c", "user.email=test@example.com"] + arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw TestDatabaseError("git \(arguments) failed") }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Claims the fixture's next task as a worker would (waiting until a child process has enqueued it).
func claimNext(_ fixture: QueueFixture) async throws -> ClaimedTask {
    var claimed: ClaimedTask?
    _ = try await eventually(timeout: .seconds(30)) {
        claimed = try await fixture.pool.run(
            ClaimTasks(
                workerID: "test/1/boot", queues: ["default"], limit: 1, lease: .seconds(60)
            )
        ).first
        return claimed != nil
    }
    return try #require(claimed)
}

/// A finished review with one finding per counted agent.
func reviewResult(
    _ verdict: Verdict.Status, counts: [String: Int] = ["security": 1, "scale": 0, "quality": 2, "architecture": 0]
)
    -> ReviewResult
{
    var findings: [Finding] = []
    for (agent, count) in counts.sorted(by: { $0.key < $1.key }) {
        for index in 0..<count {
            findings.append(
                Finding(
                    agent: AgentKind(rawValue: agent)!, ruleId: "\(agent).rule-\(index)",
                    severity: index == 0 ? .high : .low, path: "app/db.py", line: 2 + index,
                    message: "\(agent) finding \(index)", suggestion: nil, fingerprint: "fp-\(agent)-\(index)"
                )
            )
        }
    }
    return ReviewResult(
        verdictStatus: verdict, summary: "**\(verdict.rawValue)**: \(findings.count) findings\n\n- app/db.py:2",
        counts: counts, findings: findings,
        agents: ReviewAgentName.all.map {
            AgentRun(agent: $0, executionTimeMilliseconds: 12, findingsCount: counts[$0] ?? 0)
        },
        executionTimeMilliseconds: 1234.5
    )
}

@Suite("queuectl enqueue review", .serialized)
struct EnqueueReviewTests {
    @Test("--pr-url of a GitHub Enterprise Server: accepted when GITHUB_API_URL names its API, refused otherwise")
    func enterprisePullRequestURL() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            let url = "https://ghe.example.com/acme/api/pull/3"
            let refused = try await cli.run(["enqueue", "review", "--pr-url", url])
            #expect(refused.status == 2)
            #expect(refused.standardError.contains("--pr-url must look like https://github.com/OWNER/NAME/pull/N"))
            let accepted = try await cli.run(
                ["enqueue", "review", "--pr-url", url],
                environment: ["GITHUB_API_URL": "https://ghe.example.com/api/v3"])
            #expect(accepted.status == 0, "\(accepted.standardError)")
            let id = try #require(Int64(accepted.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)))
            let request = try #require(try await fixture.pool.run(FetchTask(id: id))).payload.decode(ReviewRequest.self)
            #expect(request.repo == "acme/api" && request.prNumber == 3 && request.prURL == url)
            let other = try await cli.run(
                ["enqueue", "review", "--pr-url", "https://evil.example.com/acme/api/pull/3"],
                environment: ["GITHUB_API_URL": "https://ghe.example.com/api/v3"])
            #expect(other.status == 2)
            #expect(other.standardError.contains("--pr-url must look like https://ghe.example.com/OWNER/NAME/pull/N"))
        }
    }

    @Test("--pr-url: repo and number come from the URL, the dedupe key from --head-sha; --force and --dedupe-key")
    func pullRequestURL() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            let arguments = [
                "enqueue", "review", "--pr-url", "https://github.com/acme/api/pull/12", "--head-sha", "4f2a9c1",
                "--title", "Add users", "--author", "alice", "--priority", "3",
            ]
            let first = try await cli.run(arguments)
            #expect(first.status == 0, "\(first.standardError)")
            let id = try #require(Int64(first.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)))
            let record = try #require(try await fixture.pool.run(FetchTask(id: id)))
            #expect(record.kind == "review")
            #expect(record.priority == 3)
            #expect(record.dedupeKey == "review:acme/api#12@4f2a9c1")
            let request = try record.payload.decode(ReviewRequest.self)
            #expect(request.source == .pullRequest(url: "https://github.com/acme/api/pull/12"))
            #expect(request.repo == "acme/api")
            #expect(request.prNumber == 12)
            #expect(request.title == "Add users")
            #expect(request.author == "alice")
            #expect(request.headSHA == "4f2a9c1")
            #expect(request.prURL == "https://github.com/acme/api/pull/12")
            #expect(
                try await cli.count("SELECT count(*) FROM pull_requests") == 0, "the CLI writes no pull_requests row")

            let duplicate = try await cli.run(arguments)
            #expect(duplicate.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == String(id))
            #expect(duplicate.standardError.contains("use --force"))

            let forced = try await cli.run(arguments + ["--force"])
            let forcedID = try #require(Int64(forced.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(forcedID != id)
            #expect(try await fixture.pool.run(FetchTask(id: forcedID))?.dedupeKey == nil)

            let custom = try await cli.run(arguments + ["--dedupe-key", "mine"])
            let customID = try #require(Int64(custom.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(try await fixture.pool.run(FetchTask(id: customID))?.dedupeKey == "mine")
            #expect(try await cli.taskCount() == 3)
        }
    }

    @Test("--diff FILE and --diff - store the diff in the payload")
    func inlineDiff() async throws {
        try await withTemporaryDirectory { directory in
            try await QueueFixture.with(poolSize: 2) { fixture in
                let cli = CLI(fixture: fixture)
                let file = directory.appendingPathComponent("change.diff")
                try sampleDiff.write(to: file, atomically: true, encoding: .utf8)
                let fromFile = try await cli.run([
                    "enqueue", "review", "--diff", file.path, "--repo", "acme/api", "--pr", "7",
                ])
                #expect(fromFile.status == 0, "\(fromFile.standardError)")
                let fromStdin = try await cli.run(["enqueue", "review", "--diff", "-"], input: sampleDiff)
                #expect(fromStdin.status == 0, "\(fromStdin.standardError)")
                for output in [fromFile, fromStdin] {
                    let id = try #require(Int64(output.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)))
                    let record = try #require(try await fixture.pool.run(FetchTask(id: id)))
                    let request = try record.payload.decode(ReviewRequest.self)
                    #expect(request.source == .diff(sampleDiff))
                    #expect(record.dedupeKey == nil, "no head commit: no dedupe key")
                }
                let request = try #require(
                    try await fixture.pool.run(
                        FetchTask(
                            id: Int64(fromFile.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines))!))
                )
                .payload.decode(ReviewRequest.self)
                #expect(request.repo == "acme/api")
                #expect(request.prNumber == 7)
            }
        }
    }

    @Test("--git: the repository is checked and both revisions are resolved to commits before enqueueing")
    func gitRange() async throws {
        try await withTemporaryDirectory { directory in
            try await QueueFixture.with(poolSize: 2) { fixture in
                let cli = CLI(fixture: fixture)
                let repository = directory.appendingPathComponent("repo")
                try FileManager.default.createDirectory(at: repository, withIntermediateDirectories: true)
                try git(["init", "-q", "-b", "main"], in: repository)
                try "one\n".write(to: repository.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
                try git(["add", "."], in: repository)
                try git(["commit", "-q", "-m", "one"], in: repository)
                let base = try git(["rev-parse", "HEAD"], in: repository)
                try git(["checkout", "-q", "-b", "feature"], in: repository)
                try "two\n".write(to: repository.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
                try git(["commit", "-q", "-am", "two"], in: repository)
                let head = try git(["rev-parse", "HEAD"], in: repository)

                // A relative path, as typed in the repository's parent directory, is stored absolute.
                let output = try await cli.run([
                    "enqueue", "review", "--git", repository.path + "/.", "--base", "main", "--head", "feature",
                    "--repo", "acme/api", "--pr", "3", "--json",
                ])
                #expect(output.status == 0, "\(output.standardError)")
                struct Enqueued: Decodable {
                    let id: Int64
                    let dedupe_key: String?
                }
                let enqueued = try decodeJSON(Enqueued.self, output.standardOutput)
                #expect(enqueued.dedupe_key == "review:acme/api#3@\(head)")
                let request = try #require(try await fixture.pool.run(FetchTask(id: enqueued.id))).payload.decode(
                    ReviewRequest.self)
                let realPath = try #require(realpath(repository.path, nil))
                defer { free(realPath) }
                #expect(request.source == .git(path: String(cString: realPath), base: base, head: head))
                #expect(request.headSHA == head)

                let badRevision = try await cli.run([
                    "enqueue", "review", "--git", repository.path, "--base", "nosuch", "--head", "feature",
                ])
                expectError(badRevision, status: 2, containing: "--base 'nosuch' is not a commit")
                let notRepository = try await cli.run([
                    "enqueue", "review", "--git", directory.path, "--base", "a", "--head", "b",
                ])
                expectError(notRepository, status: 2, containing: "is not a git repository")
                let missing = try await cli.run([
                    "enqueue", "review", "--git", directory.path + "/nope", "--base", "a", "--head", "b",
                ])
                expectError(missing, status: 2, containing: "No such file or directory")
                #expect(try await cli.taskCount() == 1)
            }
        }
    }

    @Test(
        "bad review input is refused with exit status 2 and stores nothing",
        arguments: [
            (
                ["--pr-url", "https://github.com/acme/api/pulls/12"],
                "--pr-url must look like https://github.com/OWNER/NAME/pull/N"
            ),
            (["--pr-url", "http://github.com/acme/api/pull/12"], "--pr-url must look like"),
            (["--pr-url", "https://github.com/acme/api/pull/0"], "--pr-url must look like"),
            (["--pr-url", "https://github.com/acme/api/pull/12", "--repo", "acme/web"], "does not match"),
            (["--pr-url", "https://github.com/acme/api/pull/12", "--pr", "13"], "does not match"),
            (["--pr-url", "https://github.com/acme/api/pull/12", "--head-sha", "xyz"], "hexadecimal"),
            (["--diff", "-", "--repo", "acme"], "OWNER/NAME"),
            (["--diff", "-", "--git", "."], "only one of --diff, --git and --pr-url"),
            ([], "give the change to review"),
            (["--git", "."], "--git needs both --base and --head"),
            (["--diff", "-", "--force", "--dedupe-key", "k"], "--force means no dedupe key"),
            (["--diff", "/nonexistent.diff"], "No such file or directory"),
            (["--from", "x.jsonl", "--repo", "acme/api"], "leave out --repo"),
        ]
    )
    func badInput(arguments: [String], fragment: String) async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            let output = try await cli.run(["enqueue", "review"] + arguments, input: sampleDiff)
            expectError(output, status: 2, containing: fragment)
            #expect(try await cli.taskCount() == 0)
        }
    }

    @Test("--diff refuses empty input, text that is not a diff, NUL bytes, invalid UTF-8 and diffs over 50 MB")
    func diffChecks() async throws {
        try await withTemporaryDirectory { directory in
            try await QueueFixture.with(poolSize: 2) { fixture in
                let cli = CLI(fixture: fixture)
                expectError(
                    try await cli.run(["enqueue", "review", "--diff", "-"], input: "\n"), status: 2,
                    containing: "is empty")
                expectError(
                    try await cli.run(["enqueue", "review", "--diff", "-"], input: "just some text\n"), status: 2,
                    containing: "does not look like a unified diff"
                )
                let nul = directory.appendingPathComponent("nul.diff")
                try Data(sampleDiff.utf8 + [0, 1, 2]).write(to: nul)
                expectError(
                    try await cli.run(["enqueue", "review", "--diff", nul.path]), status: 2, containing: "NUL bytes")
                let latin1 = directory.appendingPathComponent("latin1.diff")
                try Data(sampleDiff.utf8 + [0xE9, 0x0A]).write(to: latin1)
                expectError(
                    try await cli.run(["enqueue", "review", "--diff", latin1.path]), status: 2,
                    containing: "not valid UTF-8")
                let big = directory.appendingPathComponent("big.diff")
                var text = sampleDiff
                let line = "+" + String(repeating: "x", count: 1023) + "\n"
                text += String(repeating: line, count: 51 * 1024)
                try text.write(to: big, atomically: true, encoding: .utf8)
                expectError(
                    try await cli.run(["enqueue", "review", "--diff", big.path]), status: 2,
                    containing: "the diff is larger than 50.0 MB"
                )
                #expect(try await cli.taskCount() == 0)
            }
        }
    }

    @Test(
        "--wait prints the verdict and summary and exits 0, 5 or 6 by verdict",
        arguments: [(Verdict.Status.approved, Int32(0)), (.approvedWithComments, 5), (.changesRequested, 6)]
    )
    func waitForVerdict(verdict: Verdict.Status, status: Int32) async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            async let waiting = cli.run(
                [
                    "enqueue", "review", "--diff", "-", "--repo", "acme/api", "--pr", "9", "--head-sha", "abcdef1",
                    "--wait", "--timeout", "60s",
                ],
                input: sampleDiff
            )
            let claimed = try await claimNext(fixture)
            #expect(claimed.record.kind == "review")
            try await Task.sleep(for: .milliseconds(300))  // let the waiter see the task running
            let result = reviewResult(verdict)
            #expect(try await fixture.complete(claimed.lease, result: PostgresJSON(encoding: result)) == .written)
            let output = try await waiting
            #expect(output.status == status, "\(output.standardError)")
            // No bare id first: the verdict line names the task.
            let lines = output.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(
                lines.first
                    == "task \(claimed.record.id): \(verdict.rawValue) · 3 findings (security 1, scale 0, quality 2, architecture 0) · 1.23s"
            )
            #expect(output.standardOutput.contains("**\(verdict.rawValue)**: 3 findings"))
            #expect(output.standardError.isEmpty, "\(output.standardError)")
        }
    }

    @Test("on a terminal, --wait prints the findings in colour instead of the Markdown summary")
    func waitOnTerminal() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            async let waiting = cli.run(
                ["enqueue", "review", "--diff", "-", "--wait", "--timeout", "60s"], input: sampleDiff, terminal: true)
            let claimed = try await claimNext(fixture)
            let result = reviewResult(.changesRequested)
            #expect(try await fixture.complete(claimed.lease, result: PostgresJSON(encoding: result)) == .written)
            let output = try await waiting
            #expect(output.status == 6, "\(output.standardError)")
            #expect(!output.standardOutput.contains("**changes_requested**"), "\(output.standardOutput)")
            #expect(output.standardOutput.contains("\u{1B}[31mchanges_requested\u{1B}[0m"))
            #expect(
                output.standardOutput.contains("\u{1B}[31mhigh\u{1B}[0m  app/db.py:2  security.rule-0"),
                "\(output.standardOutput)")
            #expect(output.standardOutput.contains("security finding 0"))
        }
    }

    @Test(
        "--wait --fail-on exits like queuectl review: 10 when a finding is at least that severe, 0 otherwise",
        arguments: [("high", Int32(10)), ("low", 10), ("critical", 0), ("none", 0)]
    )
    func waitFailOn(threshold: String, status: Int32) async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            async let waiting = cli.run(
                ["enqueue", "review", "--diff", "-", "--wait", "--timeout", "60s", "--fail-on", threshold],
                input: sampleDiff)
            let claimed = try await claimNext(fixture)
            // Changes requested: two high findings and a low one, none critical.
            let result = reviewResult(.changesRequested)
            #expect(try await fixture.complete(claimed.lease, result: PostgresJSON(encoding: result)) == .written)
            let output = try await waiting
            #expect(output.status == status, "\(output.standardError)")
            #expect(output.standardOutput.hasPrefix("task \(claimed.record.id): changes_requested · 3 findings"))
        }
        let alone = try await runQueuectl(["enqueue", "review", "--diff", "-", "--fail-on", "high"], input: sampleDiff)
        expectError(alone, status: 2, containing: "--fail-on needs --wait")
    }

    @Test("--wait --json prints one JSON document with the verdict and the whole result")
    func waitJSON() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            async let waiting = cli.run([
                "enqueue", "review", "--pr-url", "https://github.com/acme/api/pull/5", "--wait", "--json",
            ])
            let claimed = try await claimNext(fixture)
            _ = try await fixture.complete(
                claimed.lease, result: PostgresJSON(encoding: reviewResult(.changesRequested)))
            let output = try await waiting
            #expect(output.status == 6)
            struct Waited: Decodable {
                let id: Int64
                let state: String
                let verdict_status: String
                let result: ReviewResult
            }
            let waited = try decodeJSON(Waited.self, output.standardOutput)
            #expect(waited.id == claimed.record.id)
            #expect(waited.state == "succeeded")
            #expect(waited.verdict_status == "changes_requested")
            #expect(waited.result == reviewResult(.changesRequested))
        }
    }

    @Test(
        "--wait: a dead task exits 1 with its last error, a cancelled one 1, and --timeout exits 4 leaving the task queued"
    )
    func waitFailures() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            async let dying = cli.run([
                "enqueue", "review", "--pr-url", "https://github.com/acme/api/pull/1", "--max-attempts", "1", "--wait",
            ])
            let claimed = try await claimNext(fixture)
            _ = try await fixture.pool.run(FailTask(claimed.lease, message: "GitHub said 404", retry: RetryPolicy()))
            let dead = try await dying
            expectError(
                dead, status: 1, containing: "task \(claimed.record.id) is dead after 1 attempt: GitHub said 404")
            #expect(dead.standardError.contains("queuectl retry \(claimed.record.id)"))

            async let cancelling = cli.run(["enqueue", "task", "--kind", "noop", "--run-after", "1h", "--wait"])
            var pendingID: Int64?
            _ = try await eventually {
                pendingID = try await fixture.pool.query("SELECT id FROM tasks WHERE kind = 'noop'").single?.decode(
                    Int64.self, "id")
                return pendingID != nil
            }
            _ = try await fixture.pool.run(CancelTask(id: try #require(pendingID)))
            expectError(try await cancelling, status: 1, containing: "was cancelled")

            let started = ContinuousClock.now
            let timedOut = try await cli.run([
                "enqueue", "review", "--pr-url", "https://github.com/acme/api/pull/2", "--wait", "--timeout", "1500ms",
            ])
            expectError(timedOut, status: 4, containing: "is still pending after 1.50s")
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(timedOut.standardOutput.isEmpty, "the error names the task: \(timedOut.standardOutput)")
            #expect(try await cli.count("SELECT count(*) FROM tasks WHERE state = 'pending'") == 1)
        }
    }

    @Test("--from: review requests in batches; git ranges resolved once; a bad line stores nothing")
    func reviewsFromFile() async throws {
        try await withTemporaryDirectory { directory in
            try await QueueFixture.with(poolSize: 2) { fixture in
                let cli = CLI(fixture: fixture)
                let diffJSON = String(decoding: try JSONEncoder().encode(sampleDiff), as: UTF8.self)
                var lines = (1...250).map { n in
                    #"{"source": {"pr_url": "https://github.com/acme/api/pull/\#(n)"}, "head_sha": "abcdef\#(n % 10)"}"#
                }
                lines.append(#"{"source": {"diff": \#(diffJSON)}, "repo": "acme/web", "pr_number": 1}"#)
                let file = directory.appendingPathComponent("reviews.jsonl")
                try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
                let output = try await cli.run([
                    "enqueue", "review", "--from", file.path, "--batch-size", "100", "--queue", "reviews",
                ])
                #expect(output.status == 0, "\(output.standardError)")
                #expect(output.standardOutput.split(separator: "\n").count == 251)
                #expect(
                    try await cli.count("SELECT count(*) FROM tasks WHERE kind = 'review' AND queue = 'reviews'") == 251
                )
                #expect(
                    try await cli.count("SELECT count(*) FROM tasks WHERE dedupe_key = 'review:acme/api#17@abcdef7'")
                        == 1)
                #expect(
                    try await cli.count(
                        "SELECT count(*) FROM tasks WHERE payload->>'repo' = 'acme/api' AND (payload->>'pr_number')::int BETWEEN 1 AND 250"
                    ) == 250)

                for (bad, fragment) in [
                    (#"{"source": {"pr_url": "https://example.com/pull/1"}}"#, "source.pr_url must look like"),
                    (#"{"source": {}}"#, "source must have exactly one of diff, git or pr_url"),
                    (#"{"repo": "acme/api"}"#, "source is missing"),
                    (
                        #"{"source": {"git": {"path": "/nonexistent", "base": "a", "head": "b"}}}"#,
                        "No such file or directory"
                    ),
                    (#"{"source": {"diff": "hello"}}"#, "does not look like a unified diff"),
                ] {
                    let badFile = directory.appendingPathComponent("bad.jsonl")
                    try (Array(lines.prefix(120)) + [bad]).joined(separator: "\n").write(
                        to: badFile, atomically: true, encoding: .utf8)
                    let refused = try await cli.run(["enqueue", "review", "--from", badFile.path, "--force"])
                    expectError(refused, status: 2, containing: "line 121: ")
                    #expect(refused.standardError.contains(fragment), "\(refused.standardError)")
                }
                #expect(try await cli.taskCount() == 251)
            }
        }
    }
}
