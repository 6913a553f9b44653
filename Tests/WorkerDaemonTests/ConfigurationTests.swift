import DaemonConfiguration
import Foundation
import ModelAgents
import TestSupport
import Testing

@testable import WorkerDaemon

@Suite("worker configuration")
struct ConfigurationTests {
    static let database = ["DATABASE_URL": "postgresql://u@127.0.0.1:1/db"]

    /// A settings file with `text`, removed afterwards.
    static func withSettingsFile<T>(_ text: String, _ body: (String) throws -> T) throws -> T {
        let path = NSTemporaryDirectory() + "aq-config-\(UUID().uuidString.prefix(8)).conf"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        return try body(path)
    }

    @Test("a misspelt key, in the file or in the worker's part of the environment, is refused naming the nearest")
    func unknownKeys() throws {
        try Self.withSettingsFile("WORKER_CONCURENCY=8\n") { path in
            let error = #expect(throws: ConfigurationError.self) {
                try WorkerConfiguration.load(environment: Self.database, configFile: path, instance: "t")
            }
            #expect(error?.setting == "WORKER_CONCURENCY")
            #expect(
                error?.description.contains("did you mean WORKER_CONCURRENCY?") == true, "\(String(describing: error))")
        }
        let fromEnvironment = #expect(throws: ConfigurationError.self) {
            try WorkerConfiguration.load(
                environment: Self.database.merging(["LLM_TEMPRATURE": "0.2"]) { $1 }, configFile: nil, instance: "t")
        }
        #expect(fromEnvironment?.description.contains("did you mean LLM_TEMPERATURE?") == true)
        // Variables of other programs are not the worker's business.
        _ = try WorkerConfiguration.load(
            environment: Self.database.merging(["GITHUB_ACTIONS": "true", "AGENTQUEUE_BIN_DIR": "/x"]) { $1 },
            configFile: nil, instance: "t")
    }

    @Test("LLM settings are read from the settings file too, and checked like the others")
    func modelSettingsInTheFile() throws {
        try Self.withSettingsFile("LLM_MODE=both\nLLM_BASE_URL=http://127.0.0.1:9/v1\nLLM_MODEL=tiny\n") { path in
            let configuration = try WorkerConfiguration.load(
                environment: Self.database, configFile: path, instance: "t")
            #expect(configuration.models.isEnabled)
            #expect(configuration.models.model == "tiny")
            #expect(configuration.summary.contains("LLM_MODEL=tiny"))
        }
        try Self.withSettingsFile("LLM_TEMPERATURE=9\n") { path in
            let error = #expect(throws: ConfigurationError.self) {
                try WorkerConfiguration.load(environment: Self.database, configFile: path, instance: "t")
            }
            #expect(error?.setting == "LLM_TEMPERATURE")
        }
    }

    @Test(
        "--check-config exits 78 for an unknown key or a bad LLM value, naming it",
        arguments: [
            (["WORKER_CONCURENCY": "8"], "did you mean WORKER_CONCURRENCY?"),
            (["LLM_TEMPERATURE": "9"], "LLM_TEMPERATURE"),
            (["LLM_MODE": "llm"], "LLM_BASE_URL"),
            (["WORKER_AGENT_THREADS": "0"], "WORKER_AGENT_THREADS"),
        ])
    func exitStatus(settings: [String: String], fragment: String) async throws {
        let output = try await TestProcesses.run(
            "queue-worker", ["--check-config"], environment: Self.database.merging(settings) { $1 })
        #expect(output.status == 78, "\(output.standardError)")
        #expect(output.standardError.contains(fragment), "\(output.standardError)")
        #expect(output.standardError.split(separator: "\n").count == 1)
    }
}
