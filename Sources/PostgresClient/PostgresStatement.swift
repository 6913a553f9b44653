/// A statement as a value: its SQL with bind parameters, and how its rows are read.
///
/// postgres-nio's `PostgresPreparedStatement` is the model: one small type per statement keeps the SQL, its binds
/// and its decoding together, so that every caller (a loop on a pinned connection, a pool, a transaction) runs the
/// same thing:
/// ```swift
/// let claimed = try await connection.run(ClaimTasks(workerID: id, queues: ["default"], limit: 10, lease: .seconds(60)))
/// ```
public protocol PostgresStatement: Sendable {
    /// What the statement's rows are read as.
    associatedtype Output: Sendable

    /// The SQL text and its binds.
    var query: PostgresQuery { get }

    /// Reads the rows the statement returned.
    func decode(_ rows: PostgresRows) throws -> Output
}

extension PostgresConnection {
    /// Runs a statement and reads its rows.
    public func run<Statement: PostgresStatement>(_ statement: Statement) async throws -> Statement.Output {
        try statement.decode(try await query(statement.query))
    }
}

extension PostgresConnectionPool {
    /// Runs a statement on a pooled connection and reads its rows.
    public func run<Statement: PostgresStatement>(_ statement: Statement) async throws -> Statement.Output {
        try statement.decode(try await query(statement.query))
    }
}
