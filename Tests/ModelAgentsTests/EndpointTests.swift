import Foundation
import ReviewAgents
import Testing

@testable import ModelAgents

/// The model back-end against a real HTTP server speaking the chat-completions protocol (fake_llm.py).
@Suite("Model endpoint")
struct EndpointTests {
    static let key = "sk-test-key-do-not-log-8d1f5c7e"

    static func input(_ text: String = sampleDiff, configuration: RepositoryConfiguration = .default) throws
        -> ReviewInput
    {
        ReviewInput(diff: try diff(text), configuration: configuration)
    }

    static var sqlFinding: [String: Any] {
        [
            "rule_id": "sql-injection", "severity": "high", "path": "app/db.py", "line": 12,
            "message": "user_id is concatenated into the SQL text.", "suggestion": "Pass it as a bound parameter.",
        ]
    }

    // MARK: Valid and malformed output

    @Test("valid findings come back validated, with rule-style ids, rule-style fingerprints and usage")
    func validFindings() async throws {
        let loopAt15: [String: Any] = [
            "rule_id": "query-in-loop", "severity": "medium", "path": "app/db.py", "line": 15, "message": "Loop.",
            "suggestion": NSNull(),
        ]
        let badSeverity: [String: Any] = [
            "rule_id": "x", "severity": "urgent", "path": "app/db.py", "line": 12, "message": "m",
        ]
        let content = "```json\n" + findingsJSON([Self.sqlFinding, loopAt15, badSeverity, Self.sqlFinding]) + "\n```"
        try await withFakeModel([.content(content)]) { server in
            let recorder = LogRecorder()
            let reviewer = try ModelReviewer(configuration: testConfiguration(server), logger: recorder.logger)
            let review = try await reviewer.review(kind: .security, input: try Self.input())

            #expect(review.findings.count == 2)
            #expect(review.droppedFindings == 1)
            #expect(review.malformedResponses == 0)
            let sql = try #require(review.findings.first { $0.line == 12 })
            #expect(sql.ruleId == "llm.security.sql-injection")
            #expect(sql.agent == .security)
            #expect(sql.severity == .high)
            #expect(sql.source == "llm")
            #expect(sql.path == "app/db.py")
            #expect(sql.suggestion == "Pass it as a bound parameter.")
            #expect(
                sql.fingerprint
                    == Finding.fingerprint(
                        ruleId: "llm.security.sql-injection", path: "app/db.py",
                        content: "    cursor.execute(\"SELECT * FROM users WHERE id = \" + user_id)"))
            // Line 15 repeats line 13's text: it is the second occurrence, as the rules would count it.
            let loop = try #require(review.findings.first { $0.line == 15 })
            #expect(loop.suggestion == nil)
            #expect(
                loop.fingerprint
                    == Finding.fingerprint(
                        ruleId: "llm.security.query-in-loop", path: "app/db.py", content: "    for order in orders:",
                        occurrence: 1))
            #expect(
                review.usage
                    == ModelUsage(
                        model: "review-model", promptTokens: 100, completionTokens: 20, calls: 1, retries: 0,
                        latencyMilliseconds: review.usage.latencyMilliseconds))
            #expect(review.usage.latencyMilliseconds > 0)

            let requests = try server.requests()
            #expect(requests.count == 1)
            let request = try #require(requests.first)
            #expect(request.path == "/v1/chat/completions")
            #expect(request.header("Authorization") == "Bearer \(Self.key)")
            #expect(request.header("Content-Type") == "application/json")
            let messages = request.messages
            #expect(messages.map { $0["role"] } == ["system", "user"])
            #expect(messages[0]["content"]?.contains("security reviewer") == true)
            #expect(messages[0]["content"]?.contains("\"rule_id\"") == true)
            let user = messages[1]["content"] ?? ""
            #expect(user.contains("File: app/db.py (modified, +5 -1)"))
            #expect(user.contains("+    12 |     cursor.execute("))
            #expect(user.contains("M README.md (+1 -0)"), "the summary lists every file")
            #expect(!user.contains("Some words."), "documentation hunks are not sent to the security agent")
        }
    }

    @Test("output without findings JSON is counted as malformed, never thrown")
    func malformedOutput() async throws {
        let allBad = findingsJSON([
            ["rule_id": "x", "severity": "high", "path": "nowhere.py", "line": 1, "message": "m"]
        ])
        try await withFakeModel([
            .content("The change looks reasonable to me.", when: "security reviewer"),
            .content(allBad, when: "quality reviewer"),
            .status(200, body: #"{"choices": [{"message": {"role": "assistant", "content": null}}]}"#),
        ]) { server in
            let reviewer = try ModelReviewer(configuration: testConfiguration(server), logger: LogRecorder().logger)
            let input = try Self.input()
            let prose = try await reviewer.review(kind: .security, input: input)
            #expect(prose.findings.isEmpty)
            #expect(prose.malformedResponses == 1)
            #expect(prose.usage.calls == 1)
            let bad = try await reviewer.review(kind: .quality, input: input)
            #expect(bad.findings.isEmpty)
            #expect(bad.droppedFindings == 1)
            #expect(bad.malformedResponses == 0)
            let empty = try await reviewer.review(kind: .scale, input: input)
            #expect(empty.malformedResponses == 1)
        }
    }

    @Test("a 2xx answer that is not a chat completion is an error, not retried")
    func notAChatCompletion() async throws {
        try await withFakeModel([.status(200, body: "<html>proxy login</html>"), .content(#"{"findings": []}"#)]) {
            server in
            let reviewer = try ModelReviewer(configuration: testConfiguration(server), logger: LogRecorder().logger)
            await #expect {
                _ = try await reviewer.review(kind: .security, input: try Self.input())
            } throws: { error in
                (error as? ModelError).map { !$0.isTransient && $0.status == 200 } ?? false
            }
            #expect(try server.requests().count == 1)
        }
    }

    // MARK: Timeouts

    @Test("a response slower than the timeout fails the call in time")
    func timeout() async throws {
        try await withFakeModel([.content(#"{"findings": []}"#, repeat: true, delay: 10)]) { server in
            let configuration = testConfiguration(server, timeout: .milliseconds(500), maxRetries: 1)
            let reviewer = try ModelReviewer(configuration: configuration, logger: LogRecorder().logger)
            let started = ContinuousClock.now
            await #expect {
                _ = try await reviewer.review(kind: .security, input: try Self.input())
            } throws: { error in
                guard let error = error as? ModelError else { return false }
                return error.isTimeout && error.isTransient && error.attempts == 2
            }
            let elapsed = ContinuousClock.now - started
            #expect(elapsed >= .milliseconds(1000))
            #expect(elapsed < .seconds(6), "the calls must not wait for the slow server (10 s each)")
            #expect(try server.requests().count == 2)
        }
    }

    @Test("a body trickled out slower than the timeout also fails (the timeout covers the whole exchange)")
    func trickle() async throws {
        var slow = ScriptedResponse.content(#"{"findings": []}"#)
        slow.trickle = 10
        try await withFakeModel([slow]) { server in
            let configuration = testConfiguration(server, timeout: .milliseconds(700), maxRetries: 0)
            let reviewer = try ModelReviewer(configuration: configuration, logger: LogRecorder().logger)
            let started = ContinuousClock.now
            await #expect {
                _ = try await reviewer.review(kind: .security, input: try Self.input())
            } throws: { error in (error as? ModelError)?.isTimeout == true }
            #expect(ContinuousClock.now - started < .seconds(6), "the call must not wait for the whole body (10 s)")
        }
    }

    @Test("a timed-out call is retried and the retry's answer is used")
    func timeoutThenSuccess() async throws {
        try await withFakeModel([
            .content(#"{"findings": []}"#, delay: 10), .content(findingsJSON([Self.sqlFinding])),
        ]) { server in
            let configuration = testConfiguration(server, timeout: .milliseconds(500), maxRetries: 2)
            let reviewer = try ModelReviewer(configuration: configuration, logger: LogRecorder().logger)
            let review = try await reviewer.review(kind: .security, input: try Self.input())
            #expect(review.findings.count == 1)
            #expect(review.usage.calls == 2)
            #expect(review.usage.retries == 1)
            #expect(review.usage.latencyMilliseconds >= 500)
        }
    }

    // MARK: 429 and 5xx

    @Test("429 with Retry-After in seconds: the client waits that long, then succeeds")
    func retryAfterSeconds() async throws {
        try await withFakeModel([
            .status(429, headers: ["Retry-After": "1"]), .content(findingsJSON([Self.sqlFinding])),
        ]) { server in
            let recorder = LogRecorder()
            let reviewer = try ModelReviewer(configuration: testConfiguration(server), logger: recorder.logger)
            let started = ContinuousClock.now
            let review = try await reviewer.review(kind: .security, input: try Self.input())
            #expect(ContinuousClock.now - started >= .seconds(1))
            #expect(review.findings.count == 1)
            #expect(review.usage.calls == 2)
            #expect(review.usage.retries == 1)
            #expect(recorder.text.contains("model call retried"))
            #expect(recorder.text.contains("model.wait_ms=1000"))
        }
    }

    @Test("429 with Retry-After as an HTTP-date: the client waits until then")
    func retryAfterDate() async throws {
        // The server names a date two seconds after it answers (whatever the time it took to start); the retry must not
        // reach it before that date. Both times are read from the server's clock: no assumption about speed.
        try await withFakeModel([
            ScriptedResponse(status: 429, retryAfterIn: 2), .content(#"{"findings": []}"#),
        ]) { server in
            let reviewer = try ModelReviewer(configuration: testConfiguration(server), logger: LogRecorder().logger)
            let review = try await reviewer.review(kind: .security, input: try Self.input())
            #expect(review.usage.calls == 2)
            let requests = try server.requests()
            try #require(requests.count == 2)
            let named = try #require(requests[1].namedRetryAt)
            #expect(requests[1].at >= named, "retried at \(requests[1].at), before the named date \(named)")
        }
    }

    @Test("a Retry-After beyond the longest wait fails at once instead of retrying early")
    func retryAfterTooLong() async throws {
        try await withFakeModel([.status(429, headers: ["Retry-After": "3600"]), .content(#"{"findings": []}"#)]) {
            server in
            var configuration = testConfiguration(server)
            configuration.maxRetryDelay = .seconds(30)
            let reviewer = try ModelReviewer(configuration: configuration, logger: LogRecorder().logger)
            let started = ContinuousClock.now
            await #expect {
                _ = try await reviewer.review(kind: .security, input: try Self.input())
            } throws: { error in
                guard let error = error as? ModelError else { return false }
                return error.isRateLimited && error.isTransient && error.debugDescription.contains("3600 s")
            }
            // Neither the hour asked for nor the 30 s cap: one call, then the error.
            #expect(ContinuousClock.now - started < .seconds(15))
            #expect(try server.requests().count == 1)
        }
    }

    @Test("500 is retried with backoff; one success is enough")
    func serverErrorThenSuccess() async throws {
        try await withFakeModel([.status(500), .status(503), .content(findingsJSON([Self.sqlFinding]))]) { server in
            let reviewer = try ModelReviewer(configuration: testConfiguration(server), logger: LogRecorder().logger)
            let review = try await reviewer.review(kind: .security, input: try Self.input())
            #expect(review.findings.count == 1)
            #expect(review.usage.calls == 3)
            #expect(review.usage.retries == 2)
        }
    }

    @Test("persistent 500 fails after the retries, as a transient error")
    func serverErrorGivesUp() async throws {
        var failing = ScriptedResponse.status(500, body: #"{"error": {"message": "overloaded"}}"#)
        failing.repeat = true
        try await withFakeModel([failing]) { server in
            let reviewer = try ModelReviewer(
                configuration: testConfiguration(server, maxRetries: 2), logger: LogRecorder().logger)
            await #expect {
                _ = try await reviewer.review(kind: .security, input: try Self.input())
            } throws: { error in
                guard let error = error as? ModelError else { return false }
                return error.status == 500 && error.isTransient && error.attempts == 3
                    && error.debugDescription.contains("overloaded")
            }
            #expect(try server.requests().count == 3)
        }
    }

    @Test("persistent 429 without Retry-After gives up after the retries")
    func rateLimitGivesUp() async throws {
        var limited = ScriptedResponse.status(429)
        limited.repeat = true
        try await withFakeModel([limited]) { server in
            let reviewer = try ModelReviewer(
                configuration: testConfiguration(server, maxRetries: 1), logger: LogRecorder().logger)
            await #expect {
                _ = try await reviewer.review(kind: .security, input: try Self.input())
            } throws: { error in (error as? ModelError).map { $0.isRateLimited && $0.attempts == 2 } ?? false }
            #expect(try server.requests().count == 2)
        }
    }

    @Test("other 4xx answers are not retried")
    func clientError() async throws {
        try await withFakeModel([.status(400, body: #"{"error": {"message": "model not found"}}"#)]) { server in
            let reviewer = try ModelReviewer(configuration: testConfiguration(server), logger: LogRecorder().logger)
            await #expect {
                _ = try await reviewer.review(kind: .security, input: try Self.input())
            } throws: { error in (error as? ModelError).map { !$0.isTransient && $0.status == 400 } ?? false }
            #expect(try server.requests().count == 1)
        }
    }

    @Test("a refused connection is retried, then reported as transient")
    func connectionRefused() async throws {
        // A port that was just free: nothing listens there.
        let configuration = ModelConfiguration(
            baseURL: URL(string: "http://127.0.0.1:9/v1"), model: "m", defaultMode: .llm, timeout: .seconds(5),
            maxRetries: 1, retryBaseDelay: .milliseconds(10))
        let reviewer = try ModelReviewer(configuration: configuration, logger: LogRecorder().logger)
        await #expect {
            _ = try await reviewer.review(kind: .security, input: try Self.input())
        } throws: { error in (error as? ModelError).map { $0.isTransient && $0.attempts == 2 } ?? false }
    }

    // MARK: Secrets

    @Test("no credential from the diff reaches the server, whichever agent asks")
    func noSecretReachesTheServer() async throws {
        var empty = ScriptedResponse.content(#"{"findings": []}"#)
        empty.repeat = true
        try await withFakeModel([empty]) { server in
            let reviewer = try ModelReviewer(configuration: testConfiguration(server), logger: LogRecorder().logger)
            let input = try Self.input(Secrets.diffText)
            var masked: [AgentKind: Int] = [:]
            for agent in AgentKind.allCases {
                masked[agent] = try await reviewer.review(kind: agent, input: input).maskedLines
            }
            // Each agent masks the files it is sent: security and scale are not sent the test file.
            #expect(masked == [.security: 11, .scale: 11, .quality: 12, .architecture: 12])
            let log = server.rawLog()
            let requests = try server.requests()
            #expect(requests.count == 4)
            // The prompts as the server decoded them (JSON escapes such as `\/` cannot hide anything there).
            let prompts = requests.flatMap { $0.messages.compactMap { $0["content"] } }.joined(separator: "\n")
            // The prompts did carry the change (so the check below is not vacuous)…
            #expect(prompts.contains("DATABASE_URL = "))
            #expect(prompts.contains("SERVICE_SECRET="))
            #expect(prompts.contains("-----BEGIN RSA PRIVATE KEY-----"))
            #expect(prompts.contains("+     1 | TOKEN = "), "the test file went to the quality agent")
            // …but none of its credentials, nor a large part of one.
            for secret in Secrets.all {
                for text in [log, prompts] {
                    #expect(!text.contains(secret), "\(secret) reached the server")
                    #expect(
                        !text.contains(String(secret.dropFirst(4).prefix(12))), "part of \(secret) reached the server")
                }
            }
        }
    }

    @Test("the API key reaches the server only in the Authorization header, and never the logs or errors")
    func apiKeyStaysInTheHeader() async throws {
        let echo = #"{"error": {"message": "Incorrect API key provided: \#(Self.key)"}}"#
        try await withFakeModel([
            .status(500), .content(findingsJSON([Self.sqlFinding]), when: "security reviewer"),
            .status(401, body: echo),
        ]) { server in
            let recorder = LogRecorder()
            let reviewer = try ModelReviewer(configuration: testConfiguration(server), logger: recorder.logger)
            let input = try Self.input()
            _ = try await reviewer.review(kind: .security, input: input)
            var thrown: (any Error)?
            do {
                _ = try await reviewer.review(kind: .quality, input: input)
            } catch {
                thrown = error
            }
            let error = try #require(thrown as? ModelError)
            #expect(error.status == 401)
            for text in ["\(error)", String(reflecting: error), error.debugDescription, error.localizedDescription] {
                #expect(!text.contains(Self.key))
            }
            #expect(error.debugDescription.contains("Incorrect API key provided: <redacted>"))

            let requests = try server.requests()
            #expect(requests.count == 3)
            for request in requests {
                #expect(request.header("Authorization") == "Bearer \(Self.key)")
                #expect(!request.body.contains(Self.key))
                #expect(!request.path.contains(Self.key))
                for (name, value) in request.headers where name.lowercased() != "authorization" {
                    #expect(!value.contains(Self.key), "\(name) carries the key")
                }
            }
            #expect(!recorder.messages.isEmpty, "the logs were captured (trace level)")
            #expect(!recorder.text.contains(Self.key))
            #expect(!recorder.text.contains("8d1f5c7e"))
        }
    }

    @Test("without a key no Authorization header is sent (local servers)")
    func noKey() async throws {
        try await withFakeModel([.content(#"{"findings": []}"#)]) { server in
            let reviewer = try ModelReviewer(
                configuration: testConfiguration(server, apiKey: nil), logger: LogRecorder().logger)
            _ = try await reviewer.review(kind: .security, input: try Self.input())
            #expect(try server.requests().first?.header("Authorization") == nil)
        }
    }

    // MARK: Chunks and concurrency

    @Test("a large diff is reviewed in several calls; no more than the limit are in flight in the process")
    func concurrencyLimit() async throws {
        var slow = ScriptedResponse.content(#"{"findings": []}"#, delay: 0.3)
        slow.repeat = true
        try await withFakeModel([slow]) { server in
            let configuration = testConfiguration(server, maxConcurrentCalls: 2, chunkBytes: 2_000)
            let reviewer = try ModelReviewer(configuration: configuration, logger: LogRecorder().logger)
            let input = ReviewInput(diff: try ChunkingTests.largeDiff(files: 2, hunks: 2, lines: 20))
            let reviews = try await withThrowingTaskGroup(of: ModelReview.self) { group in
                for agent in AgentKind.allCases {
                    group.addTask { try await reviewer.review(kind: agent, input: input) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let calls = reviews.reduce(0) { $0 + $1.usage.calls }
            #expect(reviews.allSatisfy { $0.usage.calls > 1 }, "each agent's diff was split")
            let requests = try server.requests()
            #expect(requests.count == calls)
            #expect(requests.map(\.inflight).max() == 2)
        }
    }

    @Test("the chunk limit caps the calls and reports the skipped hunks")
    func chunkLimit() async throws {
        var empty = ScriptedResponse.content(#"{"findings": []}"#)
        empty.repeat = true
        try await withFakeModel([empty]) { server in
            let configuration = testConfiguration(server, chunkBytes: 2_000, maxChunks: 2)
            let reviewer = try ModelReviewer(configuration: configuration, logger: LogRecorder().logger)
            let input = ReviewInput(diff: try ChunkingTests.largeDiff(files: 3, hunks: 3, lines: 20))
            let review = try await reviewer.review(kind: .quality, input: input)
            #expect(review.usage.calls == 2)
            #expect(review.skippedHunks > 0)
            #expect(try server.requests().count == 2)
        }
    }

    // MARK: When nothing is asked

    @Test("no call is made when the mode, the repository or the diff leaves nothing to ask")
    func noCall() async throws {
        try await withFakeModel([.content(#"{"findings": []}"#)]) { server in
            var configuration = testConfiguration(server, mode: .rules)
            configuration.agentModes = [.quality: .both]
            let reviewer = try ModelReviewer(configuration: configuration, logger: LogRecorder().logger)
            #expect(reviewer.mode(for: .security) == .rules)
            #expect(reviewer.mode(for: .quality) == .both)
            let input = try Self.input()
            // The agent is on its rules.
            #expect(try await reviewer.review(kind: .security, input: input).usage.calls == 0)
            // The repository disables the agent, or its model rules.
            let noQuality = try Self.input(configuration: RepositoryConfiguration(disabledAgents: [.quality]))
            #expect(try await reviewer.review(kind: .quality, input: noQuality).usage.calls == 0)
            let noModel = try Self.input(
                configuration: RepositoryConfiguration(rules: [.init(pattern: "llm.*", enabled: false)]))
            #expect(try await reviewer.review(kind: .quality, input: noModel).usage.calls == 0)
            // Nothing relevant: a documentation-only change is not for the quality agent.
            let docs = try Self.input(
                "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n # A\n+b\n")
            #expect(try await reviewer.review(kind: .quality, input: docs).usage.calls == 0)
            #expect(try server.requests().isEmpty)
        }
    }

    @Test("repository overrides and agentqueue:ignore comments apply to model findings")
    func repositoryConfiguration() async throws {
        let text = sampleDiff.replacingOccurrences(
            of: "+        total += 1", with: "+        total += 1  # agentqueue:ignore llm.quality.*")
        let onIgnored: [String: Any] = [
            "rule_id": "counter", "severity": "low", "path": "app/db.py", "line": 14, "message": "m",
        ]
        let quality = Self.sqlFinding.merging(["rule_id": "string-sql"]) { $1 }
        try await withFakeModel([.content(findingsJSON([quality, onIgnored]))]) { server in
            let reviewer = try ModelReviewer(configuration: testConfiguration(server), logger: LogRecorder().logger)
            let configuration = RepositoryConfiguration(rules: [.init(pattern: "llm.quality.*", severity: .critical)])
            let review = try await reviewer.review(
                kind: .quality, input: try Self.input(text, configuration: configuration))
            #expect(review.findings.map(\.ruleId) == ["llm.quality.string-sql"])
            #expect(review.findings.first?.severity == .critical)
            #expect(review.droppedFindings == 0)
        }
    }

    // MARK: Checkpoints

    @Test("a review survives its checkpoint: JSON round trip, same merge, stable keys")
    func checkpointRoundTrip() async throws {
        try await withFakeModel([.content(findingsJSON([Self.sqlFinding]))]) { server in
            let reviewer = try ModelReviewer(configuration: testConfiguration(server), logger: LogRecorder().logger)
            let input = try Self.input()
            let review = try await reviewer.review(kind: .security, input: input)
            let data = try JSONEncoder().encode(review)
            let restored = try JSONDecoder().decode(ModelReview.self, from: data)
            #expect(restored == review)
            let rules = try await ReviewAgents.agent(.security).review(input)
            #expect(
                ModelReviewer.merge(rules: rules, model: restored.findings)
                    == ModelReviewer.merge(rules: rules, model: review.findings))
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(
                Set(object.keys) == [
                    "findings", "dropped_findings", "malformed_responses", "skipped_hunks", "masked_lines", "usage",
                ])
            let usage = try #require(object["usage"] as? [String: Any])
            #expect(
                Set(usage.keys) == [
                    "model", "prompt_tokens", "completion_tokens", "calls", "retries", "latency_ms",
                ])
            let finding = try #require((object["findings"] as? [[String: Any]])?.first)
            #expect(finding["source"] as? String == "llm")
            #expect(try server.requests().count == 1)
        }
    }
}
