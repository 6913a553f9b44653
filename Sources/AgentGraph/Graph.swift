public import PostgresClient

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One step of a graph: an async function from the outputs of the nodes it depends on to its own output.
public struct GraphNode: Sendable {
    /// The node's name (lowercase letters, digits, `_`); its checkpoint is keyed by it.
    public let name: String
    /// The nodes whose outputs it needs; it runs once they have all finished.
    public let dependencies: [String]
    /// The longest it may run before it fails (a retryable failure).
    public let timeout: Duration?
    /// The output's schema version: a checkpoint with another version is ignored and the node runs again.
    public let outputVersion: Int
    let body: @Sendable (NodeInputs) async throws -> PostgresJSON

    /// Creates a node whose output is any `Encodable` value, stored as JSON.
    public init<Output: Codable & Sendable>(
        _ name: String,
        dependsOn dependencies: [String] = [],
        timeout: Duration? = nil,
        outputVersion: Int = 1,
        output: Output.Type,
        _ body: @escaping @Sendable (NodeInputs) async throws -> Output
    ) {
        self.name = name
        self.dependencies = dependencies
        self.timeout = timeout
        self.outputVersion = outputVersion
        self.body = { inputs in try PostgresJSON(encoding: try await body(inputs)) }
    }
}

/// The outputs of the nodes that finished before a node starts (its dependencies among them).
public struct NodeInputs: Sendable {
    /// Raw JSON outputs by node name.
    public let outputs: [String: PostgresJSON]
    /// How long each finished node ran (as recorded in its checkpoint when it was resumed).
    public let durations: [String: Duration]

    /// Creates inputs.
    public init(outputs: [String: PostgresJSON], durations: [String: Duration] = [:]) {
        self.outputs = outputs
        self.durations = durations
    }

    /// The output of a finished node, decoded.
    public func output<T: Decodable>(of node: String, as type: T.Type = T.self) throws -> T {
        guard let json = outputs[node] else { throw GraphError.missingOutput(node) }
        do {
            return try json.decode(T.self)
        } catch {
            throw GraphError.undecodableOutput(node, "\(error)")
        }
    }
}

/// A validated set of nodes with their edges.
public struct AgentGraphDefinition: Sendable {
    /// The nodes, in declaration order.
    public let nodes: [GraphNode]

    /// Validates names, dependencies and acyclicity.
    public init(_ nodes: [GraphNode]) throws(GraphError) {
        var seen: Set<String> = []
        for node in nodes {
            guard Self.isValidName(node.name) else { throw .invalidDefinition("invalid node name '\(node.name)'") }
            guard seen.insert(node.name).inserted else { throw .invalidDefinition("duplicate node '\(node.name)'") }
        }
        for node in nodes {
            for dependency in node.dependencies where !seen.contains(dependency) {
                throw .invalidDefinition("node '\(node.name)' depends on unknown node '\(dependency)'")
            }
        }
        // Kahn's algorithm: every node must become ready eventually.
        var remaining = Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, Set($0.dependencies)) })
        while !remaining.isEmpty {
            let ready = remaining.filter { $0.value.isEmpty }.map(\.key)
            guard !ready.isEmpty else {
                throw .invalidDefinition(
                    "the graph has a cycle among \(remaining.keys.sorted().joined(separator: ", "))")
            }
            for name in ready { remaining[name] = nil }
            for key in remaining.keys { remaining[key]?.subtract(ready) }
        }
        self.nodes = nodes
    }

    static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return (1...64).contains(bytes.count) && (0x61...0x7A).contains(bytes[0])
            && bytes.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
    }
}

/// Why a graph could not run.
public struct GraphError: Error, Sendable, CustomStringConvertible, Equatable {
    enum Code: Sendable, Equatable {
        case invalidDefinition, missingOutput, undecodableOutput, timeout
    }

    let code: Code
    /// What went wrong.
    public let description: String

    static func invalidDefinition(_ message: String) -> GraphError {
        GraphError(code: .invalidDefinition, description: message)
    }

    static func missingOutput(_ node: String) -> GraphError {
        GraphError(code: .missingOutput, description: "node '\(node)' has no output yet")
    }

    static func undecodableOutput(_ node: String, _ reason: String) -> GraphError {
        GraphError(code: .undecodableOutput, description: "the output of node '\(node)' cannot be read: \(reason)")
    }

    static func timeout(_ node: String, _ limit: Duration) -> GraphError {
        GraphError(code: .timeout, description: "node '\(node)' did not finish within \(limit)")
    }
}
