public import PostgresClient

/// `write_checkpoints(...)`: the outputs of nodes that finished together, in one statement, each inserted only if the
/// node has none yet, fenced by the lease. Returns each node's outcome.
///
/// The statement commits asynchronously (`synchronous_commit = off` for its own transaction only): a checkpoint that
/// a database crash loses within the WAL writer's delay only means that node runs again after the rescue, exactly as
/// when the worker dies before writing it. Whatever commits after it synchronously (the finish) flushes it too.
public struct WriteCheckpoints: PostgresStatement {
    /// The attempt's lease.
    public let lease: Lease
    /// The nodes' outputs.
    public let outputs: [CheckpointOutput]

    /// Creates the statement.
    public init(lease: Lease, _ outputs: [CheckpointOutput]) {
        self.lease = lease
        self.outputs = outputs
    }

    public var query: PostgresQuery {
        let documents = outputs.map { PostgresJSON(text: "{\"version\":\($0.version),\"output\":\($0.output.text)}") }
        return PostgresQuery(
            """
            SELECT node, outcome, set_config('synchronous_commit', 'off', true) AS commit_mode
            FROM write_checkpoints(\(lease.taskID), \(lease.token)::uuid, \(outputs.map(\.node))::text[],
                \(documents)::jsonb[], \(outputs.map(\.duration.inMilliseconds))::double precision[],
                \(outputs.map(\.startedAt))::timestamptz[])
            """
        ).preparedStatement()
    }

    public func decode(_ rows: PostgresRows) throws -> [String: CheckpointWrite] {
        var outcomes: [String: CheckpointWrite] = [:]
        for row in rows {
            let text = try row.decode(String.self, "outcome")
            guard let outcome = CheckpointWrite(rawValue: text) else {
                throw PostgresError.unexpectedResult("write_checkpoints returned '\(text)'")
            }
            outcomes[try row.decode(String.self, "node")] = outcome
        }
        return outcomes
    }
}
