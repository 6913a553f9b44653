import AgentGraph
import Dispatch
import Foundation
import Logging
public import ModelAgents
public import PostgresClient
import ReviewAgents
import ReviewStore
import Synchronization
public import TaskQueue

/// Settings of the review workflow.
public struct ReviewWorkflowConfiguration: Sendable {
    /// Checkpoint every node (resume after a crash). Off: the graph still runs, without resume.
    public var checkpointing: Bool
    /// Store results in review_history, findings, agent_performance. Off: the result is kept on the task only.
    public var analytics: Bool
    /// GitHub token for pull request diffs.
    public var githubToken: String?
    /// GitHub REST API base URL.
    public var githubAPIURL: String
    /// The longest a node may run.
    public var nodeTimeout: Duration
    /// Testing aid: extra time a node spends before it works (from `AGENTQUEUE_NODE_DELAYS`, e.g.
    /// `quality=3000,architecture=3000` in milliseconds). Empty in production.
    public var nodeDelays: [String: Duration]
    /// The model back-end, when one is configured (one per worker process: it owns the call limit).
    public var modelReviewer: ModelReviewer?

    /// Creates a configuration.
    public init(
        checkpointing: Bool = true,
        analytics: Bool = true,
        githubToken: String? = nil,
        githubAPIURL: String = "https://api.github.com",
        nodeTimeout: Duration = .seconds(600),
        nodeDelays: [String: Duration] = [:],
        modelReviewer: ModelReviewer? = nil
    ) {
        self.modelReviewer = modelReviewer
        self.checkpointing = checkpointing
        self.analytics = analytics
        self.githubToken = githubToken
        self.githubAPIURL = githubAPIURL
        self.nodeTimeout = nodeTimeout
        self.nodeDelays = nodeDelays
    }

    /// Parses `AGENTQUEUE_NODE_DELAYS` (`node=milliseconds,…`).
    public static func parseNodeDelays(_ text: String?) -> [String: Duration] {
        guard let text, !text.isEmpty else { return [:] }
        var delays: [String: Duration] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let milliseconds = Int64(parts[1].trimmingCharacters(in: .whitespaces)) {
                delays[parts[0].trimmingCharacters(in: .whitespaces)] = .milliseconds(milliseconds)
            }
        }
        return delays
    }
}

/// The `review` task kind: fetch_diff → security, scale, quality, architecture (in parallel) → verdict → persist,
/// with a checkpoint after every node and the results recorded exactly once with the task's completion.
public struct ReviewHandler: TaskHandler {
    /// The graph's node names, in order.
    public static let nodeNames = ["fetch_diff", "security", "scale", "quality", "architecture", "verdict", "persist"]

    let configuration: ReviewWorkflowConfiguration
    let pool: PostgresConnectionPool

    /// Creates the handler.
    public init(configuration: ReviewWorkflowConfiguration, pool: PostgresConnectionPool) {
        self.configuration = configuration
        self.pool = pool
    }

    public func handle(_ task: ClaimedTask, context: TaskContext) async throws -> TaskOutcome {
        let request: ReviewRequest
        do {
            request = try task.record.payload.decode(ReviewRequest.self)
        } catch {
            throw TaskFailure.permanent("the review payload is invalid: \(Self.describe(error))")
        }
        let clock = ContinuousClock()
        let started = clock.now
        let graph = try makeGraph(request: request, task: task, started: started, context: context)
        let runner = GraphRunner(
            store: configuration.checkpointing ? CheckpointStore(pool: pool) : nil, logger: context.logger)
        let report = try await runner.run(graph, task: task, context: context)
        let persisted = try report.output(of: "persist", as: PersistOutput.self)
        context.logger.info(
            "review recorded",
            metadata: [
                "verdict": "\(persisted.verdictStatus)", "findings": "\(persisted.findings)",
                "resumed_nodes": "\(report.resumed.keys.sorted().joined(separator: ","))",
            ]
        )
        return .completedByHandler
    }

    // MARK: The graph

