import AgentGraph
public import DiffSources
import Foundation
import GitHubForge
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
    /// Where diffs come from (the GitHub token and API URL for pull requests).
    public var sources: DiffSources
    /// The longest a node may run.
    public var nodeTimeout: Duration
    /// Testing aid: extra time a node spends before it works (from `AGENTQUEUE_NODE_DELAYS`, e.g.
    /// `quality=3000,architecture=3000` in milliseconds). Empty in production.
    public var nodeDelays: [String: Duration]
    /// The model back-end, when one is configured (one per worker process: it owns the call limit).
    public var modelReviewer: ModelReviewer?
    /// The threads that parse diffs and run the rule agents (never Swift's cooperative pool).
    public var agentThreads: AgentThreads

    /// Creates a configuration.
    public init(
        checkpointing: Bool = true,
        analytics: Bool = true,
        sources: DiffSources = DiffSources(),
        nodeTimeout: Duration = .seconds(600),
        nodeDelays: [String: Duration] = [:],
        modelReviewer: ModelReviewer? = nil,
        agentThreads: AgentThreads = .perCore
    ) {
        self.checkpointing = checkpointing
        self.analytics = analytics
        self.sources = sources
        self.nodeTimeout = nodeTimeout
        self.nodeDelays = nodeDelays
        self.modelReviewer = modelReviewer
        self.agentThreads = agentThreads
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

/// The `review` task kind: fetch_diff → security, scale, quality, architecture (in parallel) → verdict, with a
/// checkpoint after every node; the review is then recorded in the task's finish transaction (``ReviewRecords``), so
/// it is recorded exactly once, together with the task's completion. A review to publish (``ReviewRequest/publish``)
/// also starts its check when the diff is fetched (`check_run`) and posts the result after the verdict (`publish`):
/// both are checkpointed nodes, and each finds what it posted before, so a resumed task never posts twice.
public struct ReviewHandler: TaskHandler {
    /// The graph's node names, in order (without publishing).
    public static let nodeNames = ["fetch_diff", "security", "scale", "quality", "architecture", "verdict"]
    /// The nodes a review to publish adds.
    public static let publishingNodeNames = ["check_run", "publish"]

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
        if let problem = request.problem { throw TaskFailure.permanent("the review payload is invalid: \(problem)") }
        let started = ContinuousClock.now
        let graph = try makeGraph(request: request, context: context)
        let runner = GraphRunner(checkpoints: configuration.checkpointing ? pool : nil, logger: context.logger)
        let report: GraphRunReport
        do {
            report = try await runner.run(graph, task: task, context: context)
        } catch  where context.control.isCancelRequested {
            // Superseded by a newer push, or its pull request closed: end the check it started, if any. The worker
            // cancelled this Swift task to stop the work at once, so the GitHub calls run in a task of their own
            // (at most 15 seconds: it is a courtesy, the cancellation stands either way).
            if let publisher = publisher(for: request, fetched: nil, logger: context.logger) {
                // Awaiting an unstructured task's value does not end early when the awaiting task is cancelled.
                await Task.detached {
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask {
                            await publisher.cancel(
                                reason:
                                    "The review was cancelled: a newer push supersedes it, or the pull request was closed."
                            )
                        }
                        group.addTask { try? await Task.sleep(for: .seconds(15)) }
                        await group.next()
                        group.cancelAll()
                    }
                }.value
            }
            throw TaskInterruption.cancelRequested
        }
        let fetched = try report.output(of: "fetch_diff", as: FetchOutput.self)
        if let skipped = fetched.skipped {
            context.logger.info("review skipped", metadata: ["reason": "\(skipped)"])
            return .succeeded(result: try PostgresJSON(encoding: ["skipped": skipped]))
        }
        let records = try Self.records(
            request: request, report: report, started: started, analytics: configuration.analytics,
            enterpriseHost: enterpriseHost)
        context.logger.info(
            "review done",
            metadata: [
                "verdict": "\(records.record.verdictStatus.rawValue)", "findings": "\(records.record.findings.count)",
                "resumed_nodes": "\(report.resumed.keys.sorted().joined(separator: ","))",
            ]
        )
        return .recorded(records)
    }

    // MARK: The graph

    func makeGraph(request: ReviewRequest, context: TaskContext) throws -> AgentGraphDefinition {
        let inputs = ParsedInputCache()
        let configuration = self.configuration
        let timeout = configuration.nodeTimeout
        let delays = configuration.nodeDelays
        let threads = configuration.agentThreads

        let fetch = GraphNode("fetch_diff", timeout: timeout, output: FetchOutput.self) { _ in
            try await Self.pause(delays["fetch_diff"])
            let fetched: FetchedDiff
            do throws(DiffSourceError) {
                fetched = try await configuration.sources.fetch(
                    request.source, installation: request.publish?.installationID)
            } catch {
                // A rate limit gives the attempt back; an outage or a 5xx is retried through the queue's backoff.
                if error.permanent { throw TaskFailure.permanent(error.description) }
                throw error.waitRequested ? TaskFailure.interrupted(error.description) : .retryable(error.description)
            }
            var output = FetchOutput(fetched)
            // Refuse a diff that cannot be parsed (or is empty) now, permanently: retrying cannot fix it.
            let input = try await withTaskExecutorPreference(threads) { try inputs.input(from: output) }
            if request.publish != nil, request.publish?.draft == true || fetched.draft == true,
                !input.configuration.pullRequests.reviewDrafts
            {
                output.skipped = "draft pull request (pull_requests.drafts in .agentqueue.yml reviews drafts)"
            }
            return output
        }
        var nodes = [fetch]
        for kind in AgentKind.allCases {
            nodes.append(
                GraphNode(kind.rawValue, dependsOn: ["fetch_diff"], timeout: timeout, output: AgentOutput.self) {
                    done in
                    // The agent's own work: its rules (timed on the agent thread that runs them), its model call and
                    // any injected delay, without the waits for a thread around them, so that agent_performance tells
                    // agents apart even when they queue for the same threads.
                    let clock = ContinuousClock()
                    var work = try await clock.measure { try await Self.pause(delays[kind.rawValue]) }
                    let fetched = try done.output(of: "fetch_diff", as: FetchOutput.self)
                    guard fetched.skipped == nil else { return AgentOutput(findings: [], work: work) }
                    let (input, rules, rulesWork) = try await withTaskExecutorPreference(threads) {
                        () async throws -> (ReviewInput, [Finding], Duration) in
                        let input = try inputs.input(from: fetched)
                        guard input.configuration.isEnabled(kind) else { return (input, [], .zero) }
                        let mode = configuration.modelReviewer?.mode(for: kind) ?? .rules
                        guard mode.usesRules else { return (input, [], .zero) }
                        let start = clock.now
                        let rules = try await ReviewAgents.agent(kind).review(input)
                        return (input, rules, clock.now - start)
                    }
                    work += rulesWork
                    guard input.configuration.isEnabled(kind) else { return AgentOutput(findings: [], work: work) }
                    let start = clock.now
                    var output = try await Self.model(
                        kind, rules: rules, input: input, configuration: configuration, context: context)
                    output.workMilliseconds = (work + (clock.now - start)).inMilliseconds
                    return output
                }
            )
        }
        let agentNames = AgentKind.allCases.map(\.rawValue)
        nodes.append(
            GraphNode("verdict", dependsOn: agentNames, timeout: timeout, output: VerdictOutput.self) { done in
                try await Self.pause(delays["verdict"])
                let findings = try agentNames.flatMap { try done.output(of: $0, as: AgentOutput.self).findings }
                    .sorted(by: Finding.reportOrder)
                let fetched = try done.output(of: "fetch_diff", as: FetchOutput.self)
                let diff = try await withTaskExecutorPreference(threads) { try inputs.input(from: fetched).diff }
                return VerdictOutput(verdict: Verdict(findings: findings, diff: diff))
            }
        )
        if request.publish != nil {
            nodes += publishingNodes(request: request, inputs: inputs, agentNames: agentNames, context: context)
        }
        return try AgentGraphDefinition(nodes)
    }

    /// `check_run` (after fetch_diff: the check is in progress) and `publish` (after the verdict).
    func publishingNodes(request: ReviewRequest, inputs: ParsedInputCache, agentNames: [String], context: TaskContext)
        -> [GraphNode]
    {
        let timeout = configuration.nodeTimeout
        let threads = configuration.agentThreads
        let pool = self.pool
        let start = GraphNode("check_run", dependsOn: ["fetch_diff"], timeout: timeout, output: CheckRunOutput.self) {
            done in
            let fetched = try done.output(of: "fetch_diff", as: FetchOutput.self)
            guard fetched.skipped == nil,
                let publisher = publisher(for: request, fetched: fetched, logger: context.logger)
            else { return CheckRunOutput() }
            return CheckRunOutput(start: try await publisher.start())
        }
        let publish = GraphNode(
            "publish", dependsOn: ["fetch_diff", "check_run", "verdict"] + agentNames, timeout: timeout,
            output: PublishOutput.self
        ) { done in
            let fetched = try done.output(of: "fetch_diff", as: FetchOutput.self)
            guard fetched.skipped == nil else { return PublishOutput(publications: []) }
            guard let publisher = publisher(for: request, fetched: fetched, logger: context.logger) else {
                return PublishOutput(publications: [
                    PublicationRecord(
                        kind: "error", detail: "cannot publish: the repository, pull request or head commit is unknown")
                ])
            }
            let verdict = try done.output(of: "verdict", as: VerdictOutput.self).verdict
            let findings = try agentNames.flatMap { try done.output(of: $0, as: AgentOutput.self).findings }
            let input = try await withTaskExecutorPreference(threads) { try inputs.input(from: fetched) }
            let previous = try await pool.run(
                PreviousReviewFindings(repo: publisher.repo, number: publisher.number, headSHA: publisher.headSHA))
            let commented = try await pool.run(CommentedFingerprints(repo: publisher.repo, number: publisher.number))
            let start = try done.output(of: "check_run", as: CheckRunOutput.self).start ?? Publisher.Start()
            return PublishOutput(
                publications: try await publisher.finish(
                    verdict: verdict, findings: findings, diff: input.diff, settings: input.configuration.pullRequests,
                    previous: previous, alreadyCommented: commented, start: start))
        }
        return [start, publish]
    }

    /// The web host of the configured GitHub Enterprise Server, if any.
    var enterpriseHost: String? {
        PullRequestReference.enterpriseHost(apiURL: configuration.sources.github.apiURL.absoluteString)
    }

    /// The publisher of a review to publish, once its repository, number and head commit are known.
    func publisher(for request: ReviewRequest, fetched: FetchOutput?, logger: Logger) -> Publisher? {
        guard let target = request.publish else { return nil }
        let enriched = fetched.map { request.enriched(with: $0, enterpriseHost: enterpriseHost) } ?? request
        guard let repo = enriched.repo, let number = enriched.prNumber, let headSHA = enriched.headSHA else {
            return nil
        }
        return Publisher(
            client: configuration.sources.github.forInstallation(target.installationID), repo: repo, number: number,
            headSHA: headSHA, logger: logger)
    }

    /// Asks the model, when one is configured for the agent, and merges its findings with the rules' (by
    /// fingerprint). The model's answer becomes part of the node's checkpointed output, so a resumed task never pays
    /// for the same call twice.
    static func model(
        _ kind: AgentKind,
        rules: [Finding],
        input: ReviewInput,
        configuration: ReviewWorkflowConfiguration,
        context: TaskContext
    ) async throws -> AgentOutput {
        guard let reviewer = configuration.modelReviewer, reviewer.mode(for: kind).usesModel else {
            return AgentOutput(findings: rules)
        }
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

    /// The review's rows and the task's result, from the graph's outputs and each agent's own work time (from this
    /// run, or its checkpoint when resumed).
    static func records(
        request: ReviewRequest,
        report: GraphRunReport,
        started: ContinuousClock.Instant,
        analytics: Bool,
        enterpriseHost: String?
    ) throws -> ReviewRecords {
        let fetched = try report.output(of: "fetch_diff", as: FetchOutput.self)
        let verdict = try report.output(of: "verdict", as: VerdictOutput.self).verdict
        let durations = report.resumed.merging(report.executed) { $1 }
        var findings: [Finding] = []
        var counts: [String: Int] = [:]
        var agents: [AgentRun] = []
        for kind in AgentKind.allCases {
            let output = try report.output(of: kind.rawValue, as: AgentOutput.self)
            counts[kind.rawValue] = output.findings.count
            findings += output.findings
            let usage = output.model?.usage
            agents.append(
                AgentRun(
                    agent: kind.rawValue,
                    executionTimeMilliseconds: output.workMilliseconds ?? durations[kind.rawValue]?.inMilliseconds ?? 0,
                    findingsCount: output.findings.count,
                    model: usage?.model,
                    promptTokens: usage?.promptTokens,
                    completionTokens: usage?.completionTokens,
                    modelCalls: usage?.calls,
                    modelLatencyMilliseconds: usage?.latencyMilliseconds
                )
            )
        }
        let enriched = request.enriched(with: fetched, enterpriseHost: enterpriseHost)
        let executionTime = (ContinuousClock.now - started).inMilliseconds
        var record = ReviewRecord(
            prURL: enriched.prURL, repo: enriched.repo, prNumber: enriched.prNumber, title: enriched.title,
            author: enriched.author, headSHA: enriched.headSHA, summary: verdict.summary,
            verdictStatus: verdict.status, counts: counts, executionTimeMilliseconds: executionTime,
            findings: findings, agents: agents
        )
        if report.outputs["publish"] != nil {
            record.publications = try report.output(of: "publish", as: PublishOutput.self).publications
        }
        let result = ReviewResult(
            verdictStatus: verdict.status, summary: verdict.summary, counts: counts, findings: findings,
            agents: agents, executionTimeMilliseconds: executionTime
        )
        return ReviewRecords(record: record, analytics: analytics) { reviewID in
            var stored = result
            stored.reviewID = reviewID
            return try PostgresJSON(encoding: stored)
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
}

// MARK: - Node outputs (versioned JSON in the checkpoints)

/// fetch_diff's output: the diff (text, or base64 when it is not clean UTF-8), the repository configuration, and
/// pull request metadata learned while fetching; `skipped` says why the review does not go on (a draft).
struct FetchOutput: Codable, Sendable {
    var diff: String?
    var diffBase64: String?
    var configuration: String?
    var title: String?
    var author: String?
    var headSHA: String?
    var skipped: String?

    init(_ fetched: FetchedDiff) {
        if !fetched.bytes.contains(0), let text = String(validating: fetched.bytes, as: UTF8.self) {
            diff = text
        } else {
            diffBase64 = Data(fetched.bytes).base64EncodedString()
        }
        configuration = fetched.configuration
        title = fetched.title
        author = fetched.author
        headSHA = fetched.headSHA
    }

    var bytes: [UInt8] {
        if let diff { return Array(diff.utf8) }
        return diffBase64.flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) } ?? []
    }

    enum CodingKeys: String, CodingKey {
        case diff, configuration, title, author, skipped
        case diffBase64 = "diff_base64"
        case headSHA = "head_sha"
    }
}

