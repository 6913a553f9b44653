/// Facts about this build of AgentQueue.
public enum AgentQueueInfo {
    /// The version of AgentQueue's binaries.
    public static let version = "0.1.0"
}

extension Duration {
    /// The duration in milliseconds, with fractions.
    public var inMilliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
