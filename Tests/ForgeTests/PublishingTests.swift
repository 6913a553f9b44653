import DiffSources
import Foundation
import PostgresClient
import ReviewWorkflow
import TaskQueue
import TestSupport
import Testing

/// The pull request the publishing tests review: SQL built by interpolation in a loop (a high and a medium finding on
/// line 6, a low one without a line), from the demo.
let ordersDiff =
    (try? String(contentsOf: repositoryRoot.appendingPathComponent("scripts/demo/1-orders-sql.diff"), encoding: .utf8))
    ?? ""
/// A later push of it: the same change plus a debug switch left on (new findings in another file).
let ordersAndDebugDiff =
    ordersDiff
    + ((try? String(contentsOf: repositoryRoot.appendingPathComponent("scripts/demo/2-web-debug.diff"), encoding: .utf8))
        ?? "")

let shaA = String(repeating: "a", count: 40)
let shaB = String(repeating: "b", count: 40)
let appID = "4242"
let installation = 77

/// A review task of acme/api#7 at `sha` to publish (through the App installation, or with the token).
func publishTask(sha: String, app: Bool = true, maxAttempts: Int = 3) throws -> NewTask {
    let request = ReviewRequest(
        source: .pullRequest(url: "https://github.com/acme/api/pull/7"), repo: "acme/api", prNumber: 7, headSHA: sha,
        prURL: "https://github.com/acme/api/pull/7",
        publish: .init(installationID: app ? installation : nil, draft: false))
    return NewTask(
        kind: "review", payload: try PostgresJSON(encoding: request), maxAttempts: maxAttempts,
        dedupeKey: "review:acme/api#7@\(sha)")
}

/// The worker settings for the fake GitHub (App and token).
func forgeWorkerEnvironment(
    _ fixture: QueueFixture, github: FakeGitHub, keys: AppKeys?, _ extra: [String: String] = [:]
)
    throws -> [String: String]
{
    var settings = ["GITHUB_API_URL": github.url, "GITHUB_TOKEN": "ghp_faketoken0123456789abcdefABCDEF0123"]
    if let keys {
        settings["GITHUB_APP_ID"] = appID
        settings["GITHUB_APP_PRIVATE_KEY_FILE"] = keys.privateKey
    }
    for (key, value) in extra { settings[key] = value }
    return try fixture.workerEnvironment(settings)
}

/// Waits until the task reaches `state`.
func settle(_ fixture: QueueFixture, _ id: Int64, _ state: TaskState = .succeeded, timeout: Duration = .seconds(120))
    async throws -> Bool
{
    try await eventually(timeout: timeout, every: .milliseconds(100)) {
        try await fixture.pool.run(FetchTask(id: id))?.state == state
    }
}

/// How many publications of each kind were recorded.
func publicationCounts(_ fixture: QueueFixture) async throws -> [String: Int] {
    var counts: [String: Int] = [:]
    for row in try await fixture.pool.query("SELECT kind, count(*)::int AS n FROM publications GROUP BY kind") {
        counts[try row.decode(String.self, "kind")] = try row.decode(Int.self, "n")
    }
    return counts
}

