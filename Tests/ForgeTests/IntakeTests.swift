import Foundation
import GitHubForge
import PostgresClient
import ReviewWorkflow
import TaskQueue
import TestSupport
import Testing
import WebhookDaemon

@Suite("webhook signatures")
struct SignatureTests {
    @Test("GitHub's documented example: HMAC-SHA256 of the exact body, hex after sha256=")
    func documentedVector() {
        // docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
        let secrets = WebhookSecrets(current: "It's a Secret to Everybody")
        let body = Array("Hello, World!".utf8)
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        #expect(WebhookSecrets.signature(of: body, secret: "It's a Secret to Everybody") == expected)
        #expect(secrets.verify(signature: expected, body: body))
        #expect(secrets.verify(signature: expected.uppercased().replacing("SHA256=", with: "sha256="), body: body))
        for wrong in [
            nil, "", "sha256=", "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", String(expected.dropLast()),
            expected.dropLast() + "8", expected + "00",
            "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        ] as [String?] {
            #expect(!secrets.verify(signature: wrong, body: body), "\(wrong ?? "nil")")
        }
        #expect(!secrets.verify(signature: expected, body: Array("Hello, World?".utf8)))
    }

    @Test("during a rotation both the current and the previous secret are accepted, nothing else")
    func rotation() {
        let body = Array(#"{"zen":"Keep it logically awesome."}"#.utf8)
        let secrets = WebhookSecrets(current: "new-secret-0123456789", previous: "old-secret-0123456789")
        #expect(secrets.verify(signature: signature(body, secret: "new-secret-0123456789"), body: body))
        #expect(secrets.verify(signature: signature(body, secret: "old-secret-0123456789"), body: body))
        #expect(!secrets.verify(signature: signature(body, secret: "other-secret-012345"), body: body))
        #expect(
            !WebhookSecrets(current: "new-secret-0123456789").verify(
                signature: signature(body, secret: "old-secret-0123456789"), body: body))
    }
}

