import Crypto
import Foundation
import TestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The repository root (for scripts/ and the fixtures).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// GitHub's real example deliveries (octokit/webhooks, MIT), by event.
enum Deliveries {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/github-webhooks")

    /// The body of `event/file` (e.g. `pull_request`, `opened.payload.json`).
    static func body(_ event: String, _ file: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent("\(event)/\(file)")))
    }

    /// Every fixture: (event, file name, body).
    static func all() throws -> [(event: String, file: String, body: [UInt8])] {
        var result: [(String, String, [UInt8])] = []
        let events = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        for event in events {
            var isDirectory: ObjCBool = false
            guard
                FileManager.default.fileExists(
                    atPath: directory.appendingPathComponent(event).path, isDirectory: &isDirectory),
                isDirectory.boolValue
            else { continue }
            for file in try FileManager.default.contentsOfDirectory(
                atPath: directory.appendingPathComponent(event).path
            )
            .sorted() where file.hasSuffix(".json") {
                result.append((event, file, try body(event, file)))
            }
        }
        return result
    }

    /// A fixture's JSON with changes applied (the fixtures themselves are never edited).
    static func edited(_ event: String, _ file: String, _ change: (inout [String: Any]) -> Void) throws -> [UInt8] {
        var object = try JSONSerialization.jsonObject(with: Data(try body(event, file))) as! [String: Any]
        change(&object)
        return Array(try JSONSerialization.data(withJSONObject: object))
    }
}

/// `sha256=` + the hex HMAC-SHA256 of `body` under `secret`, as GitHub signs a delivery.
func signature(_ body: [UInt8], secret: String) -> String {
    let code = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
    return "sha256=" + code.map { String(format: "%02x", $0) }.joined()
}

/// An HTTP answer.
struct HTTPAnswer: Sendable {
    let status: Int
    let body: String

    /// The body as a JSON object.
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
}

/// Sends one request and returns the answer (no redirects, no retries).
func http(
    _ method: String, _ url: String, headers: [String: String] = [:], body: [UInt8]? = nil,
    timeout: TimeInterval = 30
) async throws -> HTTPAnswer {
    var request = URLRequest(url: URL(string: url)!, timeoutInterval: timeout)
    request.httpMethod = method
    for (key, value) in headers { request.setValue(value, forHTTPHeaderField: key) }
    if let body { request.httpBody = Data(body) }
    let (data, response) = try await URLSession.shared.data(for: request)
    return HTTPAnswer(status: (response as! HTTPURLResponse).statusCode, body: String(decoding: data, as: UTF8.self))
}

/// The test secret deliveries are signed with.
let webhookSecret = "test-webhook-secret-0123456789"

/// A running queue-webhook, bound to a free port.
struct WebhookServer: Sendable {
    let process: RunningProcess
    let address: String

    /// Starts queue-webhook with `environment` (plus a free port) and waits until it answers /readyz.
    static func start(_ environment: [String: String]) async throws -> WebhookServer {
        var env = ["WEBHOOK_LISTEN": "127.0.0.1:0", "LOG_FORMAT": "logfmt", "LOG_LEVEL": "debug"]
        for (key, value) in environment { env[key] = value }
        let process = try RunningProcess("queue-webhook", [], environment: env)
        var address: String?
        _ = await eventually(timeout: .seconds(60)) {
            if let match = process.log.firstMatch(of: /msg=listening.* address=([0-9.]+:[0-9]+)/) {
                address = String(match.1)
            }
            return address != nil || !process.isRunning
        }
        guard let address else {
            await process.stop()
            throw TestDatabaseError("queue-webhook did not start listening: \(process.log.suffix(2000))")
        }
        let server = WebhookServer(process: process, address: address)
        let ready = await eventually(timeout: .seconds(60), every: .milliseconds(100)) {
            (try? await http("GET", "http://\(address)/readyz").status) == 200
        }
        guard ready else {
            await process.stop()
            throw TestDatabaseError("queue-webhook never became ready: \(process.log.suffix(2000))")
        }
        return server
    }

