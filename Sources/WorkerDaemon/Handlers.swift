public import Logging
import ModelAgents
public import PostgresClient
import ReviewWorkflow
public import TaskQueue

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The handlers a worker runs, by task kind.
public struct HandlerRegistry: Sendable {
    private var handlers: [String: any TaskHandler] = [:]

    /// An empty registry.
    public init() {}

    /// Registers the handler for a kind (replacing any earlier one).
    public mutating func register(_ kind: String, _ handler: any TaskHandler) {
        handlers[kind] = handler
    }

    /// The handler for a kind, if any.
    public func handler(for kind: String) -> (any TaskHandler)? {
        handlers[kind]
    }

    /// The kinds this registry runs, sorted.
    public var kinds: [String] { handlers.keys.sorted() }
}

/// The built-in `noop` kind, for tests, benchmarks and smoke checks.
///
/// Payload (all optional): `sleep_ms` — work this long (cancellable); `fail` — fail with this message;
/// `permanent` — make that failure permanent. Succeeds with `{"ok": true}` otherwise.
public struct NoopHandler: TaskHandler {
    struct Payload: Decodable {
        var sleep_ms: Int?
        var fail: String?
        var permanent: Bool?
    }

    /// Creates the handler.
    public init() {}

    public func handle(_ task: ClaimedTask, context: TaskContext) async throws -> TaskOutcome {
        let payload: Payload
        do {
            payload = try task.record.payload.decode(Payload.self)
        } catch {
            throw TaskFailure.permanent(
                "noop payload is invalid: expected {sleep_ms?: int, fail?: string, permanent?: bool}")
        }
        if let milliseconds = payload.sleep_ms, milliseconds > 0 {
            try await Task.sleep(for: .milliseconds(milliseconds))
        }
        try context.checkBoundary()
        if let message = payload.fail {
            throw payload.permanent == true ? TaskFailure.permanent(message) : TaskFailure.retryable(message)
        }
        return .succeeded(result: nil)
    }
}

extension WorkerDaemon {
    /// The task kinds a standard worker runs: `review` and `noop`. The review agents use a model when
    /// `LLM_*` settings configure one (see README, "Using a model").
    public static func standardHandlers(
        configuration: WorkerConfiguration,
        pool: PostgresConnectionPool,
        logger: Logger
    ) throws -> HandlerRegistry {
        let models = try ModelConfiguration(environment: ProcessEnvironment.current())
        let reviewer = models.isEnabled ? try ModelReviewer(configuration: models, logger: logger) : nil
        var registry = HandlerRegistry()
        registry.register("noop", NoopHandler())
        registry.register(
            "review",
            ReviewHandler(
                configuration: ReviewWorkflowConfiguration(
                    checkpointing: configuration.checkpointing,
                    analytics: configuration.analytics,
                    githubToken: configuration.githubToken,
                    githubAPIURL: configuration.githubAPIURL,
                    nodeDelays: ReviewWorkflowConfiguration.parseNodeDelays(
                        ProcessEnvironment.current()["AGENTQUEUE_NODE_DELAYS"]
                    ),
                    modelReviewer: reviewer
                ),
                pool: pool
            )
        )
        return registry
    }
}
