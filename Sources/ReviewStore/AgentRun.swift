/// How one agent did on one review.
public struct AgentRun: Codable, Sendable, Hashable {
    /// The agent.
    public var agent: String
    /// Its wall time.
    public var executionTimeMilliseconds: Double
    /// Findings it produced.
    public var findingsCount: Int
    /// The model used, when an LLM backend ran.
    public var model: String?
    /// Prompt tokens spent.
    public var promptTokens: Int?
    /// Completion tokens spent.
    public var completionTokens: Int?
    /// Model calls made.
    public var modelCalls: Int?
    /// Time spent waiting for the model.
    public var modelLatencyMilliseconds: Double?

    /// Creates a record.
    public init(
        agent: String, executionTimeMilliseconds: Double, findingsCount: Int, model: String? = nil,
        promptTokens: Int? = nil, completionTokens: Int? = nil, modelCalls: Int? = nil,
        modelLatencyMilliseconds: Double? = nil
    ) {
        self.agent = agent
        self.executionTimeMilliseconds = executionTimeMilliseconds
        self.findingsCount = findingsCount
        self.model = model
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.modelCalls = modelCalls
        self.modelLatencyMilliseconds = modelLatencyMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case agent, model
        case executionTimeMilliseconds = "execution_time_ms"
        case findingsCount = "findings_count"
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case modelCalls = "model_calls"
        case modelLatencyMilliseconds = "model_latency_ms"
    }
}
