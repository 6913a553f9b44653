import DiffSources
import Foundation
import PostgresClient
import ReviewStore
import ReviewWorkflow
import TaskQueue
import TestSupport
import Testing

/// Runs `body` with the base URL of ModelAgentsTests' fake chat-completions server (answering every request with
/// no findings) and the path of its request log.
func withFakeModel(_ body: (String, String) async throws -> Void) async throws {
    let directory = NSTemporaryDirectory() + "aq-llm-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try #"{"responses": [{"content": "{\"findings\": []}", "repeat": true}]}"#
        .write(toFile: directory + "/script.json", atomically: true, encoding: .utf8)
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelAgentsTests/fake_llm.py").path
    try await withPythonServer(script: script, arguments: [directory + "/script.json", directory + "/requests.jsonl"]) {
        port in
        try await body("http://127.0.0.1:\(port)/v1", directory + "/requests.jsonl")
    }
}

@Suite("review workflow with a model", .serialized)
struct ModelResumeTests {
    @Test("a resumed review makes no second model call for the agents that had finished; usage is recorded")
    func noSecondCall() async throws {
        try await withFakeModel { api, requestLog in
            try await QueueFixture.with { fixture in
                let id = try await fixture.pool.run(
                    try EnqueueTask(try reviewTask(ReviewRequest(source: .diff(sampleDiff))))
                ).id
                let model = [
                    "LLM_MODE": "both", "LLM_BASE_URL": api, "LLM_MODEL": "test-model",
                    "LLM_API_KEY": "sk-test-key-123456",
                ]
                let victim = try RunningProcess(
                    "queue-worker", ["--instance", "model-victim"],
                    environment: try reviewWorkerEnvironment(
                        fixture, model.merging(["AGENTQUEUE_NODE_DELAYS": "quality=60000,architecture=60000"]) { $1 }
                    )
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
                    "queue-worker", ["--instance", "model-survivor"],
                    environment: try reviewWorkerEnvironment(fixture, model)
                )
                let finished = try await eventually(timeout: .seconds(20)) {
                    try await fixture.pool.run(FetchTask(id: id))?.state == .succeeded
                }
                #expect(finished, "\(survivor.log)")
                survivor.send(SIGTERM)
                #expect(await survivor.waitForExit() == 0)

                let requests = try String(contentsOfFile: requestLog, encoding: .utf8).split(separator: "\n")
                for agent in ["security", "scale", "quality", "architecture"] {
                    let calls = requests.filter { $0.contains("You are the \(agent) reviewer") }.count
                    #expect(calls == 1, "\(agent) was asked \(calls) times")
                }
                let usage = try await fixture.pool.query(
                    "SELECT agent, model, prompt_tokens, completion_tokens, model_calls FROM agent_performance WHERE task_id = \(id) ORDER BY agent"
                )
                #expect(usage.count == 4)
                for row in usage {
                    #expect(try row.decode(String?.self, "model") == "test-model")
                    #expect(try row.decode(Int?.self, "prompt_tokens") == 100)
                    #expect(try row.decode(Int?.self, "completion_tokens") == 20)
                    #expect(try row.decode(Int?.self, "model_calls") == 1)
                }
                #expect(!victim.log.contains("sk-test-key-123456"))
                #expect(!survivor.log.contains("sk-test-key-123456"))
            }
        }
    }
}
