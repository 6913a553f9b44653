public import PostgresClient

/// The checkpoints of a task, by node: what a resumed attempt does not run again.
public struct LoadCheckpoints: PostgresStatement {
    /// The task.
    public let taskID: Int64

    /// Creates the statement.
    public init(taskID: Int64) {
        self.taskID = taskID
    }

    public var query: PostgresQuery {
        PostgresQuery(
            """
            SELECT node, (output->>'version')::integer AS version, output->'output' AS data, attempt, worker,
                duration_ms
            FROM task_checkpoints WHERE task_id = \(taskID)
            """
        ).preparedStatement()
    }

    public func decode(_ rows: PostgresRows) throws -> [String: Checkpoint] {
        var checkpoints: [String: Checkpoint] = [:]
        for row in rows {
            let node = try row.decode(String.self, "node")
            checkpoints[node] = Checkpoint(
                node: node,
                version: try row.decode(Int?.self, "version") ?? 0,
                output: try row.decode(PostgresJSON?.self, "data") ?? PostgresJSON(text: "null"),
                attempt: try row.decode(Int.self, "attempt"),
                worker: try row.decode(String.self, "worker"),
                duration: .milliseconds(Int64(try row.decode(Double.self, "duration_ms").rounded()))
            )
        }
        return checkpoints
    }
}