@Suite("webhook intake decisions")
struct DecisionTests {
    /// What every one of GitHub's example deliveries asks for.
    @Test("every fixture delivery gets the decision its event and action call for")
    func everyFixture() throws {
        for (event, file, body) in try Deliveries.all() {
            let action = file.split(separator: ".").first.map(String.init) ?? ""
            switch (event, action) {
            case ("ping", _):
                guard case .pong = try DeliveryIntake.decide(event: event, body: body) else {
                    Issue.record("\(event)/\(file): not pong")
                    continue
                }
            case ("pull_request", "opened"), ("pull_request", "reopened"), ("pull_request", "ready_for_review"),
                ("pull_request", "synchronize"), ("check_suite", "rerequested"):
                guard case .review(let intent) = try DeliveryIntake.decide(event: event, body: body) else {
                    Issue.record("\(event)/\(file): no review")
                    continue
                }
                #expect(intent.supersede == (event == "pull_request"))
                #expect(intent.headSHA?.count == 40)
                #expect(intent.dedupeKey == "review:\(intent.repo)#\(intent.number)@\(intent.headSHA ?? "")")
                #expect(intent.request.publish != nil)
                #expect(intent.request.problem == nil)
            case ("pull_request", "closed"):
                guard case .close = try DeliveryIntake.decide(event: event, body: body) else {
                    Issue.record("\(event)/\(file): not close")
                    continue
                }
            case ("installation", _), ("installation_repositories", _), ("pull_request", _), ("check_run", _),
                ("check_suite", _), ("issue_comment", _):
                // Other actions, check runs of other apps, comments that are no command: acknowledged, nothing done.
                guard case .ignore = try DeliveryIntake.decide(event: event, body: body) else {
                    Issue.record("\(event)/\(file): not ignored")
                    continue
                }
            default:
                // Events AgentQueue does not subscribe to: refused with a clear 400.
                let error = #expect(throws: DeliveryRejection.self, "\(event)/\(file)") {
                    try DeliveryIntake.decide(event: event, body: body)
                }
                #expect(error?.status == 400)
                #expect(error?.description.contains("unsupported event '\(event)'") == true)
            }
        }
    }

    @Test("/agentqueue review from a collaborator re-reviews; from anyone else, or any other comment, nothing")
    func commentCommand() throws {
        func comment(_ text: String, association: String) throws -> DeliveryDecision {
            try DeliveryIntake.decide(
                event: "issue_comment",
                body: try Deliveries.edited("issue_comment", "created.payload.json") { object in
                    var comment = object["comment"] as! [String: Any]
                    comment["body"] = text
                    comment["author_association"] = association
                    object["comment"] = comment
                    var issue = object["issue"] as! [String: Any]
                    issue["pull_request"] = ["html_url": "https://github.com/Codertocat/Hello-World/pull/1"]
                    object["issue"] = issue
                })
        }
        guard case .review(let intent) = try comment("/agentqueue review", association: "MEMBER") else {
            Issue.record("no review")
            return
        }
        #expect(intent.number == 1 && intent.repo == "Codertocat/Hello-World")
        #expect(!intent.supersede && intent.headSHA == nil)
        #expect(intent.dedupeKey == "review:Codertocat/Hello-World#1@latest")
        guard case .review = try comment("  /agentqueue review please\n", association: "OWNER") else {
            Issue.record("no review with trailing words")
            return
        }
        guard case .ignore(let reason) = try comment("/agentqueue review", association: "NONE") else {
            Issue.record("a stranger started a review")
            return
        }
        #expect(reason.contains("collaborators"))
        guard case .ignore = try comment("LGTM /agentqueue review", association: "OWNER") else {
            Issue.record("a comment that merely mentions the command started a review")
            return
        }
        // The fixture itself is a comment on an issue, not a pull request.
        guard
            case .ignore = try DeliveryIntake.decide(
                event: "issue_comment", body: try Deliveries.body("issue_comment", "created.payload.json"))
        else {
            Issue.record("an issue comment started a review")
            return
        }
    }

    @Test("a re-run of AgentQueue's check run, or of the whole check suite, reviews that commit again")
    func rerequested() throws {
        let run = try Deliveries.edited("check_run", "rerequested.payload.json") { object in
            var checkRun = object["check_run"] as! [String: Any]
            checkRun["name"] = "AgentQueue"
            checkRun["pull_requests"] = [["number": 7, "id": 1, "url": "https://api.github.com/repos/x/y/pulls/7"]]
            object["check_run"] = checkRun
        }
        guard case .review(let intent) = try DeliveryIntake.decide(event: "check_run", body: run) else {
            Issue.record("no review for a rerequested AgentQueue check run")
            return
        }
        #expect(intent.number == 7 && !intent.supersede && intent.headSHA != nil)
        guard
            case .review(let suite) = try DeliveryIntake.decide(
                event: "check_suite", body: try Deliveries.body("check_suite", "rerequested.payload.json"))
        else {
            Issue.record("no review for a rerequested check suite")
            return
        }
        #expect(suite.number == 2 && suite.headSHA == "ec26c3e57ca3a959ca5aad62de7213c562f8c821")
    }

    @Test("malformed or mismatched payloads are refused with 400 and a message that says what is wrong")
    func malformed() throws {
        let cases: [(String, [UInt8], String)] = [
            ("pull_request", Array("{not json".utf8), "not valid JSON"),
            ("pull_request", Array(#"{"action":"opened"}"#.utf8), "has no '"),
            ("pull_request", Array((try Deliveries.body("pull_request", "opened.payload.json")).prefix(500)), "JSON"),
            (
                "pull_request",
                try Deliveries.edited("pull_request", "opened.payload.json") { object in
                    var pr = object["pull_request"] as! [String: Any]
                    pr["html_url"] = "https://evil.example/Codertocat/Hello-World/pull/2"
                    object["pull_request"] = pr
                }, "does not match"
            ),
            (
                "pull_request",
                try Deliveries.edited("pull_request", "synchronize.payload.json") { object in
                    var pr = object["pull_request"] as! [String: Any]
                    var head = pr["head"] as! [String: Any]
                    head["sha"] = "not-a-sha; rm -rf /"
                    pr["head"] = head
                    object["pull_request"] = pr
                }, "is not a commit id"
            ),
            ("deployment", Array("{}".utf8), "unsupported event 'deployment'"),
        ]
        for (event, body, fragment) in cases {
            let error = #expect(throws: DeliveryRejection.self, "\(fragment)") {
                try DeliveryIntake.decide(event: event, body: body)
            }
            #expect(error?.status == 400)
            #expect(error?.description.contains(fragment) == true, "\(fragment): \(error?.description ?? "-")")
        }
    }
}

