import DiffSources
import GitHubForge
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
/// Payload (all optional): `sleep_ms` — work this long, at most a day (stopped at once by a cancel request, a lost
/// lease or a shutdown); `fail` — fail with this message; `permanent` — make that failure permanent. Succeeds with no
/// result otherwise.
public struct NoopHandler: TaskHandler {
    struct Payload: Decodable {
        var sleep_ms: Int?
        var fail: String?
        var permanent: Bool?
    }

    /// The longest `sleep_ms`: a day.
    static let longestSleep = 86_400_000

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
        if let milliseconds = payload.sleep_ms {
            guard (0...Self.longestSleep).contains(milliseconds) else {
                throw TaskFailure.permanent("noop payload is invalid: sleep_ms must be 0 to \(Self.longestSleep)")
            }
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
    /// The task kinds a standard worker runs: `review` and `noop`. The review agents use a model when the `LLM_*`
    /// settings configure one (docs/models.md).
    public static func standardHandlers(
        configuration: WorkerConfiguration,
        pool: PostgresConnectionPool,
        logger: Logger
    ) throws -> HandlerRegistry {
        let models = configuration.models
        let reviewer = models.isEnabled ? try ModelReviewer(configuration: models, logger: logger) : nil
        var registry = HandlerRegistry()
        registry.register("noop", NoopHandler())
        registry.register(
            "review",
            ReviewHandler(
                configuration: ReviewWorkflowConfiguration(
                    checkpointing: configuration.checkpointing,
                    analytics: configuration.analytics,
                    sources: DiffSources(
                        github: try GitHubClient(
                            apiURL: configuration.githubAPIURL,
                            credentials: GitHubCredentials(
                                token: configuration.githubToken, app: configuration.githubApp))
                    ),
                    nodeDelays: configuration.nodeDelays,
                    modelReviewer: reviewer,
                    agentThreads: AgentThreads(count: configuration.agentThreads)
                ),
                pool: pool
            )
        )
        return registry
    }
}
