import AgentGraph
import DiffSources
import Foundation
import PostgresClient
import ReviewAgents
import ReviewStore
import ReviewWorkflow
import TaskQueue
import TestSupport
import Testing

/// A small diff with findings for three of the four agents.
let sampleDiff = """
    diff --git a/app/db.py b/app/db.py
    index 1111111..2222222 100644
    --- a/app/db.py
    +++ b/app/db.py
    @@ -1,3 +1,8 @@
     import os
    +import subprocess
    +def find(user_id):
    +    cursor.execute("SELECT * FROM users WHERE id = " + user_id)
    +    subprocess.call("ls " + user_id, shell=True)
    +    print("debug", user_id)
     def ok():
         return 1

    """

func reviewTask(_ request: ReviewRequest, maxAttempts: Int = 3) throws -> NewTask {
    NewTask(kind: "review", payload: try PostgresJSON(encoding: request), maxAttempts: maxAttempts)
}

func reviewWorkerEnvironment(_ fixture: QueueFixture, _ extra: [String: String] = [:]) throws -> [String: String] {
    try fixture.workerEnvironment(["LOG_LEVEL": "debug"].merging(extra) { $1 })
}

@Suite("review workflow", .serialized)
struct ReviewWorkflowProcessTests {
    @Test("a worker killed after two agents checkpointed: another finishes without rerunning them, recorded once")
    func resumeAfterSigkill() async throws {
        try await QueueFixture.with { fixture in
            let id = try await fixture.pool.run(
                try EnqueueTask(
                    try reviewTask(ReviewRequest(source: .diff(sampleDiff), repo: "acme/api", prNumber: 7))
                )
            ).id
            let victim = try RunningProcess(
                "queue-worker", ["--instance", "victim"],
                environment: try reviewWorkerEnvironment(
                    fixture, ["AGENTQUEUE_NODE_DELAYS": "quality=60000,architecture=60000"])
            )
            let twoAgentsDone = try await eventually(timeout: .seconds(20)) {
                try await fixture.scalar(
                    Int.self,
                    "SELECT count(*) FROM task_checkpoints WHERE task_id = \(id) AND node IN ('security', 'scale')"
                ) == 2
            }
            #expect(twoAgentsDone, "\(victim.log)")
            victim.send(SIGKILL)
            await victim.waitForExit()
            let survivor = try RunningProcess(
                "queue-worker", ["--instance", "survivor"], environment: try reviewWorkerEnvironment(fixture))
            let finished = try await eventually(timeout: .seconds(20)) {
                try await fixture.pool.run(FetchTask(id: id))?.state == .succeeded
            }
            #expect(finished, "\(survivor.log)")
            survivor.send(SIGTERM)
            #expect(await survivor.waitForExit() == 0)

            // Proof that the finished agents did not run again: their checkpoints are the victim's, and the survivor
            // never started those nodes for this task.
            let rows = try await fixture.pool.query(
                "SELECT node, split_part(worker, '/', 2) AS instance FROM task_checkpoints WHERE task_id = \(id)")
            let writers = Dictionary(
                uniqueKeysWithValues: try rows.map {
                    (try $0.decode(String.self, "node"), try $0.decode(String.self, "instance"))
                })
            #expect(
                writers == [
                    "fetch_diff": "victim", "security": "victim", "scale": "victim", "quality": "survivor",
                    "architecture": "survivor", "verdict": "survivor",
                ])
            // The crash was the worker's, not the review's: the attempt was given back.
            #expect(try await fixture.pool.run(FetchTask(id: id))?.attempt == 1)
            let startedBySurvivor = survivor.log.split(separator: "\n")
                .filter { $0.contains("msg=\"node started\"") && $0.contains("task.id=\(id) ") }
                .compactMap { line in
                    line.split(separator: " ").first { $0.hasPrefix("node=") }.map { String($0.dropFirst(5)) }
                }
            #expect(Set(startedBySurvivor) == ["quality", "architecture", "verdict"])
            #expect(survivor.log.contains("resuming from checkpoints"))
            #expect(
                try await fixture.scalar(Int.self, "SELECT count(*) FROM review_history WHERE task_id = \(id)") == 1)
            #expect(
                try await fixture.scalar(Int.self, "SELECT count(*) FROM agent_performance WHERE task_id = \(id)") == 4)
            let result = try #require(try await fixture.pool.run(FetchTask(id: id))?.result).decode(ReviewResult.self)
            #expect(result.verdictStatus == .changesRequested)
            #expect(result.counts["security"] == 2)
        }
    }

    @Test("each agent's own time is stored, told apart from the others'; each node's start follows its inputs' ends")
    func nodeTimings() async throws {
        try await QueueFixture.with { fixture in
            let id = try await fixture.pool.run(
                try EnqueueTask(try reviewTask(ReviewRequest(source: .diff(sampleDiff), repo: "acme/api", prNumber: 9)))
            ).id
            // Known, different amounts of work per agent (spaced widely: a busy machine delays wake-ups).
            let delays = ["security": 100.0, "scale": 400.0, "quality": 700.0, "architecture": 1000.0]
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "timings"],
                environment: try reviewWorkerEnvironment(
                    fixture,
                    ["AGENTQUEUE_NODE_DELAYS": delays.map { "\($0.key)=\(Int($0.value))" }.joined(separator: ",")])
            )
            let finished = try await eventually(timeout: .seconds(30)) {
                try await fixture.pool.run(FetchTask(id: id))?.state == .succeeded
            }
            #expect(finished, "\(worker.log)")
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)

            let stored = try await fixture.pool.query(
                "SELECT agent, execution_time_ms FROM agent_performance WHERE task_id = \(id)")
            let measured = Dictionary(
                uniqueKeysWithValues: try stored.map {
                    (try $0.decode(String.self, "agent"), try $0.decode(Double.self, "execution_time_ms"))
                })
            #expect(Set(measured.keys) == Set(delays.keys))
            for (agent, delay) in delays {
                let time = measured[agent] ?? 0
                #expect(time >= delay && time < delay + 250, "\(agent): \(time) ms for \(delay) ms of work")
            }

            // Each node starts no earlier than the nodes it depends on end (start and end are the node's own, not
            // its checkpoint's write).
            let rows = try await fixture.pool.run(ListCheckpoints(taskID: id))
            let byNode = Dictionary(uniqueKeysWithValues: rows.map { ($0.node, $0) })
            let tolerance = 0.001
            for agent in delays.keys {
                let node = try #require(byNode[agent])
                let fetch = try #require(byNode["fetch_diff"])
                #expect(node.startedAt.timeIntervalSince(fetch.finishedAt) >= -tolerance, "\(agent)")
            }
            let verdict = try #require(byNode["verdict"])
            let agentEnds = delays.keys.compactMap { byNode[$0]?.finishedAt }
            let lastAgentEnd = try #require(agentEnds.max())
            #expect(verdict.startedAt.timeIntervalSince(lastAgentEnd) >= -tolerance)
            #expect(rows.map(\.node).first == "fetch_diff" && rows.map(\.node).last == "verdict")
        }
    }

    @Test("cancellation takes effect at the next node boundary")
    func cancelAtBoundary() async throws {
        try await QueueFixture.with { fixture in
            let id = try await fixture.pool.run(
                try EnqueueTask(try reviewTask(ReviewRequest(source: .diff(sampleDiff))))
            ).id
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "cancel"],
                environment: try reviewWorkerEnvironment(
                    fixture, ["AGENTQUEUE_NODE_DELAYS": "security=1500,scale=1500,quality=1500,architecture=1500"]
                )
            )
            let agentsRunning = try await eventually(timeout: .seconds(20)) {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM task_checkpoints WHERE task_id = \(id)") == 1
            }
            #expect(agentsRunning)
            #expect(try await fixture.pool.run(CancelTask(id: id)) == .cancelRequested)
            let cancelled = try await eventually(timeout: .seconds(20)) {
                try await fixture.pool.run(FetchTask(id: id))?.state == .cancelled
            }
            #expect(cancelled, "\(worker.log)")
            // The agents running when the request came finished; the verdict and persist never started.
            #expect(
                try await fixture.scalar(
                    Int.self, "SELECT count(*) FROM task_checkpoints WHERE task_id = \(id) AND node = 'verdict'") == 0)
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM review_history") == 0)
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
        }
    }

    @Test("an unparseable diff is dead at once with a clear error; the worker carries on")
    func unparseableDiff() async throws {
        try await QueueFixture.with { fixture in
            let bad = try await fixture.pool.run(
                try EnqueueTask(
                    try reviewTask(
                        ReviewRequest(source: .diff("diff --git a/x b/x\n@@ this is not a hunk header @@\n+x\n")))
                )
            ).id
            let garbage = try await fixture.pool.run(
                try EnqueueTask(
                    try reviewTask(ReviewRequest(source: .diff("just some prose, no diff at all")))
                )
            ).id
            let missingField = try await fixture.pool.run(
                try EnqueueTask(
                    NewTask(kind: "review", payload: PostgresJSON(text: #"{"repo": "x/y"}"#))
                )
            ).id
            let good = try await fixture.pool.run(
                try EnqueueTask(try reviewTask(ReviewRequest(source: .diff(sampleDiff))))
            ).id
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "bad-input"], environment: try reviewWorkerEnvironment(fixture))
            let settled = try await eventually(timeout: .seconds(20)) {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state IN ('dead', 'succeeded')")
                    == 4
            }
            #expect(settled, "\(worker.log)")
            for id in [bad, garbage, missingField] {
                let record = try #require(try await fixture.pool.run(FetchTask(id: id)))
                #expect(record.state == .dead)
                #expect(record.attempt == 1)
            }
            #expect(
                try await fixture.pool.run(FetchTask(id: bad))?.errors.first?.message.hasPrefix(
                    "the diff cannot be parsed")
                    == true)
            #expect(
                try await fixture.pool.run(FetchTask(id: missingField))?.errors.first?.message.contains(
                    "review payload is invalid") == true)
            #expect(try await fixture.pool.run(FetchTask(id: good))?.state == .succeeded)
            #expect(worker.isRunning)
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
        }
    }

    @Test("pull requests are fetched from the GitHub API with the token, which never reaches a log or an error")
    func pullRequestFromGitHub() async throws {
        try await withFakeGitHub { api, authorizationLog in
            try await QueueFixture.with { fixture in
                let token = "ghp_testtoken0123456789abcdefABCDEF012345"
                let ok = try await fixture.pool.run(
                    try EnqueueTask(
                        try reviewTask(ReviewRequest(source: .pullRequest(url: "https://github.com/acme/api/pull/12")))
                    )
                ).id
                let missing = try await fixture.pool.run(
                    try EnqueueTask(
                        try reviewTask(ReviewRequest(source: .pullRequest(url: "https://github.com/acme/api/pull/404")))
                    )
                ).id
                let flaky = try await fixture.pool.run(
                    try EnqueueTask(
                        try reviewTask(
                            ReviewRequest(source: .pullRequest(url: "https://github.com/acme/api/pull/500")),
                            maxAttempts: 2
                        )
                    )
                ).id
                let worker = try RunningProcess(
                    "queue-worker", ["--instance", "github"],
                    environment: try reviewWorkerEnvironment(fixture, ["GITHUB_API_URL": api, "GITHUB_TOKEN": token])
                )
                let settled = try await eventually(timeout: .seconds(30)) {
                    try await fixture.scalar(
                        Int.self, "SELECT count(*) FROM tasks WHERE state IN ('dead', 'succeeded')") == 3
                }
                #expect(settled, "\(worker.log)")
                worker.send(SIGTERM)
                #expect(await worker.waitForExit() == 0)

                #expect(try await fixture.pool.run(FetchTask(id: ok))?.state == .succeeded)
                let row = try #require(
                    try await fixture.pool.query(
                        "SELECT repo, pr_number, pr_title, pr_author, head_sha, pr_url FROM review_history WHERE task_id = \(ok)"
                    ).single)
                #expect(try row.decode(String.self, "repo") == "acme/api")
                #expect(try row.decode(Int.self, "pr_number") == 12)
                #expect(try row.decode(String.self, "pr_title") == "Speed up the importer")
                #expect(try row.decode(String.self, "pr_author") == "octocat")
                #expect(try row.decode(String.self, "head_sha") == "0123456789abcdef0123456789abcdef01234567")
                #expect(
                    try await fixture.scalar(
                        String.self, "SELECT last_head_sha FROM pull_requests WHERE repo = 'acme/api' AND number = 12")
                        == "0123456789abcdef0123456789abcdef01234567")
                let missingRecord = try #require(try await fixture.pool.run(FetchTask(id: missing)))
                #expect(missingRecord.state == .dead)
                #expect(missingRecord.attempt == 1)
                #expect(missingRecord.errors.first?.message.contains("(404)") == true)
                // A node that fails with a retryable error: retried with its error recorded, dead after max attempts.
                let flakyRecord = try #require(try await fixture.pool.run(FetchTask(id: flaky)))
                #expect(flakyRecord.state == .dead)
                #expect(flakyRecord.errors.count == 2)
                #expect(flakyRecord.errors.allSatisfy { $0.message.contains("answered 500") })

                let authorizations = try String(contentsOfFile: authorizationLog, encoding: .utf8)
                #expect(authorizations.contains("Bearer \(token)"))
                #expect(!worker.log.contains(token))
                let errors = try await fixture.scalar(
                    String.self, "SELECT coalesce(string_agg(errors::text, ' '), '') FROM tasks")
                #expect(!errors.contains(token))
            }
        }
    }

    @Test(
        "a local git range is reviewed with the repository's configuration; analytics off keeps the result on the task")
    func gitRangeWithoutAnalytics() async throws {
        let repository = try makeGitRepository()
        defer { try? FileManager.default.removeItem(atPath: repository) }
        try await QueueFixture.with { fixture in
            let id = try await fixture.pool.run(
                try EnqueueTask(
                    try reviewTask(ReviewRequest(source: .git(path: repository, base: "main~1", head: "main")))
                )
            ).id
            let badRevision = try await fixture.pool.run(
                try EnqueueTask(
                    try reviewTask(ReviewRequest(source: .git(path: repository, base: "main", head: "no-such-branch")))
                )
            ).id
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "git"],
                environment: try reviewWorkerEnvironment(
                    fixture, ["ENABLE_ANALYTICS": "false", "ENABLE_CHECKPOINTING": "false"])
            )
            let settled = try await eventually(timeout: .seconds(20)) {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state IN ('dead', 'succeeded')")
                    == 2
            }
            #expect(settled, "\(worker.log)")
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
            let record = try #require(try await fixture.pool.run(FetchTask(id: id)))
            #expect(record.state == .succeeded)
            let result = try #require(record.result).decode(ReviewResult.self)
            // The repository's .agentqueue.yml disables the debug-print rule.
            #expect(!result.findings.contains { $0.ruleId == "quality.debug-print" })
            #expect(result.findings.contains { $0.ruleId == "security.command-injection" })
            #expect(result.reviewID == nil)
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM review_history") == 0)
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM task_checkpoints") == 0)
            #expect(try await fixture.pool.run(FetchTask(id: badRevision))?.state == .dead)
        }
    }
}