@Suite("publishing to pull requests", .serialized)
struct PublishingTests {
    @Test("as a GitHub App: one check run with annotations, one summary comment, one review with inline comments")
    func asApp() async throws {
        let keys = try await AppKeys.make()
        try await FakeGitHub.with(appID: appID, appPublicKey: keys.publicKey) { github in
            try await QueueFixture.with { fixture in
                try await github.addPull(repo: "acme/api", number: 7, headSHA: shaA, diff: ordersDiff)
                let id = try await fixture.pool.run(try EnqueueTask(try publishTask(sha: shaA))).id
                let worker = try RunningProcess(
                    "queue-worker", ["--instance", "app"],
                    environment: try forgeWorkerEnvironment(fixture, github: github, keys: keys))
                defer { Task { await worker.stop() } }
                #expect(try await settle(fixture, id), "\(worker.log.suffix(3000))")

                let invalid = try await github.list("invalid")
                #expect(invalid.isEmpty, "\(invalid)")
                let runs = try await github.list("check_runs")
                #expect(runs.count == 1)
                let run = try #require(runs.first)
                #expect(run["name"] as? String == "AgentQueue" && run["head_sha"] as? String == shaA)
                #expect(run["status"] as? String == "completed" && run["conclusion"] as? String == "failure")
                let annotations = run["annotations"] as? [[String: Any]] ?? []
                #expect(annotations.count == 2)
                #expect(
                    annotations.allSatisfy { $0["path"] as? String == "app/orders.py" && $0["start_line"] as? Int == 6 }
                )
                let output = run["output"] as? [String: Any] ?? [:]
                #expect((output["title"] as? String)?.hasPrefix("changes requested") == true)

                let comments = try await github.list("comments")
                #expect(comments.count == 1)
                #expect((comments.first?["body"] as? String)?.contains("<!-- agentqueue:summary -->") == true)
                let reviews = try await github.list("reviews")
                #expect(reviews.count == 1)
                let review = try #require(reviews.first)
                #expect(review["event"] as? String == "COMMENT" && review["commit_id"] as? String == shaA)
                let inline = review["comments"] as? [[String: Any]] ?? []
                #expect(inline.count == 2)
                #expect(inline.allSatisfy { $0["line"] as? Int == 6 && $0["side"] as? String == "RIGHT" })
                // Every call was made as the App's installation (the JWT only for the token itself).
                let requests = try await github.list("requests")
                #expect(requests.allSatisfy { ["installation", "jwt"].contains($0["auth"] as? String) })
                #expect(requests.filter { $0["auth"] as? String == "jwt" }.count == 1)

                #expect(
                    try await publicationCounts(fixture) == [
                        "check_run": 1, "summary_comment": 1, "review": 1, "review_comment": 2,
                    ])
                // queuectl show prints what was posted, with links.
                let shown = try await TestProcesses.run(
                    "queuectl", ["show", "\(id)"], environment: ["DATABASE_URL": try fixture.url])
                #expect(shown.status == 0, "\(shown.standardError)")
                #expect(
                    shown.standardOutput.contains("https://github.example/acme/api/runs/"), "\(shown.standardOutput)")
                #expect(shown.standardOutput.contains("#pullrequestreview-"))
                #expect(shown.standardOutput.contains("#issuecomment-"))
            }
        }
    }

    @Test("with a token: commit statuses stand in for the check run; comment and review as with the App")
    func withToken() async throws {
        try await FakeGitHub.with(token: "ghp_faketoken0123456789abcdefABCDEF0123") { github in
            try await QueueFixture.with { fixture in
                try await github.addPull(repo: "acme/api", number: 7, headSHA: shaA, diff: ordersDiff)
                let id = try await fixture.pool.run(try EnqueueTask(try publishTask(sha: shaA, app: false))).id
                let worker = try RunningProcess(
                    "queue-worker", ["--instance", "token"],
                    environment: try forgeWorkerEnvironment(fixture, github: github, keys: nil))
                defer { Task { await worker.stop() } }
                #expect(try await settle(fixture, id), "\(worker.log.suffix(3000))")
                let invalid = try await github.list("invalid")
                #expect(invalid.isEmpty, "\(invalid)")
                #expect(try await github.list("check_runs").isEmpty)
                let statuses = try await github.list("statuses")
                #expect(statuses.map { $0["state"] as? String } == ["pending", "failure"])
                #expect(
                    statuses.allSatisfy { $0["context"] as? String == "AgentQueue" && $0["sha"] as? String == shaA })
                #expect(try await github.list("comments").count == 1)
                #expect(try await github.list("reviews").count == 1)
                #expect(try await publicationCounts(fixture)["commit_status"] == 1)
                #expect(!worker.log.contains("ghp_faketoken0123456789abcdefABCDEF0123"))
            }
        }
    }

    @Test("GitHub failing on demand: 502, 429 Retry-After, a secondary rate limit are waited out; still exactly once")
    func transientFailures() async throws {
        let keys = try await AppKeys.make()
        try await FakeGitHub.with(appID: appID, appPublicKey: keys.publicKey) { github in
            try await QueueFixture.with { fixture in
                try await github.addPull(repo: "acme/api", number: 7, headSHA: shaA, diff: ordersDiff)
                try await github.fault("POST", "/repos/acme/api/pulls/7/reviews", status: 502, times: 2)
                try await github.fault(
                    "POST", "/repos/acme/api/issues/7/comments", status: 429, headers: ["Retry-After": "1"],
                    body: ["message": "API rate limit exceeded"])
                try await github.fault(
                    "PATCH", "/repos/acme/api/check-runs/[0-9]+", status: 403, headers: ["Retry-After": "1"],
                    body: [
                        "message":
                            "You have exceeded a secondary rate limit. Please wait a few minutes before trying again."
                    ])
                try await github.fault(
                    "GET", "/repos/acme/api/pulls/7", status: 403,
                    headers: [
                        "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "\(Int(Date().timeIntervalSince1970) + 1)",
                    ],
                    body: ["message": "API rate limit exceeded for installation ID 77."])
                let id = try await fixture.pool.run(try EnqueueTask(try publishTask(sha: shaA))).id
                let worker = try RunningProcess(
                    "queue-worker", ["--instance", "faults"],
                    environment: try forgeWorkerEnvironment(fixture, github: github, keys: keys))
                defer { Task { await worker.stop() } }
                #expect(try await settle(fixture, id), "\(worker.log.suffix(3000))")
                #expect(try await github.list("invalid").isEmpty)
                #expect(try await github.list("check_runs").count == 1)
                #expect(try await github.list("comments").count == 1)
                #expect(try await github.list("reviews").count == 1)
                let statuses = try await github.list("requests").compactMap { $0["status"] as? Int }
                #expect(statuses.filter { $0 == 502 }.count == 2 && statuses.filter { $0 == 429 }.count == 1)
                #expect(statuses.filter { $0 == 403 }.count == 2)
                #expect(
                    try await publicationCounts(fixture) == [
                        "check_run": 1, "summary_comment": 1, "review": 1, "review_comment": 2,
                    ])
                // The rate-limited fetch gave its attempt back: one attempt was spent, with no error of its own.
                let task = try #require(try await fixture.pool.run(FetchTask(id: id)))
                #expect(task.attempt == 1, "\(task.errors.map(\.message))")
            }
        }
    }

    @Test(
        "GitHub refusing for good: a 403 without a rate limit and a 401 fail the part with a clear reason; the review stays recorded"
    )
    func permanentRefusals() async throws {
        let keys = try await AppKeys.make()
        try await FakeGitHub.with(appID: appID, appPublicKey: keys.publicKey) { github in
            try await QueueFixture.with { fixture in
                try await github.addPull(repo: "acme/api", number: 7, headSHA: shaA, diff: ordersDiff)
                try await github.fault(
                    "POST", "/repos/acme/api/pulls/7/reviews", status: 403, times: 10,
                    body: ["message": "Resource not accessible by integration"])
                try await github.fault(
                    "POST", "/repos/acme/api/issues/7/comments", status: 401, times: 10,
                    body: ["message": "Bad credentials"])
                let id = try await fixture.pool.run(try EnqueueTask(try publishTask(sha: shaA))).id
                let worker = try RunningProcess(
                    "queue-worker", ["--instance", "refused"],
                    environment: try forgeWorkerEnvironment(fixture, github: github, keys: keys))
                defer { Task { await worker.stop() } }
                #expect(try await settle(fixture, id), "\(worker.log.suffix(3000))")
                let posted = (reviews: try await github.list("reviews"), comments: try await github.list("comments"))
                #expect(posted.reviews.isEmpty && posted.comments.isEmpty)
                #expect(try await github.list("check_runs").count == 1)
                #expect(try await fixture.scalar(Int.self, "SELECT count(*)::int FROM review_history") == 1)
                let errors = try await fixture.pool.query(
                    "SELECT detail FROM publications WHERE kind = 'error' ORDER BY id"
                ).map { try $0.decode(String.self, "detail") }
                #expect(errors.count == 2, "\(errors)")
                #expect(
                    errors.contains { $0.hasPrefix("summary comment: GitHub refused the credentials (401)") },
                    "\(errors)")
                #expect(errors.contains { $0.hasPrefix("review: GitHub denied") && $0.contains("(403)") }, "\(errors)")
            }
        }
    }

    @Test(
        "a comment GitHub cannot place (422) does not lose the review: it is posted once more, the comments in its body"
    )
    func unplaceableComment() async throws {
        let keys = try await AppKeys.make()
        try await FakeGitHub.with(appID: appID, appPublicKey: keys.publicKey) { github in
            try await QueueFixture.with { fixture in
                try await github.addPull(repo: "acme/api", number: 7, headSHA: shaA, diff: ordersDiff)
                try await github.fault(
                    "POST", "/repos/acme/api/pulls/7/reviews", status: 422,
                    body: ["message": "Unprocessable Entity", "errors": ["Line could not be resolved"]])
                let id = try await fixture.pool.run(try EnqueueTask(try publishTask(sha: shaA))).id
                let worker = try RunningProcess(
                    "queue-worker", ["--instance", "unplaceable"],
                    environment: try forgeWorkerEnvironment(fixture, github: github, keys: keys))
                defer { Task { await worker.stop() } }
                #expect(try await settle(fixture, id), "\(worker.log.suffix(3000))")
                let reviews = try await github.list("reviews")
                #expect(reviews.count == 1)
                #expect((reviews.first?["comments"] as? [Any])?.isEmpty == true)
                #expect((reviews.first?["body"] as? String)?.contains("`app/orders.py:6`") == true)
                #expect(try await publicationCounts(fixture)["error"] == 1)
            }
        }
    }

    @Test("SIGKILL while the review is being posted: the next worker finds it and posts nothing twice")
    func killedWhilePublishing() async throws {
        let keys = try await AppKeys.make()
        try await FakeGitHub.with(appID: appID, appPublicKey: keys.publicKey) { github in
            try await QueueFixture.with { fixture in
                try await github.addPull(repo: "acme/api", number: 7, headSHA: shaA, diff: ordersDiff)
                // GitHub takes a second to answer the review: long enough to kill the worker in between, so GitHub
                // has the review but the worker never learns it did.
                try await github.fault("POST", "/repos/acme/api/pulls/7/reviews", status: 0, delay: 1.5)
                let id = try await fixture.pool.run(try EnqueueTask(try publishTask(sha: shaA))).id
                let environment = try forgeWorkerEnvironment(fixture, github: github, keys: keys)
                let victim = try RunningProcess("queue-worker", ["--instance", "victim"], environment: environment)
                defer { Task { await victim.stop() } }
                let posting = try await eventually(timeout: .seconds(120)) {
                    try await github.list("arrivals").contains {
                        $0["method"] as? String == "POST" && $0["path"] as? String == "/repos/acme/api/pulls/7/reviews"
                    }
                }
                #expect(posting, "\(victim.log.suffix(3000))")
                victim.send(SIGKILL)
                #expect(await victim.waitForExit() == 128 + SIGKILL)
                #expect(try await eventually(timeout: .seconds(10)) { try await github.list("reviews").count == 1 })
                let survivor = try RunningProcess("queue-worker", ["--instance", "survivor"], environment: environment)
                defer { Task { await survivor.stop() } }
                #expect(try await settle(fixture, id), "\(survivor.log.suffix(3000))")
                #expect(try await github.list("invalid").isEmpty)
                #expect(try await github.list("check_runs").count == 1)
                #expect(try await github.list("comments").count == 1)
                #expect(try await github.list("reviews").count == 1)
                let annotations = (try await github.list("check_runs").first?["annotations"] as? [Any])?.count
                #expect(annotations == 2)
                #expect(try await fixture.scalar(Int.self, "SELECT count(*)::int FROM review_history") == 1)
                #expect(try await publicationCounts(fixture)["review"] == 1)
                // The survivor resumed from the checkpoints: it did not fetch the diff again.
                #expect(survivor.log.contains("resum"), "\(survivor.log.suffix(2000))")
            }
        }
    }
}

