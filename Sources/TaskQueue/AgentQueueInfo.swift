/// Facts about this build of AgentQueue.
public enum AgentQueueInfo {
    /// The version of AgentQueue's binaries.
    public static let version = "0.1.0"
}
