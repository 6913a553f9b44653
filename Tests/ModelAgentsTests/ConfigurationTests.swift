import Foundation
import ReviewAgents
import Testing

@testable import ModelAgents

@Suite("Model configuration")
struct ConfigurationTests {
    @Test("off by default: every agent on its rules, nothing required")
    func offByDefault() throws {
        let configuration = try ModelConfiguration(environment: [:])
        #expect(!configuration.isEnabled)
        for agent in AgentKind.allCases {
            #expect(configuration.mode(for: agent) == .rules)
        }
    }

    @Test("LLM_MODE sets the default and LLM_AGENTS overrides single agents")
    func modes() throws {
        let configuration = try ModelConfiguration(environment: [
            "LLM_MODE": "both", "LLM_AGENTS": "scale=rules, architecture=LLM",
            "LLM_BASE_URL": "http://localhost:8000/v1",
            "LLM_MODEL": "qwen2.5-coder",
        ])
        #expect(configuration.mode(for: .security) == .both)
        #expect(configuration.mode(for: .quality) == .both)
        #expect(configuration.mode(for: .scale) == .rules)
        #expect(configuration.mode(for: .architecture) == .llm)
        #expect(configuration.endpoint?.absoluteString == "http://localhost:8000/v1/chat/completions")
        #expect(AgentMode.both.usesRules && AgentMode.both.usesModel)
        #expect(!AgentMode.llm.usesRules && !AgentMode.rules.usesModel)
    }

    @Test("a trailing slash on the base URL does not double up")
    func trailingSlash() throws {
        let configuration = try ModelConfiguration(environment: [
            "LLM_AGENTS": "security=llm", "LLM_BASE_URL": "https://api.openai.com/v1/", "LLM_MODEL": "gpt-4o-mini",
        ])
        #expect(configuration.endpoint?.absoluteString == "https://api.openai.com/v1/chat/completions")
    }

    @Test("numbers, flags and the key are read")
    func values() throws {
        let configuration = try ModelConfiguration(environment: [
            "LLM_MODE": "llm", "LLM_BASE_URL": "http://127.0.0.1:11434/v1", "LLM_MODEL": "llama3.1",
            "LLM_API_KEY": "ollama", "LLM_TIMEOUT_SECONDS": "2.5", "LLM_MAX_RETRIES": "0",
            "LLM_MAX_RETRY_WAIT_SECONDS": "30", "LLM_MAX_CONCURRENCY": "3", "LLM_CHUNK_BYTES": "16000",
            "LLM_MAX_CHUNKS": "4", "LLM_MAX_TOKENS": "1024", "LLM_TEMPERATURE": "0", "LLM_JSON_MODE": "true",
        ])
        #expect(configuration.timeout == .milliseconds(2500))
        #expect(configuration.maxRetries == 0)
        #expect(configuration.maxRetryDelay == .seconds(30))
        #expect(configuration.maxConcurrentCalls == 3)
        #expect(configuration.chunkBytes == 16_000)
        #expect(configuration.maxChunks == 4)
        #expect(configuration.maxTokens == 1024)
        #expect(configuration.temperature == 0)
        #expect(configuration.jsonMode)
        #expect(configuration.apiKey == ModelAPIKey("ollama"))
    }

    @Test("the key can come from a file (systemd credentials)")
    func keyFile() throws {
        let path = NSTemporaryDirectory() + "aq-key-\(UUID().uuidString.prefix(8))"
        try "sk-from-file-123\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let configuration = try ModelConfiguration(environment: [
            "LLM_MODE": "llm", "LLM_BASE_URL": "http://localhost:8080/v1", "LLM_MODEL": "m", "LLM_API_KEY_FILE": path,
        ])
        #expect(configuration.apiKey == ModelAPIKey("sk-from-file-123"))
    }

    @Test(
        "bad values are refused with the variable's name",
        arguments: [
            (["LLM_MODE": "sometimes"], "LLM_MODE"),
            (["LLM_AGENTS": "security"], "LLM_AGENTS"),
            (["LLM_AGENTS": "performance=llm"], "LLM_AGENTS"),
            (["LLM_AGENTS": "security=maybe"], "LLM_AGENTS"),
            (["LLM_MODE": "llm", "LLM_MODEL": "m"], "LLM_BASE_URL"),
            (["LLM_MODE": "llm", "LLM_BASE_URL": "http://localhost:1/v1"], "LLM_MODEL"),
            (["LLM_BASE_URL": "ftp://example.com"], "LLM_BASE_URL"),
            (["LLM_BASE_URL": "https://user:hunter22@example.com/v1"], "LLM_BASE_URL"),
            (["LLM_TIMEOUT_SECONDS": "-1"], "LLM_TIMEOUT_SECONDS"),
            (["LLM_MAX_CONCURRENCY": "0"], "LLM_MAX_CONCURRENCY"),
            (["LLM_MAX_RETRIES": "many"], "LLM_MAX_RETRIES"),
            (["LLM_JSON_MODE": "perhaps"], "LLM_JSON_MODE"),
            (["LLM_API_KEY_FILE": "/nonexistent/key"], "LLM_API_KEY_FILE"),
        ])
    func refused(environment: [String: String], variable: String) {
        #expect {
            _ = try ModelConfiguration(environment: environment)
        } throws: { error in
            guard let error = error as? ModelConfigurationError else { return false }
            return error.variable == variable && "\(error)".hasPrefix(variable)
        }
    }

    @Test("the API key never shows in descriptions, dumps or mirrors")
    func keyIsRedacted() throws {
        let secret = "sk-proj-DoNotPrintThis0123456789abcdefghijklmnop"
        let configuration = try ModelConfiguration(environment: [
            "LLM_MODE": "llm", "LLM_BASE_URL": "https://api.openai.com/v1", "LLM_MODEL": "gpt-4o",
            "LLM_API_KEY": secret,
        ])
        var dumped = ""
        dump(configuration, to: &dumped)
        for text in ["\(configuration)", String(reflecting: configuration), dumped, "\(configuration.apiKey!)"] {
            #expect(!text.contains(secret))
            #expect(!text.contains("DoNotPrint"))
        }
        #expect(dumped.contains("gpt-4o"))
    }
}
