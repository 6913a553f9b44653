public import Logging
public import ReviewAgents

/// Asks an OpenAI-compatible chat-completions endpoint to review a diff as one of the four agents.
///
/// Create one per worker process and share it: its limit on concurrent calls (`LLM_MAX_CONCURRENCY`) holds over
/// every task and agent that uses it. Before anything is sent, credentials in the diff are masked with the security
/// agent's scanner; the API key travels only in the `Authorization` header and is never logged.
public final class ModelReviewer: Sendable {
    /// The configuration it was created with.
    public let configuration: ModelConfiguration
    let client: ChatCompletionsClient
    let logger: Logger

    /// Creates a reviewer. Throws ``ModelError`` when the base URL or the model is missing.
    ///
    /// `jitter` supplies the random factor of backoff delays, a number in [0, 1]; tests fix it.
    public init(
        configuration: ModelConfiguration, logger: Logger,
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }
    ) throws {
        self.configuration = configuration
        self.logger = logger
        client = try ChatCompletionsClient(
            configuration: configuration, limiter: CallLimiter(limit: max(1, configuration.maxConcurrentCalls)),
            jitter: jitter)
    }

    deinit {
        // Let calls in flight finish, then release the session's connections.
        client.invalidate()
    }

    /// How `agent` reviews: rules, model, or both.
    public func mode(for agent: AgentKind) -> AgentMode { configuration.mode(for: agent) }

    /// Reviews `input` as `kind` with the model: masks credentials, splits the agent's relevant hunks into chunks,
    /// asks for each chunk (concurrently, within the process-wide limit) and validates what comes back.
    ///
    /// Malformed output never throws: bad findings are dropped and counted, responses without findings JSON are
    /// counted. Throws ``ModelError`` when a call fails after its retries (see ``ModelError/isTransient``), and
    /// `CancellationError` when the task is cancelled. No call is made when the agent is disabled by the repository
    /// configuration, when its mode is ``AgentMode/rules``, when the repository turns `llm.<agent>.*` rules off, or
    /// when no relevant hunk adds lines.
    public func review(kind: AgentKind, input: ReviewInput, logger: Logger? = nil) async throws -> ModelReview {
        var logger = logger ?? self.logger
        logger[metadataKey: "agent"] = "\(kind.rawValue)"
        let empty = ModelReview(findings: [], usage: ModelUsage(model: configuration.model))
        guard mode(for: kind).usesModel, input.configuration.isEnabled(kind),
            input.configuration.isEnabled(rule: Self.descriptor(ruleId: "llm.\(kind.rawValue).*", agent: kind, .info))
        else { return empty }

        // Only the files this agent is asked about are masked and chunked; the others appear in the summary by
        // path alone.
        let relevant = input.diff.files.filter {
            DiffChunker.isRelevant($0, to: kind, configuration: input.configuration)
        }
        let masked = ParsedDiff(files: relevant, byteCount: input.diff.byteCount).maskingCredentials()
        var plan = DiffChunker.plan(
            masked.diff, agent: kind, configuration: input.configuration, budget: configuration.chunkBytes,
            maxChunks: configuration.maxChunks)
        plan.summary = DiffChunker.summary(input.diff, configuration: input.configuration)
        if plan.skippedHunks > 0 {
            logger.info(
                "diff larger than the model budget",
                metadata: ["model.skipped_hunks": "\(plan.skippedHunks)", "model.chunks": "\(plan.chunks.count)"])
        }
        guard !plan.chunks.isEmpty else {
            var review = empty
            review.maskedLines = masked.maskedLineCount
            return review
        }

        let client = self.client
        let completions = try await withThrowingTaskGroup(of: (Int, ChatCompletion).self) { group in
            for index in plan.chunks.indices {
                var chunkLogger = logger
                chunkLogger[metadataKey: "model.chunk"] = "\(index + 1)/\(plan.chunks.count)"
                let messages = Prompts.messages(agent: kind, plan: plan, index: index)
                group.addTask { [chunkLogger] in (index, try await client.complete(messages, logger: chunkLogger)) }
            }
            var results: [(Int, ChatCompletion)] = []
            for try await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }

        let lines = AddedLineIndex(input.diff, configuration: input.configuration)
        var usage = ModelUsage(model: configuration.model)
        var dropped = 0
        var malformed = 0
        var findings: [Finding] = []
        var seen: Set<String> = []
        for (index, completion) in completions.enumerated() {
            usage.add(completion.usage)
            guard let content = completion.content, let candidates = FindingExtraction.candidates(in: content) else {
                malformed += 1
                continue
            }
            let validator = FindingValidator(lines: lines, chunkLines: plan.chunks[index].addedLines)
            for candidate in candidates {
                guard let valid = validator.validate(candidate) else {
                    dropped += 1
                    continue
                }
                guard let finding = makeFinding(valid, agent: kind, lines: lines, configuration: input.configuration)
                else { continue }
                if seen.insert(finding.fingerprint).inserted { findings.append(finding) }
            }
        }
        if dropped > 0 || malformed > 0 {
            logger.info(
                "model output partly unusable",
                metadata: ["model.dropped_findings": "\(dropped)", "model.malformed_responses": "\(malformed)"])
        }
        logger.debug(
            "model review finished",
            metadata: [
                "model.findings": "\(findings.count)", "model.calls": "\(usage.calls)",
                "model.prompt_tokens": "\(usage.promptTokens)", "model.completion_tokens": "\(usage.completionTokens)",
            ])
        return ModelReview(
            findings: findings.sorted(by: Finding.reportOrder), droppedFindings: dropped, malformedResponses: malformed,
            skippedHunks: plan.skippedHunks, maskedLines: masked.maskedLineCount, usage: usage)
    }

    /// Rule findings and model findings as one list: duplicates by fingerprint removed (the first kept, rules before
    /// the model), in ``Finding/reportOrder(_:_:)``. The result does not depend on the order of either input.
    public static func merge(rules: [Finding], model: [Finding]) -> [Finding] {
        var seen: Set<String> = []
        var merged: [Finding] = []
        // Sorting each side first makes "the first kept" independent of the order the inputs arrived in.
        for finding in rules.sorted(by: Finding.reportOrder) + model.sorted(by: Finding.reportOrder)
        where seen.insert(finding.fingerprint).inserted {
            merged.append(finding)
        }
        return merged.sorted(by: Finding.reportOrder)
    }

    /// A finding with a rule-style id (`llm.<agent>.<slug>`), the repository's overrides and inline
    /// `agentqueue:ignore` comments applied, and a fingerprint computed the way the rules compute theirs: from the
    /// rule id, the path and the added line's content (not its number), or an empty key for a whole-file finding.
    func makeFinding(
        _ valid: ValidatedFinding, agent: AgentKind, lines: AddedLineIndex, configuration: RepositoryConfiguration
    ) -> Finding? {
        let ruleId = "llm.\(agent.rawValue).\(valid.slug)"
        let descriptor = Self.descriptor(ruleId: ruleId, agent: agent, valid.severity)
        guard configuration.isEnabled(rule: descriptor) else { return nil }
        var content = ""
        var occurrence = 0
        if let line = valid.line, let entry = lines.files[valid.path]?[line] {
            if Finding.isSuppressed(ruleId: ruleId, lineText: entry.text) { return nil }
            content = entry.text
            occurrence = entry.occurrence
        }
        return Finding(
            agent: agent, ruleId: ruleId, severity: configuration.severity(for: descriptor), path: valid.path,
            line: valid.line, message: valid.message, suggestion: valid.suggestion,
            fingerprint: Finding.fingerprint(
                ruleId: ruleId, path: valid.path, content: content, occurrence: occurrence),
            source: "llm")
    }

    static func descriptor(ruleId: String, agent: AgentKind, _ severity: Severity) -> RuleDescriptor {
        RuleDescriptor(
            id: ruleId, agent: agent, defaultSeverity: severity, title: "Model finding",
            help: "A finding reported by the configured language model.")
    }
}
