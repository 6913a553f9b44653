import Foundation
import Logging
import ModelAgents
import ReviewAgents
import Synchronization
import TestSupport
import Testing

/// One scripted answer of fake_llm.py (see the script's docstring).
struct ScriptedResponse: Encodable {
    var when: String?
    var status: Int?
    var headers: [String: String]?
    var content: String?
    var body: String?
    var delay: Double?
    var trickle: Double?
    var `repeat`: Bool?
    var usage: [String: Int]?
    var retryAfterIn: Double?

    enum CodingKeys: String, CodingKey {
        case when, status, headers, content, body, delay, trickle, `repeat`, usage
        case retryAfterIn = "retry_after_in"
    }

    static func content(_ text: String, when: String? = nil, repeat: Bool? = nil, delay: Double? = nil) -> Self {
        ScriptedResponse(when: when, content: text, delay: delay, repeat: `repeat`)
    }

    static func status(_ code: Int, headers: [String: String]? = nil, body: String? = nil) -> Self {
        ScriptedResponse(status: code, headers: headers, body: body)
    }
}

/// The file fake_llm.py reads its answers from.
private struct FakeModelScript: Encodable {
    var responses: [ScriptedResponse]
}

/// A request the fake endpoint received.
struct LoggedRequest: Decodable {
    var n: Int
    var path: String
    var headers: [String: String]
    var body: String
    var inflight: Int
    /// When it arrived (seconds since the epoch, the server's clock).
    var at: Double
    /// The Retry-After date the server had named before this request, if any.
    var namedRetryAt: Double?

    enum CodingKeys: String, CodingKey {
        case n, path, headers, body, inflight, at
        case namedRetryAt = "named_retry_at"
    }

    /// A header, looked up case-insensitively.
    func header(_ name: String) -> String? {
        headers.first { $0.key.lowercased() == name.lowercased() }?.value
    }

    /// The request body's messages.
    var messages: [[String: String]] {
        struct Body: Decodable { var messages: [[String: String]] }
        return (try? JSONDecoder().decode(Body.self, from: Data(body.utf8)).messages) ?? []
    }
}

/// A running fake_llm.py.
struct FakeModelServer {
    let baseURL: URL
    let logPath: String

    /// Every request so far, in arrival order.
    func requests() throws -> [LoggedRequest] {
        guard let data = FileManager.default.contents(atPath: logPath) else { return [] }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map {
            try JSONDecoder().decode(LoggedRequest.self, from: Data($0.utf8))
        }
    }

    /// The raw log: every method, path, header and body the server saw.
    func rawLog() -> String {
        FileManager.default.contents(atPath: logPath).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}

/// Runs `body` against a fake chat-completions endpoint answering with `responses`. The server is killed with
/// SIGKILL afterwards (its stderr goes to /dev/null), so a leftover can never hold `swift test` up.
func withFakeModel<T>(
    _ responses: [ScriptedResponse], _ body: (FakeModelServer) async throws -> T
) async throws -> T {
    let directory = NSTemporaryDirectory() + "aq-llm-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try JSONEncoder().encode(FakeModelScript(responses: responses)).write(
        to: URL(fileURLWithPath: directory + "/script.json"))
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("fake_llm.py").path
    return try await withPythonServer(
        script: script, arguments: [directory + "/script.json", directory + "/requests.jsonl"]
    ) { port in
        guard let url = URL(string: "http://127.0.0.1:\(port)/v1") else { throw TestFailure("bad port \(port)") }
        return try await body(FakeModelServer(baseURL: url, logPath: directory + "/requests.jsonl"))
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A configuration for the fake endpoint: every agent on the model, short timeouts and backoff.
func testConfiguration(
    _ server: FakeModelServer, apiKey: String? = "sk-test-key-do-not-log-8d1f5c7e", mode: AgentMode = .llm,
    timeout: Duration = .seconds(10), maxRetries: Int = 2, maxConcurrentCalls: Int = 4, chunkBytes: Int = 32_000,
    maxChunks: Int = 12
) -> ModelConfiguration {
    ModelConfiguration(
        baseURL: server.baseURL, model: "review-model", apiKey: apiKey.map(ModelAPIKey.init), defaultMode: mode,
        timeout: timeout, maxRetries: maxRetries, retryBaseDelay: .milliseconds(50), maxRetryDelay: .seconds(5),
        maxConcurrentCalls: maxConcurrentCalls, chunkBytes: chunkBytes, maxChunks: maxChunks)
}

/// Captures every log message with its metadata, as text, at trace level.
final class LogRecorder: Sendable {
    private let lines = Mutex<[String]>([])

    var logger: Logger {
        var logger = Logger(label: "model-test") { _ in Handler(recorder: self) }
        logger.logLevel = .trace
        return logger
    }

    var text: String { lines.withLock { $0.joined(separator: "\n") } }
    var messages: [String] { lines.withLock { $0 } }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        var metadataProvider: Logger.MetadataProvider?

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            recorder.append("\(event.level) \(event.message) \(rendered)")
        }
    }
}

/// Parses a diff written in a test.
func diff(_ text: String) throws -> ParsedDiff { try DiffParser.parse(text) }

/// A small Python change: a query built by string formatting on line 12 and a loop with a query on line 15.
let sampleDiff = """
    diff --git a/app/db.py b/app/db.py
    index 83db48f..bf269f4 100644
    --- a/app/db.py
    +++ b/app/db.py
    @@ -10,3 +10,7 @@ def load(user_id):
         conn = connect()
    -    return conn.execute("SELECT * FROM users WHERE id = %s", (user_id,))
    +    cursor = conn.cursor()
    +    cursor.execute("SELECT * FROM users WHERE id = " + user_id)
    +    for order in orders:
    +        total += 1
    +    for order in orders:
         return cursor.fetchone()
    diff --git a/README.md b/README.md
    index 1111111..2222222 100644
    --- a/README.md
    +++ b/README.md
    @@ -1,1 +1,2 @@
     # App
    +Some words.

    """

/// A chat response with `findings` as the JSON the prompt asks for.
func findingsJSON(_ findings: [[String: Any]]) -> String {
    let data = try! JSONSerialization.data(withJSONObject: ["findings": findings], options: [.sortedKeys])
    return String(decoding: data, as: UTF8.self)
}
