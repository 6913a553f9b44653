import Foundation
import GitHubForge
import PostgresClient
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

extension BenchResults {
    /// Signed deliveries accepted by queue-webhook, each a distinct pull request's push enqueued as a review.
    struct Webhook: Codable, Sendable {
        var busyCores: Int
        var deliveries: Int
        var clients: Int
        var seconds: Double
        var deliveriesPerSecond: Double
        var p50Ms: Double
        var p99Ms: Double
        var maxMs: Double
    }
}

/// What the concurrent clients of the webhook scenario share: the next delivery to send, and what failed.
final class DeliveryCounters: Sendable {
    let next = Atomic<Int>(0)
    let failures = Mutex<[String]>([])
}

extension Bench {
    /// queue-webhook under load: `deliveries` signed `pull_request synchronize` deliveries of distinct pull requests
    /// posted by `clients` concurrent connections, with 0, 1 and 2 cores kept busy by other processes. Every answer
    /// must be 202 and every delivery enqueue one review; the rate and the answer times are printed, never asserted.
    func webhookScenario(binary: String, deliveries: Int, clients: Int) async throws {
        let secret = "bench-webhook-secret-0123456789"
        let bodies = (1...deliveries).map { number -> [UInt8] in
            let sha = String(format: "%040x", number)
            let json = """
                {"action":"synchronize","number":\(number),"pull_request":{"number":\(number),\
                "html_url":"https://github.com/bench/app/pull/\(number)","title":"bench","head":{"sha":"\(sha)"},\
                "draft":false,"user":{"login":"bench"}},"repository":{"full_name":"bench/app"},"installation":{"id":1}}
                """
            return Array(json.utf8)
        }
        let signatures = bodies.map { WebhookSecrets.signature(of: $0, secret: secret) }
        for busy in [0, 1, 2] {
            try await database.reset()
            try await database.connection.simpleQuery("TRUNCATE webhook_deliveries")
            let spinners = try (0..<busy).map { index in
                try ChildProcess(
                    path: "/bin/sh", arguments: ["-c", "while :; do :; done"], environment: [:],
                    logPath: "\(workDirectory)/spinner-\(index).log")
            }
            defer { for spinner in spinners { spinner.signal(SIGKILL) } }
            let log = "\(workDirectory)/webhook-busy\(busy).log"
            let server = try ChildProcess(
                path: binary, arguments: [],
                environment: [
                    "DATABASE_URL": databaseURL, "GITHUB_WEBHOOK_SECRET": secret, "WEBHOOK_LISTEN": "127.0.0.1:0",
                    "LOG_FORMAT": "logfmt", "LOG_LEVEL": "info", "PATH": "/usr/bin:/bin",
                ], logPath: log)
            defer { server.signal(SIGKILL) }
            let address = try await Self.webhookAddress(server, log: log)
            let url = URL(string: "http://\(address)/webhooks/github")!
            let shared = DeliveryCounters()
            let started = ContinuousClock.now
            let latencies = await withTaskGroup(of: [Double].self) { group in
                for _ in 0..<clients {
                    group.addTask {
                        var mine: [Double] = []
                        while true {
                            let index = shared.next.add(1, ordering: .relaxed).oldValue
                            guard index < bodies.count else { break }
                            var request = URLRequest(url: url, timeoutInterval: 30)
                            request.httpMethod = "POST"
                            request.httpBody = Data(bodies[index])
                            request.setValue("pull_request", forHTTPHeaderField: "X-GitHub-Event")
                            request.setValue("bench-\(index)", forHTTPHeaderField: "X-GitHub-Delivery")
                            request.setValue(signatures[index], forHTTPHeaderField: "X-Hub-Signature-256")
                            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                            let begin = ContinuousClock.now
                            do {
                                let (_, response) = try await URLSession.shared.data(for: request)
                                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                                if status != 202 { shared.failures.withLock { $0.append("HTTP \(status)") } }
                            } catch {
                                shared.failures.withLock { $0.append("\(error)") }
                            }
                            let elapsed = ContinuousClock.now - begin
                            mine.append(
                                Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds)
                                    * 1000)
                        }
                        return mine
                    }
                }
                var all: [Double] = []
                for await part in group { all += part }
                return all
            }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let problems = shared.failures.withLock { $0 }
            guard problems.isEmpty else {
                throw BenchError("\(problems.count) deliveries were not accepted (first: \(problems[0]))")
            }
            let enqueued = try await database.connection.query("SELECT count(*)::int AS n FROM tasks").single?
                .decode(Int.self, "n")
            guard enqueued == deliveries else {
                throw BenchError("\(deliveries) deliveries enqueued \(enqueued ?? 0) reviews")
            }
            let sorted = latencies.sorted()
            func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
            let row = BenchResults.Webhook(
                busyCores: busy, deliveries: deliveries, clients: clients, seconds: seconds,
                deliveriesPerSecond: Double(deliveries) / seconds, p50Ms: percentile(0.5), p99Ms: percentile(0.99),
                maxMs: sorted.last ?? 0)
            results.webhook.append(row)
            progress(
                "webhook: \(busy) busy cores: \(Int(row.deliveriesPerSecond)) deliveries/s, p50 "
                    + "\(String(format: "%.2f", row.p50Ms)) ms, p99 \(String(format: "%.2f", row.p99Ms)) ms")
            server.signal(SIGTERM)
            await server.wait()
        }
    }

    /// The address queue-webhook logged once listening.
    static func webhookAddress(_ server: ChildProcess, log: String) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let match = text.firstMatch(of: /msg=listening.* address=([0-9.]+:[0-9]+)/) {
                let address = String(match.1)
                // Ready once /readyz says the database answers at the expected schema.
                var request = URLRequest(url: URL(string: "http://\(address)/readyz")!, timeoutInterval: 5)
                request.httpMethod = "GET"
                if let (_, response) = try? await URLSession.shared.data(for: request),
                    (response as? HTTPURLResponse)?.statusCode == 200
                {
                    return address
                }
            }
            if server.hasExited { throw BenchError("queue-webhook exited: \(server.logTail())") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("queue-webhook did not become ready: \(server.logTail())")
    }
}