/// A signed `pull_request` delivery of acme/api#7 at `sha` through the App installation.
func pullRequestDelivery(_ action: String, sha: String) throws -> [UInt8] {
    let object: [String: Any] = [
        "action": action, "number": 7,
        "pull_request": [
            "number": 7, "html_url": "https://github.com/acme/api/pull/7", "title": "Order totals",
            "user": ["login": "octocat"], "head": ["sha": sha], "draft": false,
        ],
        "repository": ["full_name": "acme/api", "html_url": "https://github.com/acme/api"],
        "installation": ["id": installation],
    ]
    return Array(try JSONSerialization.data(withJSONObject: object))
}

@Suite("GitHub end to end", .serialized)
struct GitHubEndToEndTests {
    @Test(
        "queue-webhook and two workers: a push supersedes a running review (its check run ends cancelled), the summary is updated in place, nothing is commented twice"
    )
    func pushesSupersede() async throws {
        let keys = try await AppKeys.make()
        try await FakeGitHub.with(appID: appID, appPublicKey: keys.publicKey) { github in
            try await QueueFixture.with { fixture in
                let webhook = try await WebhookServer.start([
                    "DATABASE_URL": try fixture.url, "GITHUB_WEBHOOK_SECRET": webhookSecret,
                    "GITHUB_API_URL": github.url,
                ])
                defer { Task { await webhook.process.stop() } }
                // The security agent takes 3 s, so that a push can arrive while a review runs.
                let environment = try forgeWorkerEnvironment(
                    fixture, github: github, keys: keys, ["AGENTQUEUE_NODE_DELAYS": "security=3000"])
                let workers = try (1...2).map {
                    try RunningProcess("queue-worker", ["--instance", "e2e-\($0)"], environment: environment)
                }
                defer { for worker in workers { Task { await worker.stop() } } }
                let logs = { workers.map { String($0.log.suffix(1500)) }.joined(separator: "\n---\n") }

                try await github.addPull(repo: "acme/api", number: 7, headSHA: shaA, diff: ordersDiff)
                let opened = try await webhook.deliver("pull_request", try pullRequestDelivery("opened", sha: shaA))
                #expect(opened.status == 202 && opened.json["status"] as? String == "enqueued", "\(opened.body)")
                let first = try #require((opened.json["task_id"] as? String).flatMap(Int64.init))
                let started = try await eventually(timeout: .seconds(60)) {
                    try await github.list("check_runs").contains {
                        $0["head_sha"] as? String == shaA && $0["status"] as? String == "in_progress"
                    }
                }
                #expect(started, "\(logs())")

                // A push while the first review runs: it is stopped, its check run concluded as cancelled.
                try await github.addPull(repo: "acme/api", number: 7, headSHA: shaB, diff: ordersAndDebugDiff)
                let pushed = try await webhook.deliver(
                    "pull_request", try pullRequestDelivery("synchronize", sha: shaB))
                #expect(pushed.status == 202, "\(pushed.body)")
                let second = try #require((pushed.json["task_id"] as? String).flatMap(Int64.init))
                #expect(try await settle(fixture, first, .cancelled), "\(logs())")
                #expect(try await settle(fixture, second), "\(logs())")
                var runs = try await github.list("check_runs")
                #expect(runs.count == 2)
                #expect(runs.first { $0["head_sha"] as? String == shaA }?["conclusion"] as? String == "cancelled")
                #expect(runs.first { $0["head_sha"] as? String == shaB }?["conclusion"] as? String == "failure")
                var reviews = try await github.list("reviews")
                #expect(reviews.count == 1 && reviews.first?["commit_id"] as? String == shaB)
                #expect((reviews.first?["comments"] as? [Any])?.count == 2)
                var comments = try await github.list("comments")
                #expect(comments.count == 1 && comments.first?["edits"] as? Int == 0)

                // Another push with the same findings: the summary comment is edited, no finding commented again.
                let shaC = String(repeating: "c", count: 40)
                try await github.addPull(repo: "acme/api", number: 7, headSHA: shaC, diff: ordersAndDebugDiff)
                let again = try await webhook.deliver("pull_request", try pullRequestDelivery("synchronize", sha: shaC))
                let third = try #require((again.json["task_id"] as? String).flatMap(Int64.init))
                #expect(try await settle(fixture, third), "\(logs())")
                runs = try await github.list("check_runs")
                #expect(runs.count == 3)
                reviews = try await github.list("reviews")
                #expect(reviews.count == 1)
                comments = try await github.list("comments")
                #expect(comments.count == 1 && comments.first?["edits"] as? Int == 1)
                #expect(
                    (comments.first?["body"] as? String)?.contains("0 new · 5 still open · 0 fixed") == true,
                    "\(comments.first?["body"] ?? "")")
                #expect(try await github.list("invalid").isEmpty)
                #expect(try await fixture.scalar(Int.self, "SELECT count(*)::int FROM review_history") == 2)
            }
        }
    }
}