    func makeGraph(
        request: ReviewRequest,
        task: ClaimedTask,
        started: ContinuousClock.Instant,
        context: TaskContext
    ) throws -> AgentGraphDefinition {
        let inputs = ParsedInputCache()
        let configuration = self.configuration
        let pool = self.pool
        let timeout = configuration.nodeTimeout
        let delays = configuration.nodeDelays

        let fetch = GraphNode("fetch_diff", timeout: timeout, output: FetchedDiff.self) { _ in
            try await Self.pause(delays["fetch_diff"])
            let fetched = try await Self.fetch(request, configuration: configuration)
            // Refuse a diff that cannot be parsed now, permanently: retrying cannot fix it.
            _ = try inputs.input(from: fetched)
            return fetched
        }
        var nodes = [fetch]
        for kind in AgentKind.allCases {
            nodes.append(
                GraphNode(kind.rawValue, dependsOn: ["fetch_diff"], timeout: timeout, output: AgentOutput.self) {
                    done in
                    try await Self.pause(delays[kind.rawValue])
                    let input = try inputs.input(from: try done.output(of: "fetch_diff", as: FetchedDiff.self))
                    guard input.configuration.isEnabled(kind) else { return AgentOutput(findings: []) }
                    return try await Self.review(
                        kind, input: input, reviewer: configuration.modelReviewer, context: context)
                }
            )
        }
        let agentNames = AgentKind.allCases.map(\.rawValue)
        nodes.append(
            GraphNode("verdict", dependsOn: agentNames, timeout: timeout, output: VerdictOutput.self) { done in
                try await Self.pause(delays["verdict"])
                let findings = try agentNames.flatMap { try done.output(of: $0, as: AgentOutput.self).findings }
                    .sorted(by: Finding.reportOrder)
                let diff = try inputs.input(from: try done.output(of: "fetch_diff", as: FetchedDiff.self)).diff
                return VerdictOutput(verdict: Verdict(findings: findings, diff: diff))
            }
        )
        nodes.append(
            GraphNode(
                "persist", dependsOn: ["fetch_diff", "verdict"] + agentNames, timeout: timeout, checkpointed: false,
                output: PersistOutput.self
            ) { done in
                let fetched = try done.output(of: "fetch_diff", as: FetchedDiff.self)
                let verdict = try done.output(of: "verdict", as: VerdictOutput.self).verdict
                var findings: [StoredFinding] = []
                var counts: [String: Int] = [:]
                var usages: [String: ModelUsage] = [:]
                for kind in AgentKind.allCases {
                    let output = try done.output(of: kind.rawValue, as: AgentOutput.self)
                    counts[kind.rawValue] = output.findings.count
                    findings += output.findings.map(StoredFinding.init(finding:))
                    usages[kind.rawValue] = output.model?.usage
                }
                let result = ReviewResult(
                    verdictStatus: VerdictStatus(verdict.status),
                    summary: verdict.summary,
                    counts: counts,
                    findings: findings,
                    agents: [],
                    executionTimeMilliseconds: (ContinuousClock.now - started).inMilliseconds
                )
                return try await Self.persist(
                    result, request: request.enriched(with: fetched), durations: done.durations, usages: usages,
                    task: task,
                    pool: pool, analytics: configuration.analytics, context: context
                )
            }
        )
        return try AgentGraphDefinition(nodes)
    }

    /// Runs one agent: its rules, the model, or both (merged by fingerprint). The model's answer becomes part of the
    /// node's checkpointed output, so a resumed task never pays for the same call twice.
    static func review(
        _ kind: AgentKind,
        input: ReviewInput,
        reviewer: ModelReviewer?,
        context: TaskContext
    ) async throws -> AgentOutput {
        let mode = reviewer?.mode(for: kind) ?? .rules
        let rules = mode.usesRules ? try await ReviewAgents.agent(kind).review(input) : []
        guard mode.usesModel, let reviewer else { return AgentOutput(findings: rules) }
        let model: ModelReview
        do {
            model = try await reviewer.review(kind: kind, input: input, logger: context.logger)
        } catch let error as ModelError {
            // A wrong key or a model that is down is worth retrying (after the operator fixed it); a request the
            // endpoint calls malformed is not.
            if error.isTransient || [401, 403, 404, 408].contains(error.status ?? 0) {
                throw TaskFailure.retryable("the \(kind.rawValue) agent's model call failed: \(error)")
            }
            throw TaskFailure.permanent("the \(kind.rawValue) agent's model call failed: \(error)")
        }
        return AgentOutput(findings: ModelReviewer.merge(rules: rules, model: model.findings), model: model)
    }

