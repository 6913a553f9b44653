public import Logging
public import PostgresClient
public import TaskQueue

/// A node's checkpoint as stored.
public struct Checkpoint: Sendable {
    /// The node.
    public let node: String
    /// The schema version of the output.
    public let version: Int
    /// The node's output.
    public let output: PostgresJSON
    /// The attempt that wrote it.
    public let attempt: Int
    /// The worker that wrote it.
    public let worker: String
    /// How long the node ran.
    public let duration: Duration
}

/// What writing a checkpoint did.
public enum CheckpointWrite: String, Sendable {
    /// Stored.
    case written
    /// The node already had a checkpoint (the first one stays).
    case exists
    /// The lease is no longer held: nothing was written.
    case leaseLost = "lease_lost"
}

/// Where checkpoints live: one row per (task, node), written insert-if-absent under the lease fence.
public struct CheckpointStore: Sendable {
    let pool: PostgresConnectionPool

    /// A store over a pool.
    public init(pool: PostgresConnectionPool) {
        self.pool = pool
    }

    /// The checkpoints of a task.
    public func load(taskID: Int64) async throws -> [String: Checkpoint] {
        let rows = try await pool.query(
            PostgresQuery(
                """
                SELECT node, (output->>'version')::integer AS version, output->'output' AS data, attempt, worker,
                    duration_ms
                FROM task_checkpoints WHERE task_id = \(taskID)
                """
            ).preparedStatement()
        )
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

    /// Writes a node's output if the lease is still held and the node has no checkpoint yet. No transaction stays
    /// open: it is one statement.
    public func write(lease: Lease, node: String, version: Int, output: PostgresJSON, duration: Duration) async throws
        -> CheckpointWrite
    {
        let outcomes = try await write(
            lease: lease, [NodeOutput(node: node, version: version, output: output, duration: duration)]
        )
        guard let outcome = outcomes[node] else {
            throw PostgresError.unexpectedResult("write_checkpoints returned no outcome for \(node)")
        }
        return outcome
    }

    /// One node's output to checkpoint.
    public struct NodeOutput: Sendable {
        /// The node.
        public var node: String
        /// The schema version of the output.
        public var version: Int
        /// The output.
        public var output: PostgresJSON
        /// How long the node ran.
        public var duration: Duration

        /// Creates a node output.
        public init(node: String, version: Int, output: PostgresJSON, duration: Duration) {
            self.node = node
            self.version = version
            self.output = output
            self.duration = duration
        }
    }

    /// Writes the outputs of nodes that finished together in one statement, each insert-if-absent, fenced by the
    /// lease (`write_checkpoints`). Returns each node's outcome.
    ///
    /// The statement commits asynchronously (`synchronous_commit = off` for its own transaction only): a checkpoint
    /// that a database crash loses within the WAL writer's delay only means that node runs again after the rescue,
    /// exactly as when the worker dies before writing it. Whatever commits after it synchronously (the review's
    /// recording) flushes it too.
    public func write(lease: Lease, _ outputs: [NodeOutput]) async throws -> [String: CheckpointWrite] {
        guard !outputs.isEmpty else { return [:] }
        let documents = outputs.map { PostgresJSON(text: "{\"version\":\($0.version),\"output\":\($0.output.text)}") }
        let rows = try await pool.query(
            PostgresQuery(
                """
                SELECT node, outcome, set_config('synchronous_commit', 'off', true) AS commit_mode
                FROM write_checkpoints(\(lease.taskID), \(lease.token)::uuid, \(outputs.map(\.node))::text[],
                    \(documents)::jsonb[], \(outputs.map(\.duration.inMilliseconds))::double precision[])
                """
            ).preparedStatement()
        )
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

/// What a graph run did.
public struct GraphRunReport: Sendable {
    /// Every node's output (loaded or computed).
    public let outputs: [String: PostgresJSON]
    /// The nodes that ran in this attempt, with their durations.
    public let executed: [String: Duration]
    /// The nodes whose outputs came from checkpoints of an earlier attempt, with their recorded durations.
    public let resumed: [String: Duration]

    /// The output of a node, decoded.
    public func output<T: Decodable>(of node: String, as type: T.Type = T.self) throws -> T {
        try NodeInputs(outputs: outputs).output(of: node, as: T.self)
    }
}

/// Runs a graph for one claimed task: loads its checkpoints, runs only the nodes that have none (in parallel as
/// soon as their dependencies finished), and checkpoints each node right after it finishes (written behind the
/// running nodes, in order; a node that is not checkpointed waits for every write).
///
/// Between nodes it checks the task's control: a lost lease or a requested cancellation stops the run at the next
/// node boundary (``TaskInterruption``). No transaction is open while a node runs.
public struct GraphRunner: Sendable {
    /// Where checkpoints live; `nil` runs without checkpoints (and without resume).
    public let store: CheckpointStore?
    let logger: Logger

    /// How long a finished node's checkpoint may wait while other nodes run, so that what they finish meanwhile shares
    /// its statement. A crash in that window costs the node's rerun, as a crash before any checkpoint would.
    static let checkpointWindow: Duration = .milliseconds(5)

    /// Creates a runner.
    public init(store: CheckpointStore?, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Runs the graph for a task.
    public func run(_ graph: AgentGraphDefinition, task: ClaimedTask, context: TaskContext) async throws
        -> GraphRunReport
    {
        let lease = task.lease
        var done: [String: PostgresJSON] = [:]
        var resumed: [String: Duration] = [:]
        // A task that no earlier attempt checkpointed (the claim says so) has nothing to load: one round trip fewer.
        if let store, task.hasCheckpoints {
            let checkpoints = try await store.load(taskID: lease.taskID)
            for node in graph.nodes where node.checkpointed {
                guard let checkpoint = checkpoints[node.name] else { continue }
                if checkpoint.version == node.outputVersion {
                    done[node.name] = checkpoint.output
                    resumed[node.name] = checkpoint.duration
                } else {
                    context.logger.notice(
                        "ignoring a checkpoint of another version",
                        metadata: ["node": "\(node.name)", "version": "\(checkpoint.version)"]
                    )
                }
            }
            if !resumed.isEmpty {
                context.logger.info(
                    "resuming from checkpoints",
                    metadata: ["nodes": "\(resumed.keys.sorted().joined(separator: ","))"]
                )
            }
        }
        let byName = Dictionary(uniqueKeysWithValues: graph.nodes.map { ($0.name, $0) })
        var executed: [String: Duration] = [:]
        var running: Set<String> = []
        let clock = ContinuousClock()

        // Checkpoints are written behind the nodes, in order, one statement at a time: a finished node's output is
        // queued and its dependents start at once. An output is written within `checkpointWindow` while other nodes
        // run (what they finish meanwhile shares the statement), and at once when nothing else runs, when a node
        // waits for it, or when the run stops; each write takes every output queued so far. So a checkpoint commits
        // no earlier than those of the nodes it depends on, and a resumed task never holds a node's checkpoint
        // without its inputs'. A node that is not checkpointed (the last one, which records the result and ends the
        // task) starts only once every checkpoint is written, and the run ends only then.
        var unwritten: [CheckpointStore.NodeOutput] = []
        var writing = false
        var windowTimer = false
        var checkpointsPending: Bool { writing || !unwritten.isEmpty }
        // Why the run stops at a node boundary. A requested cancellation first lets the checkpoints of the nodes
        // that finished be written (a retried task resumes from them); a lost lease or a shutdown stops at once.
        var stop: (any Error)?
        func stopNow() -> Bool {
            guard let stop else { return false }
            return !checkpointsPending || (stop as? TaskInterruption) != .cancelRequested
        }

        try await withThrowingTaskGroup(of: GraphEvent.self) { group in
            func startReadyNodes() {
                for node in graph.nodes
                where done[node.name] == nil && !running.contains(node.name)
                    && node.dependencies.allSatisfy({ done[$0] != nil })
                    && (node.checkpointed || store == nil || !checkpointsPending)
                {
                    // A node boundary: stop here when the lease is gone or cancellation was requested.
                    if stop == nil {
                        do { try context.checkBoundary() } catch { stop = error }
                    }
                    if stop != nil { return }
                    running.insert(node.name)
                    let inputs = NodeInputs(outputs: done, durations: resumed.merging(executed) { $1 })
                    context.logger.debug("node started", metadata: ["node": "\(node.name)"])
                    group.addTask {
                        let start = clock.now
                        let output = try await withTimeout(node.timeout, node: node.name) {
                            try await node.body(inputs)
                        }
                        return .finished(node.name, output, clock.now - start)
                    }
                }
            }
            func writeIfDue(windowElapsed: Bool = false) {
                guard let store, !writing, !unwritten.isEmpty else { return }
                let nodeWaiting = graph.nodes.contains { node in
                    !node.checkpointed && done[node.name] == nil && !running.contains(node.name)
                        && node.dependencies.allSatisfy { done[$0] != nil }
                }
                if !windowElapsed && !running.isEmpty && !nodeWaiting && stop == nil {
                    if !windowTimer {
                        windowTimer = true
                        group.addTask {
                            try await Task.sleep(for: Self.checkpointWindow)
                            return .windowElapsed
                        }
                    }
                    return
                }
                writing = true
                let batch = unwritten
                unwritten = []
                group.addTask { .written(batch.map(\.node), try await store.write(lease: lease, batch)) }
            }
            startReadyNodes()
            if let stop, stopNow() { throw stop }
            while let event = try await group.next() {
                switch event {
                case .finished(let name, let output, let duration):
                    running.remove(name)
                    done[name] = output
                    executed[name] = duration
                    context.logger.debug(
                        "node finished",
                        metadata: ["node": "\(name)", "duration_ms": "\(Int(duration.inMilliseconds))"]
                    )
                    let node = byName[name]!
                    if node.checkpointed, store != nil {
                        unwritten.append(
                            .init(node: name, version: node.outputVersion, output: output, duration: duration)
                        )
                    }
                case .windowElapsed:
                    windowTimer = false
                    writeIfDue(windowElapsed: true)
                case .written(let nodes, let outcomes):
                    writing = false
                    for node in nodes {
                        guard let outcome = outcomes[node] else {
                            throw PostgresError.unexpectedResult("write_checkpoints returned no outcome for \(node)")
                        }
                        if outcome == .leaseLost {
                            context.control.markLeaseLost()
                            throw TaskInterruption.leaseLost
                        }
                    }
                }
                if done.count == graph.nodes.count {
                    writeIfDue()
                    if !checkpointsPending {
                        // Everything ran and is written; only a window timer may be left.
                        group.cancelAll()
                        break
                    }
                }
                startReadyNodes()
                writeIfDue()
                if let stop, stopNow() { throw stop }
            }
        }
        return GraphRunReport(outputs: done, executed: executed, resumed: resumed)
    }
}

/// What a graph run waits for: a node finished, a checkpoint write (of these nodes) came back, or the window for
/// gathering checkpoints into one write has passed.
enum GraphEvent: Sendable {
    case finished(String, PostgresJSON, Duration)
    case written([String], [String: CheckpointWrite])
    case windowElapsed
}

/// Runs `body`, failing with a timeout error when it takes longer than `limit` (it is cancelled then).
func withTimeout<T: Sendable>(
    _ limit: Duration?,
    node: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    guard let limit else { return try await body() }
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw GraphError.timeout(node, limit) }
        return value
    }
}
