import Foundation
import Logging
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One message of a chat-completions conversation.
struct ChatMessage: Codable, Sendable, Hashable {
    var role: String
    var content: String
}

/// The content of a completion and what it cost.
struct ChatCompletion: Sendable {
    /// The assistant message's text; nil when the response carried none (a refusal, a tool call).
    var content: String?
    /// Why generation stopped (`stop`, `length`, …).
    var finishReason: String?
    var usage: ModelUsage
}

/// Calls `POST <base>/chat/completions` through Foundation's `URLSession` (system libcurl), with a deadline per call,
/// retries with backoff on timeouts, connection errors, 429 and 5xx (honouring `Retry-After`), and a process-wide
/// limit on calls in flight.
struct ChatCompletionsClient: Sendable {
    let configuration: ModelConfiguration
    let endpoint: URL
    let host: String
    let session: URLSession
    let limiter: CallLimiter
    /// Where the jitter of backoff delays comes from (fixed in tests).
    let jitter: @Sendable () -> Double

    init(configuration: ModelConfiguration, limiter: CallLimiter, jitter: @escaping @Sendable () -> Double) throws {
        guard let endpoint = configuration.endpoint else {
            throw ModelError.notConfigured("LLM_BASE_URL is not set")
        }
        guard !configuration.model.isEmpty else { throw ModelError.notConfigured("LLM_MODEL is not set") }
        self.configuration = configuration
        self.endpoint = endpoint
        host = endpoint.host.map { host in endpoint.port.map { "\(host):\($0)" } ?? host } ?? "?"
        let sessionConfiguration = URLSessionConfiguration.ephemeral
        sessionConfiguration.timeoutIntervalForRequest = Self.transportTimeout(configuration.timeout)
        sessionConfiguration.timeoutIntervalForResource = Self.transportTimeout(configuration.timeout)
        sessionConfiguration.urlCache = nil
        sessionConfiguration.httpCookieStorage = nil
        session = URLSession(configuration: sessionConfiguration)
        self.limiter = limiter
        self.jitter = jitter
    }

    /// Lets calls in flight finish, then releases the session's connections.
    func invalidate() { session.finishTasksAndInvalidate() }

    /// What the request body looks like (OpenAI's chat-completions schema, the part every compatible server reads).
    private struct RequestBody: Encodable {
        struct ResponseFormat: Encodable { var type: String }
        var model: String
        var messages: [ChatMessage]
        var temperature: Double?
        var maxTokens: Int?
        var responseFormat: ResponseFormat?
        var stream = false

        enum CodingKeys: String, CodingKey {
            case model, messages, temperature, stream
            case maxTokens = "max_tokens"
            case responseFormat = "response_format"
        }
    }