    /// Records the review with each agent node's duration (from this run, or its checkpoint when resumed).
    static func persist(
        _ result: ReviewResult,
        request: ReviewRequest,
        durations: [String: Duration],
        usages: [String: ModelUsage],
        task: ClaimedTask,
        pool: PostgresConnectionPool,
        analytics: Bool,
        context: TaskContext
    ) async throws -> PersistOutput {
        var result = result
        result.agents = AgentKind.allCases.map { kind in
            let usage = usages[kind.rawValue]
            return AgentRun(
                agent: kind.rawValue,
                executionTimeMilliseconds: durations[kind.rawValue]?.inMilliseconds ?? 0,
                findingsCount: result.counts[kind.rawValue] ?? 0,
                model: usage?.model,
                promptTokens: usage?.promptTokens,
                completionTokens: usage?.completionTokens,
                modelCalls: usage?.calls,
                modelLatencyMilliseconds: usage?.latencyMilliseconds
            )
        }
        switch try await ReviewRecorder.record(
            result, request: request, lease: task.lease, analytics: analytics, pool: pool)
        {
        case .leaseLost:
            context.control.markLeaseLost()
            throw TaskInterruption.leaseLost
        case .recorded(let reviewID):
            return PersistOutput(
                reviewID: reviewID, verdictStatus: result.verdictStatus.rawValue, findings: result.findings.count
            )
        }
    }

    static func pause(_ delay: Duration?) async throws {
        if let delay { try await Task.sleep(for: delay) }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context):
            return context.debugDescription
        case DecodingError.keyNotFound(let key, _):
            return "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "field '\(path)' has the wrong type"
        default:
            return "\(error)"
        }
    }

    // MARK: fetch_diff

    /// Gets the diff (and, where it lives, the repository configuration) for a request.
    static func fetch(_ request: ReviewRequest, configuration: ReviewWorkflowConfiguration) async throws -> FetchedDiff
    {
        let limits = DiffLimits.default
        switch request.source {
        case .diff(let text):
            guard text.utf8.count <= limits.maxBytes else {
                throw TaskFailure.permanent("the diff is \(text.utf8.count) bytes; the limit is \(limits.maxBytes)")
            }
            return FetchedDiff(bytes: Array(text.utf8), configuration: nil, title: nil, author: nil, headSHA: nil)
        case .git(let path, let base, let head):
            let range = GitRange(path: path, base: base, head: head)
            let (bytes, configurationText) = try await offload { () throws -> ([UInt8], String?) in
                do {
                    return (try GitDiff.diffBytes(range, limits: limits), try GitDiff.configurationText(range))
                } catch let error as GitDiffError {
                    // A bad path or revision does not heal by retrying.
                    throw TaskFailure.permanent(error.description)
                }
            }
            return FetchedDiff(bytes: bytes, configuration: configurationText, title: nil, author: nil, headSHA: nil)
        case .pullRequest(let url):
            guard let reference = PullRequestReference(url: url) else {
                throw TaskFailure.permanent(
                    "'\(url)' is not a GitHub pull request URL (https://github.com/OWNER/NAME/pull/N)")
            }
            let client = GitHubClient(apiURL: configuration.githubAPIURL, token: configuration.githubToken, timeout: 60)
            let info = try await client.pullRequest(reference)
            let bytes = try await client.diff(reference, maximumBytes: limits.maxBytes)
            return FetchedDiff(
                bytes: bytes, configuration: nil, title: info.title, author: info.author, headSHA: info.headSHA)
        }
    }
}

