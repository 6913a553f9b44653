public import Logging
import Synchronization

/// A pool of PostgreSQL connections shared by many concurrent tasks.
///
/// Connections are opened lazily up to ``Configuration/maximumConnections``. A connection is checked on checkout
/// (without a round trip, see ``PostgresConnection/isUsable()``) and replaced when the server dropped it; a
/// connection that fails with a connection error is discarded instead of returned. Callers wait for a free
/// connection at most ``Configuration/acquireTimeout``.
public final class PostgresConnectionPool: Sendable {
    /// Pool limits.
    public struct Configuration: Sendable {
        /// The most connections open at once.
        public var maximumConnections: Int
        /// How long `withConnection` waits for a free connection before failing with `poolTimeout`.
        public var acquireTimeout: Duration
        /// Idle connections kept open beyond this count are closed when returned.
        public var maximumIdleConnections: Int

        /// Creates a pool configuration.
        public init(
            maximumConnections: Int = 10, acquireTimeout: Duration = .seconds(10), maximumIdleConnections: Int? = nil
        ) {
            precondition(maximumConnections > 0, "a pool needs at least one connection")
            self.maximumConnections = maximumConnections
            self.acquireTimeout = acquireTimeout
            self.maximumIdleConnections = maximumIdleConnections ?? maximumConnections
        }
    }

    private enum Grant {
        case connection(PostgresConnection)
        case permitToOpen
    }

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Grant, any Error>
    }

    private struct State {
        var idle: [PostgresConnection] = []
        var open = 0
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        var cancelledWaiters: Set<UInt64> = []
        var closed = false
    }

    /// How to reach the server.
    public let connectionConfiguration: PostgresConfiguration
    /// The pool's limits.
    public let configuration: Configuration
    private let logger: Logger
    private let state = Mutex(State())

    /// Creates a pool; no connection is opened until the first use.
    public init(connection: PostgresConfiguration, pool: Configuration = .init(), logger: Logger) {
        self.connectionConfiguration = connection
        self.configuration = pool
        self.logger = logger
    }

    /// Runs `body` with a connection of its own, returning the connection afterwards.
    public func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await acquire()
        do {
            let value = try await body(connection)
            release(connection)
            return value
        } catch {
            release(connection)
            throw error
        }
    }

    /// Runs `body` in a transaction on a pooled connection: COMMIT when it returns, ROLLBACK when it throws.
    @discardableResult
    public func withTransaction<T>(
        _ isolation: TransactionIsolation = .readCommitted,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            try await connection.withTransaction(isolation, body)
        }
    }

    /// Runs one statement on a pooled connection.
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> PostgresRows {
        try await withConnection { try await $0.query(query) }
    }

    /// Runs one statement on a pooled connection and returns the number of rows it affected.
    @discardableResult
    public func execute(_ query: PostgresQuery) async throws -> Int {
        try await withConnection { try await $0.execute(query) }
    }

    /// Connections currently open (idle and in use).
    public var openConnections: Int { state.withLock { $0.open } }

    /// Closes idle connections and fails waiters; connections in use close when they are returned.
    public func close() async {
        let (idle, waiters) = state.withLock { state in
            state.closed = true
            defer {
                state.open -= state.idle.count
                state.idle = []
                state.waiters = []
            }
            return (state.idle, state.waiters)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: PostgresError.poolClosed) }
        for connection in idle { await connection.close() }
    }

    // MARK: Acquire and release

    private func acquire() async throws -> PostgresConnection {
        while true {
            try Task.checkCancellation()
            enum Step {
                case reuse(PostgresConnection)
                case open
                case wait(UInt64)
            }
            let step: Step = try state.withLock { state throws(PostgresError) in
                if state.closed { throw .poolClosed }
                if let connection = state.idle.popLast() { return .reuse(connection) }
                if state.open < configuration.maximumConnections {
                    state.open += 1
                    return .open
                }
                state.nextWaiterID += 1
                return .wait(state.nextWaiterID)
            }
            switch step {
            case .reuse(let connection):
                if connection.isUsable() { return connection }
                logger.debug(
                    "replacing a broken pooled connection", metadata: ["pg.backend_pid": "\(connection.backendPID)"])
                state.withLock { $0.open -= 1 }
                await connection.close()
                continue
            case .open:
                return try await openConnection()
            case .wait(let id):
                switch try await wait(id: id) {
                case .connection(let connection):
                    if connection.isUsable() { return connection }
                    state.withLock { $0.open -= 1 }
                    await connection.close()
                    continue
                case .permitToOpen:
                    return try await openConnection()
                }
            }
        }
    }

    /// Opens a connection for a slot already counted in `open`, giving the slot back on failure.
    private func openConnection() async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(configuration: connectionConfiguration, logger: logger)
        } catch {
            freeSlot()
            throw error
        }
    }

    private func wait(id: UInt64) async throws -> Grant {
        let timeout = configuration.acquireTimeout
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.failWaiter(
                id: id,
                with: PostgresError.poolTimeout(
                    "no database connection became free within \(timeout) (pool size \(self.configuration.maximumConnections))"
                ))
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Grant, any Error>) in
                let cancelled = state.withLock { state -> Bool in
                    if state.cancelledWaiters.remove(id) != nil { return true }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            self.failWaiter(id: id, with: CancellationError(), rememberIfAbsent: true)
        }
    }

    private func failWaiter(id: UInt64, with error: any Error, rememberIfAbsent: Bool = false) {
        let waiter = state.withLock { state -> Waiter? in
            if let index = state.waiters.firstIndex(where: { $0.id == id }) {
                return state.waiters.remove(at: index)
            }
            if rememberIfAbsent { state.cancelledWaiters.insert(id) }
            return nil
        }
        waiter?.continuation.resume(throwing: error)
    }

    private func release(_ connection: PostgresConnection) {
        if connection.isBroken {
            freeSlot()
            Task { await connection.close() }
            return
        }
        enum Outcome {
            case handedOver(Waiter)
            case kept
            case close
        }
        let outcome = state.withLock { state -> Outcome in
            if state.closed {
                state.open -= 1
                return .close
            }
            if !state.waiters.isEmpty { return .handedOver(state.waiters.removeFirst()) }
            if state.idle.count >= configuration.maximumIdleConnections {
                state.open -= 1
                return .close
            }
            state.idle.append(connection)
            return .kept
        }
        switch outcome {
        case .handedOver(let waiter): waiter.continuation.resume(returning: .connection(connection))
        case .kept: break
        case .close: Task { await connection.close() }
        }
    }

    /// A connection slot became free: let the first waiter open a connection in it.
    private func freeSlot() {
        let waiter = state.withLock { state -> Waiter? in
            if !state.closed, !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.open -= 1
            return nil
        }
        waiter?.continuation.resume(returning: .permitToOpen)
    }
}
