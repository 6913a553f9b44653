import Logging
import PostgresClient
import Synchronization

/// A connection of a loop's own, on the loop's own thread (``PostgresExecutor``): the claim loop and the completer
/// run their statements one after another, so they keep one connection each instead of taking turns in the pool,
/// and run on that connection's thread (`withTaskExecutorPreference(executor)`) so that no statement crosses
/// threads. A lost connection is opened again on next use.
final class PinnedConnection: Sendable {
    /// The thread the loop and its connection share.
    let executor: PostgresExecutor
    private let configuration: PostgresConfiguration
    private let logger: Logger
    private let current = Mutex<PostgresConnection?>(nil)

    init(label: String, configuration: PostgresConfiguration, logger: Logger) {
        executor = PostgresExecutor(label: label)
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs `body` with the connection, opening it first when there is none or it was lost.
    func use<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let existing = current.withLock { $0 }
        // Checked without a round trip, as the pool does on checkout: a session the server ended is replaced now
        // rather than failing the next statement.
        if let existing, existing.isUsable() {
            return try await body(existing)
        }
        if let existing { await existing.close() }
        let connection = try await PostgresConnection.connect(
            configuration: configuration, logger: logger, executor: executor
        )
        current.withLock { $0 = connection }
        return try await body(connection)
    }

    /// Closes the connection.
    func close() async {
        let connection = current.withLock { state -> PostgresConnection? in
            defer { state = nil }
            return state
        }
        await connection?.close()
    }
}