/// Runs blocking work (git) on a dispatch thread, off Swift's cooperative pool.
func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

// MARK: - Node outputs (versioned JSON in the checkpoints)

/// fetch_diff's output: the diff (text, or base64 when it is not clean UTF-8), the repository configuration, and
/// pull request metadata learned while fetching.
struct FetchedDiff: Codable, Sendable {
    var diff: String?
    var diffBase64: String?
    var configuration: String?
    var title: String?
    var author: String?
    var headSHA: String?

    init(bytes: [UInt8], configuration: String?, title: String?, author: String?, headSHA: String?) {
        if !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) {
            diff = text
        } else {
            diffBase64 = Data(bytes).base64EncodedString()
        }
        self.configuration = configuration
        self.title = title
        self.author = author
        self.headSHA = headSHA
    }

    var bytes: [UInt8] {
        if let diff { return Array(diff.utf8) }
        return diffBase64.flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) } ?? []
    }

    enum CodingKeys: String, CodingKey {
        case diff, configuration, title, author
        case diffBase64 = "diff_base64"
        case headSHA = "head_sha"
    }
}

/// An agent node's output: its (merged) findings, and the model's answer when a model was asked.
struct AgentOutput: Codable, Sendable {
    var findings: [Finding]
    var model: ModelReview?

    init(findings: [Finding], model: ModelReview? = nil) {
        self.findings = findings
        self.model = model
    }
}

/// The verdict node's output.
struct VerdictOutput: Codable, Sendable {
    var verdict: Verdict
}

/// The persist node's output (not checkpointed: recording completes the task).
struct PersistOutput: Codable, Sendable {
    var reviewID: Int64?
    var verdictStatus: String
    var findings: Int
}

/// Parses the fetched diff and configuration once per task and shares the input among the agent nodes.
final class ParsedInputCache: Sendable {
    private let cached = Mutex<ReviewInput?>(nil)

    func input(from fetched: FetchedDiff) throws -> ReviewInput {
        try cached.withLock { cached in
            if let cached { return cached }
            let diff: ParsedDiff
            do {
                diff = try DiffParser.parse(bytes: fetched.bytes)
            } catch {
                throw TaskFailure.permanent("the diff cannot be parsed: \(error)")
            }
            var repositoryConfiguration = RepositoryConfiguration.default
            if let text = fetched.configuration {
                do {
                    repositoryConfiguration = try RepositoryConfiguration.parse(yaml: text)
                } catch {
                    throw TaskFailure.permanent("the repository configuration is invalid: \(error)")
                }
            }
            let input = ReviewInput(diff: diff, configuration: repositoryConfiguration)
            cached = input
            return input
        }
    }
}

extension StoredFinding {
    init(finding: Finding) {
        self.init(
            agent: finding.agent.rawValue, ruleID: finding.ruleId, severity: finding.severity.rawValue,
            path: finding.path, line: finding.line, message: finding.message, suggestion: finding.suggestion,
            fingerprint: finding.fingerprint, source: finding.source
        )
    }
}

extension VerdictStatus {
    init(_ status: Verdict.Status) {
        self = VerdictStatus(rawValue: status.rawValue) ?? .changesRequested
    }
}

extension ReviewRequest {
    /// The request with what fetching learned (title, author, head commit) filled in where it was unknown.
    func enriched(with fetched: FetchedDiff) -> ReviewRequest {
        var copy = self
        copy.title = copy.title ?? fetched.title
        copy.author = copy.author ?? fetched.author
        copy.headSHA = copy.headSHA ?? fetched.headSHA
        if case .pullRequest(let url) = source {
            copy.prURL = copy.prURL ?? url
            if let reference = PullRequestReference(url: url) {
                copy.repo = copy.repo ?? reference.repo
                copy.prNumber = copy.prNumber ?? reference.number
            }
        }
        return copy
    }
}
