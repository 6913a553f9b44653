public import ReviewAgents

/// What asking the model about one agent's part of a review produced.
///
/// Codable with snake_case keys and a stable shape, so it can be stored in the agent node's checkpoint: a resumed
/// task reads it back instead of calling the model again.
public struct ModelReview: Sendable, Hashable, Codable {
    /// The validated findings (`source` is `llm`), deduplicated by fingerprint, in report order.
    public var findings: [Finding]
    /// Findings the model returned that failed validation (wrong fields, unknown severity, a path or line that is
    /// not an added line of the diff) and were dropped.
    public var droppedFindings: Int
    /// Responses whose content held no findings JSON at all.
    public var malformedResponses: Int
    /// Hunks not sent because the agent's chunk limit (`LLM_MAX_CHUNKS`) was reached.
    public var skippedHunks: Int
    /// Lines and hunk sections of the agent's files in which credentials were masked before sending.
    public var maskedLines: Int
    /// Tokens, calls and time spent.
    public var usage: ModelUsage

    /// Creates a review.
    public init(
        findings: [Finding], droppedFindings: Int = 0, malformedResponses: Int = 0, skippedHunks: Int = 0,
        maskedLines: Int = 0, usage: ModelUsage
    ) {
        self.findings = findings
        self.droppedFindings = droppedFindings
        self.malformedResponses = malformedResponses
        self.skippedHunks = skippedHunks
        self.maskedLines = maskedLines
        self.usage = usage
    }

    enum CodingKeys: String, CodingKey {
        case findings
        case droppedFindings = "dropped_findings"
        case malformedResponses = "malformed_responses"
        case skippedHunks = "skipped_hunks"
        case maskedLines = "masked_lines"
        case usage
    }
}

/// The cost of one agent's model review, as recorded in `agent_performance`.
public struct ModelUsage: Sendable, Hashable, Codable {
    /// The model named in the requests.
    public var model: String
    /// Prompt tokens, summed over the responses that reported usage.
    public var promptTokens: Int
    /// Completion tokens, summed over the responses that reported usage.
    public var completionTokens: Int
    /// HTTP requests sent, retries included.
    public var calls: Int
    /// Of ``calls``, how many were retries.
    public var retries: Int
    /// Time spent waiting for responses, summed over the calls (waits for a free slot and backoff excluded).
    public var latencyMilliseconds: Double

    /// Creates a usage record.
    public init(
        model: String, promptTokens: Int = 0, completionTokens: Int = 0, calls: Int = 0, retries: Int = 0,
        latencyMilliseconds: Double = 0
    ) {
        self.model = model
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.calls = calls
        self.retries = retries
        self.latencyMilliseconds = latencyMilliseconds
    }

    /// Adds another record's counts to this one.
    public mutating func add(_ other: ModelUsage) {
        promptTokens += other.promptTokens
        completionTokens += other.completionTokens
        calls += other.calls
        retries += other.retries
        latencyMilliseconds += other.latencyMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case model
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case calls
        case retries
        case latencyMilliseconds = "latency_ms"
    }
}