/// A throwaway git repository whose last commit adds a risky file, with a configuration that disables one rule.
func makeGitRepository() throws -> String {
    let path = NSTemporaryDirectory() + "aq-repo-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    func git(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = ["-C", path, "-c", "user.name=Test", "-c", "user.email=test@example.com"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestDatabaseError("git \(arguments.joined(separator: " ")) failed")
        }
    }
    try git("init", "-q", "-b", "main")
    try "print('hello')\n".write(toFile: path + "/app.py", atomically: true, encoding: .utf8)
    try "rules:\n  quality.debug-print:\n    enabled: false\n".write(
        toFile: path + "/.agentqueue.yml", atomically: true, encoding: .utf8)
    try git("add", ".")
    try git("commit", "-q", "-m", "first")
    try "import subprocess\ndef run(name):\n    subprocess.call('ls ' + name, shell=True)\n    print(name)\n"
        .write(toFile: path + "/tool.py", atomically: true, encoding: .utf8)
    try git("add", ".")
    try git("commit", "-q", "-m", "second")
    return path
}

/// Runs `body` with the fake GitHub API's base URL and the file where it logs Authorization headers.
func withFakeGitHub(_ body: (String, String) async throws -> Void) async throws {
    let directory = NSTemporaryDirectory() + "aq-github-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try sampleDiff.write(toFile: directory + "/pr.diff", atomically: true, encoding: .utf8)
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("fake_github.py")
        .path
    try await withPythonServer(script: script, arguments: [directory + "/pr.diff", directory + "/authorization.log"]) {
        port in
        try await body("http://127.0.0.1:\(port)", directory + "/authorization.log")
    }
}
