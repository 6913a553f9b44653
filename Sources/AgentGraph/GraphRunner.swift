public import Logging
public import PostgresClient
public import TaskQueue

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

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
/// running nodes, in order; the run ends once every checkpoint is written).
///
/// Between nodes it checks the task's control: a lost lease or a requested cancellation stops the run at the next
/// node boundary (``TaskInterruption``). No transaction is open while a node runs: each checkpoint write is one
/// statement (``WriteCheckpoints``), fenced by the lease.
public struct GraphRunner: Sendable {
    /// Where checkpoints are read and written; `nil` runs without checkpoints (and without resume).
    public let checkpoints: PostgresConnectionPool?
    let logger: Logger

    /// How long a finished node's checkpoint may wait while other nodes run, so that what they finish meanwhile shares
    /// its statement. A crash in that window costs the node's rerun, as a crash before any checkpoint would.
    static let checkpointWindow: Duration = .milliseconds(5)

    /// Creates a runner; with `checkpoints`, every node's output is checkpointed there and a resumed task skips the
    /// nodes that have one.
    public init(checkpoints: PostgresConnectionPool?, logger: Logger) {
        self.checkpoints = checkpoints
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
        if let pool = checkpoints, task.hasCheckpoints {
            let stored = try await pool.run(LoadCheckpoints(taskID: lease.taskID))
            for node in graph.nodes {
                guard let checkpoint = stored[node.name] else { continue }
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
        // run (what they finish meanwhile shares the statement), and at once when nothing else runs or when the run
        // stops; each write takes every output queued so far. So a checkpoint commits no earlier than those of the
        // nodes it depends on, and a resumed task never holds a node's checkpoint without its inputs'. The run ends
        // only once every checkpoint is written: what the caller does next (the task's finish) comes after them.
        var unwritten: [CheckpointOutput] = []
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
                        let startedAt = Date()
                        let start = clock.now
                        let output = try await withTimeout(node.timeout, node: node.name) {
                            try await node.body(inputs)
                        }
                        return .finished(node.name, output, clock.now - start, startedAt)
                    }
                }
            }
            func writeIfDue(windowElapsed: Bool = false) {
                guard let pool = checkpoints, !writing, !unwritten.isEmpty else { return }
                if !windowElapsed && !running.isEmpty && stop == nil {
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
                group.addTask { .written(batch.map(\.node), try await pool.run(WriteCheckpoints(lease: lease, batch))) }
            }
            startReadyNodes()
            if let stop, stopNow() { throw stop }
            while let event = try await group.next() {
                switch event {
                case .finished(let name, let output, let duration, let startedAt):
                    running.remove(name)
                    done[name] = output
                    executed[name] = duration
                    context.logger.debug(
                        "node finished",
                        metadata: ["node": "\(name)", "duration_ms": "\(Int(duration.inMilliseconds))"]
                    )
                    if checkpoints != nil {
                        unwritten.append(
                            .init(
                                node: name, version: byName[name]!.outputVersion, output: output, duration: duration,
                                startedAt: startedAt)
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
    case finished(String, PostgresJSON, Duration, Date)
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