    private struct ResponseBody: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable { var content: String? }
            var message: Message?
            var finishReason: String?
            enum CodingKeys: String, CodingKey {
                case message
                case finishReason = "finish_reason"
            }
        }
        struct Usage: Decodable {
            var promptTokens: Int?
            var completionTokens: Int?
            enum CodingKeys: String, CodingKey {
                case promptTokens = "prompt_tokens"
                case completionTokens = "completion_tokens"
            }
        }
        var choices: [Choice]
        var usage: Usage?
    }

    /// The request for `messages`, with the key only in the `Authorization` header.
    func makeRequest(_ messages: [ChatMessage]) throws -> URLRequest {
        let body = RequestBody(
            model: configuration.model, messages: messages, temperature: configuration.temperature,
            maxTokens: configuration.maxTokens,
            responseFormat: configuration.jsonMode ? RequestBody.ResponseFormat(type: "json_object") : nil)
        var request = URLRequest(url: endpoint, timeoutInterval: Self.transportTimeout(configuration.timeout))
        request.httpMethod = "POST"
        request.httpBody = try JSONEncoder().encode(body)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        request.setValue("agentqueue-model-agents", forHTTPHeaderField: "User-Agent")
        if let key = configuration.apiKey, !key.value.isEmpty {
            request.setValue("Bearer \(key.value)", forHTTPHeaderField: "Authorization")
        }
        return request
    }

    /// One completion: waits for a free slot, then calls until a response arrives or the retries are spent.
    /// The slot is held through backoff waits, so an endpoint that says "slow down" slows the whole process down.
    func complete(_ messages: [ChatMessage], logger: Logger) async throws -> ChatCompletion {
        let request = try makeRequest(messages)
        return try await limiter.withSlot { try await call(request, logger: logger) }
    }

    private enum Failure {
        case timedOut
        case transport(String)
        case status(Int, retryAfter: Duration?, detail: String)
    }

    private func call(_ request: URLRequest, logger: Logger) async throws -> ChatCompletion {
        var usage = ModelUsage(model: configuration.model)
        let clock = ContinuousClock()
        var attempt = 0
        while true {
            try Task.checkCancellation()
            attempt += 1
            usage.calls += 1
            if attempt > 1 { usage.retries += 1 }
            let started = clock.now
            let failure: Failure
            do {
                let (data, response) = try await send(request)
                let elapsed = clock.now - started
                usage.latencyMilliseconds += elapsed.milliseconds
                let status = response.statusCode
                logger.debug(
                    "model call answered",
                    metadata: [
                        "http.status": "\(status)", "model.attempt": "\(attempt)",
                        "model.latency_ms": "\(Int(elapsed.milliseconds))",
                    ])
                switch status {
                case 200..<300:
                    return try completion(from: data, status: status, usage: usage, logger: logger)
                case 408, 429, 500...599:
                    let retryAfter = RetryAfter.delay(
                        header: { response.value(forHTTPHeaderField: $0) }, now: Date().timeIntervalSince1970)
                    failure = .status(status, retryAfter: retryAfter, detail: excerpt(data))
                default:
                    throw ModelError.requestRejected(
                        host: host, status: status, attempts: attempt, detail: excerpt(data))
                }
            } catch is DeadlineExceeded {
                usage.latencyMilliseconds += (clock.now - started).milliseconds
                failure = .timedOut
            } catch let error as URLError {
                usage.latencyMilliseconds += (clock.now - started).milliseconds
                if Task.isCancelled || error.code == .cancelled { throw CancellationError() }
                logger.debug(
                    "model call failed",
                    metadata: [
                        "model.attempt": "\(attempt)", "model.url_error": "\(error.code.rawValue)",
                        "model.latency_ms": "\(Int((clock.now - started).milliseconds))",
                    ])
                failure = error.code == .timedOut ? .timedOut : .transport("URLError \(error.code.rawValue)")
            }

            // Give up, or wait before the next attempt.
            guard attempt <= configuration.maxRetries else { throw finalError(failure, attempts: attempt, note: nil) }
            var wait = backoff(attempt: attempt)
            if case .status(_, let retryAfter?, _) = failure {
                guard retryAfter <= configuration.maxRetryDelay else {
                    // Retrying sooner than asked would only be refused again; the task's own retry comes later.
                    let seconds = Int(retryAfter.milliseconds / 1000)
                    throw finalError(failure, attempts: attempt, note: "the server asked to wait \(seconds) s")
                }
                wait = retryAfter
            }
            logger.info(
                "model call retried",
                metadata: [
                    "model.attempt": "\(attempt)", "model.reason": "\(Self.reason(failure))",
                    "model.wait_ms": "\(Int(wait.milliseconds))",
                ])
            try await Task.sleep(for: wait)
        }
    }

    /// Exponential backoff with jitter: base × 2^(attempt−1) × [0.5, 1), at most the longest wait.
    func backoff(attempt: Int) -> Duration {
        let exponent = Double(min(attempt - 1, 20))
        let nominal = configuration.retryBaseDelay.milliseconds * pow(2, exponent)
        let jittered = nominal * (0.5 + 0.5 * min(max(jitter(), 0), 1))
        return .milliseconds(Int64(min(jittered, configuration.maxRetryDelay.milliseconds)))
    }

    private static func reason(_ failure: Failure) -> String {
        switch failure {
        case .timedOut: "timeout"
        case .transport: "transport"
        case .status(let status, _, _): "http \(status)"
        }
    }

    private func finalError(_ failure: Failure, attempts: Int, note: String?) -> ModelError {
        switch failure {
        case .timedOut:
            return .timedOut(host: host, attempts: attempts)
        case .transport(let detail):
            return .transport(host: host, attempts: attempts, detail: detail)
        case .status(let status, _, let detail):
            let text = [note, detail.isEmpty ? nil : detail].compactMap { $0 }.joined(separator: "; ")
            if status == 429 { return .rateLimited(host: host, attempts: attempts, detail: text) }
            if status == 408 { return .timedOut(host: host, attempts: attempts) }
            return .serverError(host: host, status: status, attempts: attempts, detail: text)
        }
    }

    private func completion(from data: Data, status: Int, usage: ModelUsage, logger: Logger) throws -> ChatCompletion {
        let body: ResponseBody
        do {
            body = try JSONDecoder().decode(ResponseBody.self, from: data)
        } catch {
            throw ModelError.invalidResponse(host: host, status: status, detail: excerpt(data))
        }
        guard let choice = body.choices.first else {
            throw ModelError.invalidResponse(host: host, status: status, detail: "no choices")
        }
        var usage = usage
        usage.promptTokens += body.usage?.promptTokens ?? 0
        usage.completionTokens += body.usage?.completionTokens ?? 0
        logger.debug(
            "model call completed",
            metadata: [
                "model.prompt_tokens": "\(body.usage?.promptTokens ?? 0)",
                "model.completion_tokens": "\(body.usage?.completionTokens ?? 0)",
                "model.finish_reason": "\(choice.finishReason ?? "-")",
            ])
        return ChatCompletion(content: choice.message?.content, finishReason: choice.finishReason, usage: usage)
    }

    /// A short, single-line excerpt of an error body with the API key scrubbed (some servers echo it back).
    private func excerpt(_ data: Data) -> String {
        let text = String(decoding: data.prefix(600), as: UTF8.self)
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return String(scrub(line).prefix(300))
    }

    private func scrub(_ text: String) -> String {
        guard let key = configuration.apiKey?.value, key.count >= 4 else { return text }
        return text.replacingOccurrences(of: key, with: "<redacted>")
    }

    // MARK: One HTTP exchange with a deadline

    /// URLSession's own timeouts, set only as a backstop behind ``send(_:)``'s deadline: whole seconds and a margin,
    /// because FoundationNetworking on Linux times out at once when given less than a second, and its default
    /// (60 s) would cut a slow model short of a longer configured timeout.
    static func transportTimeout(_ timeout: Duration) -> TimeInterval {
        (timeout.milliseconds / 1000).rounded(.up) + 5
    }

    private struct DeadlineExceeded: Error {}

    /// The response, or `DeadlineExceeded` once the per-call timeout has passed. URLSession's own timeouts are
    /// inactivity timers (a server trickling bytes never trips them), so the exchange races a sleep; and the
    /// answer is delivered the moment either side wins, without waiting for a cancelled transfer to wind down
    /// (URLSession does that on its own queue, slowly when the machine is busy).
    private func send(_ request: URLRequest) async throws -> (Data, HTTPURLResponse) {
        let exchange = Exchange()
        let session = self.session
        let timeout = configuration.timeout
        let reply = try await withThrowingTaskGroup(of: Reply?.self) { group in
            group.addTask { try await exchange.run(request, on: session) }
            group.addTask {
                try await Task.sleep(for: timeout)
                exchange.finish(.failure(DeadlineExceeded()))
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let reply = next { return reply }
            }
            throw DeadlineExceeded()
        }
        guard let http = reply.response as? HTTPURLResponse else {
            throw URLError(.badServerResponse)
        }
        return (reply.data, http)
    }

    /// A response crossing from URLSession's callback to the task.
    private struct Reply: @unchecked Sendable {
        // URLResponse is an immutable value in practice but is not declared Sendable on Linux.
        let data: Data
        let response: URLResponse
    }

    /// One data task whose outcome is delivered once: by URLSession's completion, the deadline, or cancellation,
    /// whichever comes first; the losers find it finished and do nothing.
    private final class Exchange: Sendable {
        private struct State {
            var continuation: CheckedContinuation<Reply, any Error>?
            var outcome: Result<Reply, any Error>?
            var task: URLSessionDataTask?
        }

        private let state = Mutex(State())

        func run(_ request: URLRequest, on session: URLSession) async throws -> Reply {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Reply, any Error>) in
                    let task = session.dataTask(with: request) { [self] data, response, error in
                        if let data, let response {
                            finish(.success(Reply(data: data, response: response)))
                        } else {
                            finish(.failure(error ?? URLError(.badServerResponse)))
                        }
                    }
                    let early = state.withLock { state -> Result<Reply, any Error>? in
                        if let outcome = state.outcome { return outcome }
                        state.continuation = continuation
                        state.task = task
                        return nil
                    }
                    if let early {
                        continuation.resume(with: early)
                    } else {
                        task.resume()
                    }
                }
            } onCancel: {
                finish(.failure(CancellationError()))
            }
        }

        /// Delivers `outcome` if nothing was delivered yet, and stops the transfer if it is still running.
        func finish(_ outcome: Result<Reply, any Error>) {
            let (continuation, task) = state.withLock { state in
                guard state.outcome == nil else {
                    return (nil, nil) as (CheckedContinuation<Reply, any Error>?, URLSessionDataTask?)
                }
                state.outcome = outcome
                defer {
                    state.continuation = nil
                    state.task = nil
                }
                return (state.continuation, state.task)
            }
            if case .failure = outcome { task?.cancel() }
            continuation?.resume(with: outcome)
        }
    }
}

extension Duration {
    /// The duration in milliseconds, fractional.
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