@Suite("queue-webhook intake", .serialized)
struct IntakeProcessTests {
    /// Deliveries recorded and tasks enqueued.
    static func counts(_ fixture: QueueFixture) async throws -> (deliveries: Int, tasks: Int) {
        (
            try await fixture.scalar(Int.self, "SELECT count(*)::int FROM webhook_deliveries"),
            try await fixture.scalar(Int.self, "SELECT count(*)::int FROM tasks")
        )
    }

    static func environment(_ fixture: QueueFixture, _ extra: [String: String] = [:]) throws -> [String: String] {
        var environment = ["DATABASE_URL": try fixture.url, "GITHUB_WEBHOOK_SECRET": webhookSecret]
        for (key, value) in extra { environment[key] = value }
        return environment
    }

    @Test("signed deliveries: opened enqueues one review, a redelivery nothing, synchronize supersedes, closed cancels")
    func lifecycle() async throws {
        try await QueueFixture.with { fixture in
            let server = try await WebhookServer.start(try Self.environment(fixture))
            defer { Task { await server.process.stop() } }
            let ping = try await server.deliver("ping", try Deliveries.body("ping", "payload.json"))
            #expect(ping.status == 200 && ping.json["status"] as? String == "pong")

            let opened = try Deliveries.body("pull_request", "opened.payload.json")
            let first = try await server.deliver("pull_request", opened, id: "delivery-1")
            #expect(first.status == 202, "\(first.body)")
            #expect(first.json["status"] as? String == "enqueued")
            let taskID = try #require((first.json["task_id"] as? String).flatMap(Int64.init))
            // GitHub's Redeliver button: same delivery id, nothing new.
            let again = try await server.deliver("pull_request", opened, id: "delivery-1")
            #expect(again.status == 202 && again.json["status"] as? String == "redelivery")
            #expect(again.json["task_id"] as? String == "\(taskID)")
            // Another delivery of the same commit (reopened): the live review is reused.
            let reopened = try await server.deliver(
                "pull_request", try Deliveries.body("pull_request", "reopened.payload.json"), id: "delivery-2")
            #expect(reopened.status == 202)
            var counts = try await Self.counts(fixture)
            #expect(counts.deliveries == 2)
            let task = try #require(try await fixture.pool.run(FetchTask(id: taskID)))
            #expect(task.kind == "review" && task.state == .pending)
            let request = try task.payload.decode(ReviewRequest.self)
            #expect(request.repo == "Codertocat/Hello-World" && request.prNumber == 2)
            #expect(request.publish?.installationID == 1)  // the fixture's installation

            // A push: the pending review of the older commit is cancelled, the new one enqueued.
            let pushed = try Deliveries.edited("pull_request", "synchronize.payload.json") { object in
                var pr = object["pull_request"] as! [String: Any]
                var head = pr["head"] as! [String: Any]
                head["sha"] = String(repeating: "c", count: 40)
                pr["head"] = head
                pr["number"] = 2
                pr["html_url"] = "https://github.com/Codertocat/Hello-World/pull/2"
                object["pull_request"] = pr
                object["repository"] =
                    (try! JSONSerialization.jsonObject(with: Data(opened)) as! [String: Any])[
                        "repository"]
            }
            let sync = try await server.deliver("pull_request", pushed, id: "delivery-3")
            #expect(sync.status == 202 && sync.json["status"] as? String == "enqueued", "\(sync.body)")
            #expect(try await fixture.pool.run(FetchTask(id: taskID))?.state == .cancelled)
            let newer = try #require((sync.json["task_id"] as? String).flatMap(Int64.init))
            #expect(try await fixture.pool.run(FetchTask(id: newer))?.state == .pending)

            let closed = try await server.deliver(
                "pull_request",
                try Deliveries.edited("pull_request", "closed.payload.json") { object in
                    var pr = object["pull_request"] as! [String: Any]
                    pr["number"] = 2
                    object["pull_request"] = pr
                    object["repository"] =
                        (try! JSONSerialization.jsonObject(with: Data(opened)) as! [String: Any])[
                            "repository"]
                }, id: "delivery-4")
            #expect(closed.status == 202 && closed.json["cancelled"] as? String == "1", "\(closed.body)")
            #expect(try await fixture.pool.run(FetchTask(id: newer))?.state == .cancelled)
            counts = try await Self.counts(fixture)
            #expect(counts.deliveries == 4 && counts.tasks == 2)
            let outcomes = try await fixture.pool.query(
                "SELECT delivery_id, outcome FROM webhook_deliveries ORDER BY delivery_id")
            #expect(
                try outcomes.map {
                    "\(try $0.decode(String.self, "delivery_id"))=\(try $0.decode(String.self, "outcome"))"
                }
                    == [
                        "delivery-1=enqueued", "delivery-2=deduplicated", "delivery-3=superseded",
                        "delivery-4=cancelled",
                    ])
        }
    }

    @Test("bad deliveries get the right status and store nothing; the secret never reaches the log")
    func badInput() async throws {
        try await QueueFixture.with { fixture in
            let server = try await WebhookServer.start(
                try Self.environment(fixture, ["GITHUB_WEBHOOK_SECRET_PREVIOUS": "previous-secret-0123456789"]))
            defer { Task { await server.process.stop() } }
            let opened = try Deliveries.body("pull_request", "opened.payload.json")
            let url = "http://\(server.address)/webhooks/github"
            var answers: [(String, HTTPAnswer, Int)] = []
            answers.append(("unsigned", try await server.deliver("pull_request", opened, signed: false), 401))
            answers.append(
                (
                    "wrong secret", try await server.deliver("pull_request", opened, secret: "wrong-secret-0123456789"),
                    401
                ))
            answers.append(
                (
                    "signature of another body",
                    try await server.deliver(
                        "pull_request", Array(opened.dropLast(40)),
                        extraHeaders: ["X-Hub-Signature-256": signature(opened, secret: webhookSecret)]), 401
                ))
            answers.append(
                ("signed, truncated JSON", try await server.deliver("pull_request", Array(opened.prefix(700))), 400))
            answers.append(
                ("malformed JSON", try await server.deliver("pull_request", Array("{\"action\":".utf8)), 400))
            answers.append(("unknown event", try await server.deliver("deployment_status", Array("{}".utf8)), 400))
            answers.append(
                (
                    "no event header",
                    try await http(
                        "POST", url,
                        headers: [
                            "X-GitHub-Delivery": "x", "X-Hub-Signature-256": signature(opened, secret: webhookSecret),
                        ],
                        body: opened), 400
                ))
            answers.append(
                (
                    "no delivery header",
                    try await http(
                        "POST", url,
                        headers: [
                            "X-GitHub-Event": "pull_request",
                            "X-Hub-Signature-256": signature(opened, secret: webhookSecret),
                        ],
                        body: opened), 400
                ))
            // 30 MB: refused before the body is read (Content-Length), and when sent anyway.
            let huge = [UInt8](repeating: UInt8(ascii: " "), count: 30 * 1024 * 1024)
            answers.append(("30 MB", try await server.deliver("pull_request", huge), 413))
            answers.append(("GET", try await http("GET", url), 405))
            for (what, answer, status) in answers {
                #expect(answer.status == status, "\(what): \(answer.status) \(answer.body)")
                if status != 405 {
                    #expect(answer.json["status"] as? String == "refused", "\(what): \(answer.body)")
                    #expect((answer.json["detail"] as? String)?.isEmpty == false, "\(what)")
                }
            }
            let counts = try await Self.counts(fixture)
            #expect(counts.deliveries == 0 && counts.tasks == 0)
            // Still healthy, and a delivery signed with the previous secret (a rotation) is accepted.
            #expect(try await http("GET", "http://\(server.address)/healthz").status == 200)
            let rotated = try await server.deliver("pull_request", opened, secret: "previous-secret-0123456789")
            #expect(rotated.status == 202, "\(rotated.body)")
            let log = server.process.log
            #expect(!log.contains(webhookSecret) && !log.contains("previous-secret-0123456789"))
            #expect(log.contains("delivery refused"))
        }
    }

    @Test("a database outage answers 503 (GitHub shows it; redeliver) and /readyz tells; both recover")
    func databaseOutage() async throws {
        try await PostgresServer.with { server in
            try await server.start()
            try await server.migrate()
            let webhook = try await WebhookServer.start([
                "DATABASE_URL": server.url(), "GITHUB_WEBHOOK_SECRET": webhookSecret,
            ])
            defer { Task { await webhook.process.stop() } }
            let opened = try Deliveries.body("pull_request", "opened.payload.json")
            try await server.stop()
            let refused = try await webhook.deliver("pull_request", opened, id: "during-outage")
            #expect(refused.status == 503, "\(refused.body)")
            #expect(refused.json["detail"] as? String == "the delivery could not be recorded; redeliver it")
            #expect(
                await eventually(timeout: .seconds(30)) {
                    (try? await http("GET", "http://\(webhook.address)/readyz").status) == 503
                })
            try await server.start()
            let accepted = try await eventually(timeout: .seconds(60), every: .milliseconds(250)) {
                try await webhook.deliver("pull_request", opened, id: "during-outage").status == 202
            }
            #expect(accepted)
            let pool = try server.pool()
            defer { Task { await pool.close() } }
            #expect(try await pool.query("SELECT count(*)::int AS n FROM tasks").single?.decode(Int.self, "n") == 1)
        }
    }

    @Test("--check-config prints the settings without secrets; a bad setting exits 78 naming it")
    func checkConfig() async throws {
        let good = try await TestProcesses.run(
            "queue-webhook", ["--check-config"],
            environment: [
                "DATABASE_URL": "postgresql://hook:hunter2secret@127.0.0.1/aq", "GITHUB_WEBHOOK_SECRET": webhookSecret,
            ])
        #expect(good.status == 0, "\(good.standardError)")
        #expect(good.standardOutput.contains("WEBHOOK_LISTEN=127.0.0.1:8080"))
        #expect(good.standardOutput.contains("GITHUB_WEBHOOK_SECRET=(set)"))
        #expect(!good.standardOutput.contains(webhookSecret) && !good.standardOutput.contains("hunter2secret"))
        for (settings, fragment) in [
            (["GITHUB_WEBHOOK_SECRET": "short"], "GITHUB_WEBHOOK_SECRET"),
            (["GITHUB_WEBHOOK_SECRET": ""], "GITHUB_WEBHOOK_SECRET"),
            (["WEBHOOK_LISTN": "127.0.0.1:1"], "did you mean WEBHOOK_LISTEN?"),
            (["WEBHOOK_LISTEN": "8080"], "WEBHOOK_LISTEN"),
            (["GITHUB_WEBHOOK_SECRET_FILE": "/nonexistent/secret", "GITHUB_WEBHOOK_SECRET": ""], "cannot be read"),
        ] {
            var environment = ["DATABASE_URL": "postgresql://127.0.0.1/aq", "GITHUB_WEBHOOK_SECRET": webhookSecret]
            for (key, value) in settings { environment[key] = value }
            if settings["GITHUB_WEBHOOK_SECRET"] == "" { environment.removeValue(forKey: "GITHUB_WEBHOOK_SECRET") }
            let bad = try await TestProcesses.run("queue-webhook", ["--check-config"], environment: environment)
            #expect(bad.status == 78, "\(settings)")
            #expect(bad.standardError.contains(fragment), "\(settings): \(bad.standardError)")
            #expect(!bad.standardError.contains(webhookSecret))
        }
    }
}
