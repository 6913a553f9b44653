import GitHubForge
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresClient
import Synchronization
import TaskQueue

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Answers GitHub's deliveries at `POST /webhooks/github`.
///
/// In order: the size (GitHub caps deliveries at 25 MB: a larger one is 413, refused before its body is read), the
/// signature (`X-Hub-Signature-256`, HMAC-SHA256 of the exact body under the current or the previous secret: 401),
/// the headers (`X-GitHub-Event`, `X-GitHub-Delivery`: 400), the payload (400 when malformed or an unsupported
/// event). Then one short transaction records the delivery and enqueues or cancels reviews, and the answer is 202 —
/// the review itself never holds the answer up. A redelivery finds its record and changes nothing. Nothing is stored
/// for a refused delivery, and the secrets never reach a log line or an answer.
struct WebhookHandler: Sendable {
    /// GitHub's cap on a delivery's size.
    static let maximumBody = 25 * 1024 * 1024

    let configuration: WebhookConfiguration
    let pool: PostgresConnectionPool
    let state: WebhookState
    let logger: Logger

    func respond(to request: Request) async -> Response {
        let headers = request.headers
        if let length = headers[.contentLength].flatMap(Int.init), length > Self.maximumBody {
            return reject(413, "the delivery is \(length) bytes; GitHub's limit, and AgentQueue's, is 25 MB", request)
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maximumBody)
        } catch is NIOTooManyBytesError {
            return reject(413, "the delivery is larger than 25 MB", request)
        } catch {
            return reject(400, "the delivery's body could not be read", request)
        }
        let bytes = Array(body.readableBytesView)
        guard let signature = headers[HTTPField.Name("X-Hub-Signature-256")!] else {
            return reject(401, "the delivery is not signed (no X-Hub-Signature-256): set the webhook's secret", request)
        }
        guard configuration.secrets.verify(signature: signature, body: bytes) else {
            return reject(401, "the signature does not match the webhook's secret", request)
        }
        guard let event = headers[HTTPField.Name("X-GitHub-Event")!], !event.isEmpty else {
            return reject(400, "the delivery has no X-GitHub-Event header", request)
        }
        guard let delivery = headers[HTTPField.Name("X-GitHub-Delivery")!],
            (1...200).contains(delivery.utf8.count), delivery.allSatisfy({ $0.isASCII && !$0.isWhitespace })
        else {
            return reject(400, "the delivery has no valid X-GitHub-Delivery header", request)
        }
        let decision: DeliveryDecision
        do {
            decision = try DeliveryIntake.decide(
                event: event, body: bytes, enterpriseHost: configuration.enterpriseHost)
        } catch {
            return reject(error.status, error.description, request, delivery: delivery, event: event)
        }
        var log = logger
        log[metadataKey: "delivery"] = "\(delivery)"
        log[metadataKey: "event"] = "\(event)"
        do {
            switch decision {
            case .pong:
                return answer(200, ["status": "pong"])
            case .ignore(let reason):
                log.debug("delivery ignored", metadata: ["reason": "\(reason)"])
                return answer(200, ["status": "ignored", "detail": reason])
            case .review(let intent):
                let task = NewTask(
                    kind: "review", payload: try PostgresJSON(encoding: intent.request), queue: configuration.queue,
                    priority: configuration.priority, dedupeKey: intent.dedupeKey)
                let (outcome, taskID) = try await pool.run(
                    try AcceptReviewRequest(
                        delivery: delivery, event: event, action: actionName(bytes), repo: intent.repo,
                        number: intent.number, headSHA: intent.headSHA, task: task, supersede: intent.supersede))
                state.accepted()
                log.info(
                    "delivery accepted",
                    metadata: [
                        "outcome": "\(outcome.rawValue)", "task.id": "\(taskID.map(String.init) ?? "-")",
                        "repo": "\(intent.repo)", "pr": "\(intent.number)",
                    ])
                return answer(
                    202, ["status": outcome.rawValue, "task_id": taskID.map(String.init) ?? "", "repo": intent.repo])
            case .close(let repo, let number):
                let (redelivery, cancelled) = try await pool.run(
                    CancelPullRequestReviews(
                        delivery: delivery, event: event, action: "closed", repo: repo, number: number))
                state.accepted()
                log.info(
                    "delivery accepted",
                    metadata: ["outcome": "\(redelivery ? "redelivery" : "cancelled")", "cancelled": "\(cancelled)"])
                return answer(202, ["status": redelivery ? "redelivery" : "cancelled", "cancelled": "\(cancelled)"])
            }
        } catch {
            // Nothing was stored (the transaction rolled back): GitHub shows the failure; redeliver it.
            state.databaseFailed()
            log.error("delivery not recorded", metadata: ["error": "\(configuration.redact("\(error)"))"])
            return answer(503, ["status": "error", "detail": "the delivery could not be recorded; redeliver it"])
        }
    }

    /// The `action` of a delivery (for the record), or an empty string.
    private func actionName(_ body: [UInt8]) -> String {
        struct Action: Decodable { let action: String? }
        return (try? JSONDecoder().decode(Action.self, from: Data(body)))?.action ?? ""
    }

    private func reject(
        _ status: Int, _ detail: String, _ request: Request, delivery: String? = nil, event: String? = nil
    )
        -> Response
    {
        state.rejected()
        logger.notice(
            "delivery refused",
            metadata: [
                "status": "\(status)", "reason": "\(detail)", "delivery": "\(delivery ?? "-")",
                "event": "\(event ?? "-")",
            ])
        return answer(status, ["status": "refused", "detail": detail])
    }

    private func answer(_ status: Int, _ fields: [String: String]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? encoder.encode(fields)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return Response(
            status: HTTPResponse.Status(code: status),
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: json + "\n")))
    }
}

/// What the webhook's services share: whether the database answers at the expected schema, and counters.
final class WebhookState: Sendable {
    private struct Inner {
        var lastDatabaseSuccess: ContinuousClock.Instant?
        var schemaProblem: String?
        var accepted = 0
        var rejected = 0
        var address: String?
    }

    private let inner = Mutex(Inner())

    func databaseSucceeded() { inner.withLock { $0.lastDatabaseSuccess = .now } }
    func databaseFailed() {}
    func schema(problem: String?) { inner.withLock { $0.schemaProblem = problem } }
    func accepted() { inner.withLock { $0.accepted += 1 } }
    func rejected() { inner.withLock { $0.rejected += 1 } }
    func listening(on address: String) { inner.withLock { $0.address = address } }

    var snapshot:
        (
            lastDatabaseSuccess: ContinuousClock.Instant?, schemaProblem: String?, accepted: Int, rejected: Int,
            address: String?
        )
    {
        inner.withLock { ($0.lastDatabaseSuccess, $0.schemaProblem, $0.accepted, $0.rejected, $0.address) }
    }
}