@Suite("publishing many findings", .serialized)
struct ManyFindingsTests {
    @Test("more than 50 annotations go in requests of at most 50, every one posted once")
    func annotationBatches() async throws {
        let lines = (1...120).map { "+  console.log(\"step \($0)\", value);" }
        let diff =
            "diff --git a/web/src/trace.ts b/web/src/trace.ts\nnew file mode 100644\n--- /dev/null\n+++ b/web/src/trace.ts\n"
            + "@@ -0,0 +1,120 @@\n" + lines.joined(separator: "\n") + "\n"
        let keys = try await AppKeys.make()
        try await FakeGitHub.with(appID: appID, appPublicKey: keys.publicKey) { github in
            try await QueueFixture.with { fixture in
                try await github.addPull(repo: "acme/api", number: 7, headSHA: shaA, diff: diff)
                let id = try await fixture.pool.run(try EnqueueTask(try publishTask(sha: shaA))).id
                let worker = try RunningProcess(
                    "queue-worker", ["--instance", "many"],
                    environment: try forgeWorkerEnvironment(fixture, github: github, keys: keys))
                defer { Task { await worker.stop() } }
                #expect(try await settle(fixture, id), "\(worker.log.suffix(3000))")
                #expect(try await github.list("invalid").isEmpty)
                let run = try #require(try await github.list("check_runs").first)
                let annotations = run["annotations"] as? [[String: Any]] ?? []
                let findings = try await fixture.scalar(
                    Int.self, "SELECT count(*)::int FROM findings WHERE line IS NOT NULL")
                #expect(findings > 100, "\(findings) findings with a line")
                #expect(annotations.count == findings)
                let keysPosted = annotations.map {
                    "\($0["path"] ?? ""):\($0["start_line"] ?? ""):\($0["title"] ?? "")"
                }
                #expect(Set(keysPosted).count == keysPosted.count, "an annotation was posted twice")
                #expect(run["updates"] as? Int == (findings + 49) / 50)
            }
        }
    }
}