/// check_run's output: the check run it started (none with a token, or for a skipped review).
struct CheckRunOutput: Codable, Sendable {
    var start: Publisher.Start?
}

/// publish's output: what was posted (checkpointed, so a resumed task does not post again; recorded with the review).
struct PublishOutput: Codable, Sendable {
    var publications: [PublicationRecord]
}

/// An agent node's output: its (merged) findings, and the model's answer when a model was asked.
struct AgentOutput: Codable, Sendable {
    var findings: [Finding]
    var model: ModelReview?
    /// How long the agent's own work took (its rules, its model call), in milliseconds; absent from checkpoints of
    /// earlier versions, whose node duration stands in for it.
    var workMilliseconds: Double?

    init(findings: [Finding], model: ModelReview? = nil, work: Duration? = nil) {
        self.findings = findings
        self.model = model
        self.workMilliseconds = work?.inMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case findings, model
        case workMilliseconds = "work_ms"
    }
}

/// The verdict node's output.
struct VerdictOutput: Codable, Sendable {
    var verdict: Verdict
}

/// Parses the fetched diff and configuration once per task and shares the input among the agent nodes.
final class ParsedInputCache: Sendable {
    private let cached = Mutex<ReviewInput?>(nil)

    func input(from fetched: FetchOutput) throws -> ReviewInput {
        try cached.withLock { cached in
            if let cached { return cached }
            let diff: ParsedDiff
            do {
                // Stops within a few thousand lines when the node times out, the lease is lost or the worker stops.
                // An empty diff is refused: approving it would let a failed `git diff` pass (fail-open).
                diff = try DiffParser.parseCheckingCancellation(bytes: fetched.bytes, rejectingEmpty: true)
            } catch let error as DiffParseError {
                throw TaskFailure.permanent(
                    error.code == .emptyDiff ? error.description : "the diff cannot be parsed: \(error)")
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

extension ReviewRequest {
    /// The request with what fetching learned (title, author, head commit) filled in where it was unknown;
    /// `enterpriseHost` is the GitHub Enterprise Server web host whose pull request URLs are accepted too.
    func enriched(with fetched: FetchOutput, enterpriseHost: String?) -> ReviewRequest {
        var copy = self
        copy.title = copy.title ?? fetched.title
        copy.author = copy.author ?? fetched.author
        copy.headSHA = copy.headSHA ?? fetched.headSHA
        if case .pullRequest(let url) = source {
            copy.prURL = copy.prURL ?? url
            if let reference = PullRequestReference(url: url, enterpriseHost: enterpriseHost) {
                copy.repo = copy.repo ?? reference.repo
                copy.prNumber = copy.prNumber ?? reference.number
            }
        }
        return copy
    }
}