    /// Posts a delivery, signed with `secret` unless `signed` is false.
    func deliver(
        _ event: String, _ body: [UInt8], id: String = UUID().uuidString, secret: String = webhookSecret,
        signed: Bool = true, extraHeaders: [String: String] = [:]
    ) async throws -> HTTPAnswer {
        var headers = ["X-GitHub-Event": event, "X-GitHub-Delivery": id, "Content-Type": "application/json"]
        if signed { headers["X-Hub-Signature-256"] = signature(body, secret: secret) }
        for (key, value) in extraHeaders { headers[key] = value }
        return try await http("POST", "http://\(address)/webhooks/github", headers: headers, body: body)
    }
}

/// The fake GitHub API (scripts/lib/fake_github.py): checks every request body against GitHub's OpenAPI models.
struct FakeGitHub: Sendable {
    let url: String

    /// A pull request the fake serves.
    func addPull(
        repo: String, number: Int, headSHA: String, diff: String, files: [String: String] = [:], draft: Bool = false
    )
        async throws
    {
        try await control(
            "pulls",
            ["repo": repo, "number": number, "head_sha": headSHA, "diff": diff, "files": files, "draft": draft])
    }

    /// Answers the next `times` requests matching `method` and `path` (a regex) with `status` (0: normally, after
    /// `delay` seconds).
    func fault(
        _ method: String, _ path: String, status: Int, times: Int = 1, headers: [String: String] = [:],
        body: [String: Any]? = nil, delay: Double = 0
    ) async throws {
        var fault: [String: Any] = [
            "method": method, "path": path, "status": status, "times": times, "headers": headers, "delay": delay,
        ]
        if let body { fault["body"] = body }
        try await control("faults", fault)
    }

    /// Everything posted so far.
    func state() async throws -> [String: Any] {
        let answer = try await http("GET", url + "/_fake/state")
        return answer.json
    }

    /// The posted objects of one kind (`check_runs`, `statuses`, `comments`, `reviews`, `requests`, `invalid`).
    func list(_ kind: String) async throws -> [[String: Any]] {
        try await state()[kind] as? [[String: Any]] ?? []
    }

    private func control(_ path: String, _ body: [String: Any]) async throws {
        let answer = try await http(
            "POST", url + "/_fake/" + path, body: Array(try JSONSerialization.data(withJSONObject: body)))
        guard answer.status == 200 else { throw TestDatabaseError("fake GitHub: \(path) → \(answer.status)") }
    }

    /// Runs `body` with a fake GitHub accepting `token` and, when given, the App `appID` whose public key is at
    /// `appPublicKey`.
    static func with<T>(
        token: String? = nil, appID: String? = nil, appPublicKey: String? = nil, _ body: (FakeGitHub) async throws -> T
    ) async throws -> T {
        let check = try await TestProcesses.run(
            "/usr/bin/env", ["python3", "-c", "import githubkit_schemas.latest.models"], timeout: .seconds(60))
        guard check.status == 0 else {
            throw TestDatabaseError(
                "the fake GitHub needs githubkit: python3 -m pip install 'githubkit==0.16.1' "
                    + "'hishel[async,httpx]==1.3.0' (scripts/test.sh installs it)")
        }
        var arguments: [String] = []
        if let token { arguments += ["--token", token] }
        if let appID, let appPublicKey { arguments += ["--app-id", appID, "--app-public-key", appPublicKey] }
        return try await withPythonServer(
            script: repositoryRoot.appendingPathComponent("scripts/lib/fake_github.py").path, arguments: arguments
        ) { port in
            try await body(FakeGitHub(url: "http://127.0.0.1:\(port)"))
        }
    }
}

/// A GitHub App key pair made with openssl: the private key's PEM file and the public key's.
struct AppKeys: Sendable {
    let directory: String
    var privateKey: String { directory + "/app.pem" }
    var publicKey: String { directory + "/app.pub.pem" }

    static func make() async throws -> AppKeys {
        let directory = NSTemporaryDirectory() + "aq-app-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let keys = AppKeys(directory: directory)
        for arguments in [
            ["genrsa", "-out", keys.privateKey, "2048"],
            ["rsa", "-in", keys.privateKey, "-pubout", "-out", keys.publicKey],
        ] {
            let result = try await TestProcesses.run("/usr/bin/openssl", arguments, timeout: .seconds(120))
            guard result.status == 0 else { throw TestDatabaseError("openssl \(arguments[0]) failed") }
        }
        return keys
    }
}
