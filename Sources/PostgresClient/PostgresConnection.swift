internal import CLibPQ
import Dispatch
public import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One connection to PostgreSQL over libpq.
///
/// Every blocking libpq call runs on a serial dispatch queue owned by the connection, never on Swift's cooperative
/// thread pool. A connection runs one statement at a time: share a ``PostgresConnectionPool`` for concurrency.
/// Cancelling the Swift task that awaits a statement sends a cancel request for it to the server.
///
/// `@unchecked Sendable`: the `PGconn` is only used on `queue` (or by the single owner between statements), the
/// cancel handle is thread-safe by libpq's contract, and the remaining mutable state is behind a `Mutex`.
public final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private let cancelHandle: OpaquePointer?
    private let queue: DispatchQueue
    private let state = Mutex(State())
    /// Statement names prepared on this connection, keyed by SQL text. Only touched on `queue`.
    private var preparedStatements: [String: String] = [:]

    /// The configuration this connection was opened with.
    public let configuration: PostgresConfiguration
    /// The server process id serving this connection (as `pg_backend_pid()` reports it).
    public let backendPID: Int32
    let logger: Logger

    private struct State {
        var nextToken: UInt64 = 0
        var running: UInt64?
        var cancelledBeforeStart: UInt64?
        var lastFinished: UInt64 = 0
        var closed = false
        var broken = false
    }

    private init(handle: OpaquePointer, configuration: PostgresConfiguration, queue: DispatchQueue, logger: Logger) {
        self.handle = handle
        self.configuration = configuration
        self.queue = queue
        self.logger = logger
        self.cancelHandle = PQgetCancel(handle)
        self.backendPID = PQbackendPID(handle)
    }

    deinit {
        if let cancelHandle { PQfreeCancel(cancelHandle) }
        if !state.withLock({ $0.closed }) { PQfinish(handle) }
    }

    /// Opens a connection and applies the configuration's session settings.
    ///
    /// - Throws: ``PostgresError`` (`connectionFailed`, with the password masked) when the server cannot be reached
    ///   or refuses the connection.
    ///
    /// - Parameter executor: the thread the connection's blocking calls run on; by default a queue of its own. Give
    ///   the executor a loop runs on (``PostgresExecutor``) to keep the loop and its statements on one thread.
    public static func connect(
        configuration: PostgresConfiguration,
        logger: Logger,
        executor: PostgresExecutor? = nil
    ) async throws -> PostgresConnection {
        let queue = executor?.queue ?? DispatchQueue(label: "agentqueue.postgres.connection")
        let connection: PostgresConnection = try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(
                    with: Result { () throws(PostgresError) in
                        try Self.connectBlocking(configuration: configuration, queue: queue, logger: logger)
                    })
            }
        }
        if !configuration.sessionSettings.isEmpty {
            do {
                for setting in configuration.sessionSettings {
                    try await connection.query("SELECT set_config(\(setting.name), \(setting.value), false)")
                }
            } catch {
                await connection.close()
                throw error
            }
        }
        logger.debug("connected to PostgreSQL", metadata: ["pg.backend_pid": "\(connection.backendPID)"])
        return connection
    }

    private static func connectBlocking(
        configuration: PostgresConfiguration,
        queue: DispatchQueue,
        logger: Logger
    ) throws(PostgresError) -> PostgresConnection {
        let keywords = ["connect_timeout", "fallback_application_name", "dbname"]
        let values = [
            "\(configuration.connectTimeoutSeconds)", configuration.applicationName, configuration.connectionString,
        ]
        let handle: OpaquePointer? = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let handle else {
            throw .connectionFailed("out of memory while connecting to \(configuration.redactedDescription)")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let reason = Self.oneLine(String(cString: PQerrorMessage(handle)))
            PQfinish(handle)
            throw .connectionFailed(
                "cannot connect to \(configuration.redactedDescription): \(configuration.redact(reason))"
            )
        }
        // Server notices (NOTICE, WARNING outside errors) are not errors; libpq would print them on stderr.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        return PostgresConnection(handle: handle, configuration: configuration, queue: queue, logger: logger)
    }

    // MARK: Statements

    /// Runs a statement and returns its rows.
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> PostgresRows {
        try await run(cancellable: true) { connection throws(PostgresError) in
            try connection.executeBlocking(query)
        }
    }

    /// Runs a statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ query: PostgresQuery) async throws -> Int {
        try await self.query(query).affectedRows
    }

    /// Runs one or more statements separated by semicolons, without parameters (for migrations and scripts).
    public func simpleQuery(_ sql: String) async throws {
        try await run(cancellable: true) { connection throws(PostgresError) in
            try connection.simpleQueryBlocking(sql)
        }
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws (or is cancelled).
    @discardableResult
    public func withTransaction<T>(
        _ isolation: TransactionIsolation = .readCommitted,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await simpleQuery(isolation.beginStatement)
        let value: T
        do {
            value = try await body(self)
        } catch {
            await rollback()
            throw error
        }
        do {
            try await run(cancellable: false) { connection throws(PostgresError) in
                try connection.simpleQueryBlocking("COMMIT")
            }
        } catch {
            await rollback()
            throw error
        }
        return value
    }

    /// Rolls back the open transaction, if any, even when the calling task is cancelled.
    func rollback() async {
        _ = try? await run(cancellable: false) { connection throws(PostgresError) in
            if PQtransactionStatus(connection.handle) != PQTRANS_IDLE {
                try connection.simpleQueryBlocking("ROLLBACK")
            }
        }
    }

    /// Closes the connection. Further statements fail with `connectionClosed`.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                let alreadyClosed = self.state.withLock { state in
                    defer { state.closed = true }
                    return state.closed
                }
                if !alreadyClosed { PQfinish(self.handle) }
                continuation.resume()
            }
        }
    }

    /// Whether the connection can take a statement: open, idle, not broken, and the server has not hung up.
    ///
    /// Checks without a round trip: when the socket is readable while idle (the server sent a termination message
    /// or closed it), consumes the input and reports the connection's real status. Call only while no statement is
    /// running on the connection (the pool calls it on checkout).
    public func isUsable() -> Bool {
        let usable = state.withLock { !$0.closed && !$0.broken }
        guard usable, PQstatus(handle) == CONNECTION_OK, PQtransactionStatus(handle) == PQTRANS_IDLE else {
            return false
        }
        // A server that terminates a session sends an error and closes the socket: read until the socket has
        // nothing more to say, so that the end of the stream is seen now rather than by the next statement.
        for _ in 0..<8 {
            var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 0)
            if ready < 0 { return false }
            if ready == 0 { return true }
            if PQconsumeInput(handle) == 0 || PQstatus(handle) != CONNECTION_OK {
                markBroken()
                return false
            }
            while let notification = PQnotifies(handle) { PQfreemem(notification) }
        }
        // Still readable after several reads while idle: not a healthy idle session.
        markBroken()
        return false
    }

    /// Whether the connection was found broken (lost, or in an unknown state after an error).
    public var isBroken: Bool { state.withLock { $0.broken || $0.closed } }

    func markBroken() {
        state.withLock { $0.broken = true }
    }

    // MARK: Running on the connection's queue

    private func run<T: Sendable>(
        cancellable: Bool,
        _ work: @escaping @Sendable (PostgresConnection) throws(PostgresError) -> T
    ) async throws -> T {
        let token = state.withLock { state -> UInt64 in
            state.nextToken += 1
            return state.nextToken
        }
        let operation = {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                self.queue.async {
                    let proceed = self.state.withLock { state -> PostgresError? in
                        if state.closed { return .connectionClosed("the connection is closed") }
                        if state.cancelledBeforeStart == token { return .cancelled }
                        state.running = token
                        return nil
                    }
                    if let refusal = proceed {
                        continuation.resume(throwing: refusal)
                        return
                    }
                    let result = Result { () throws(PostgresError) in try work(self) }
                    self.state.withLock { state in
                        state.running = nil
                        state.lastFinished = token
                        if case .failure(let error) = result,
                            error.isConnectionLoss || PQstatus(self.handle) != CONNECTION_OK
                        {
                            state.broken = true
                        }
                    }
                    continuation.resume(with: result.mapError { $0 as any Error })
                }
            }
        }
        guard cancellable else { return try await operation() }
        do {
            return try await withTaskCancellationHandler(operation: operation) {
                self.cancel(token: token)
            }
        } catch let error as PostgresError where error.sqlState == "57014" || error.code == .cancelled {
            if Task.isCancelled { throw CancellationError() }
            throw error
        }
    }

    private func cancel(token: UInt64) {
        state.withLock { state in
            if state.running == token {
                guard let cancelHandle else { return }
                var buffer = [CChar](repeating: 0, count: 256)
                _ = PQcancel(cancelHandle, &buffer, Int32(buffer.count))
            } else if token > state.lastFinished {
                state.cancelledBeforeStart = token
            }
        }
    }

    // MARK: Listening

    /// Occupies the connection's queue with a loop that waits for notifications on the socket and delivers them,
    /// until `stopDescriptor` becomes readable (returns) or the connection is lost (throws).
    func listen(stopDescriptor: Int32, deliver: @escaping @Sendable (PostgresNotification) -> Void) async throws {
        try await run(cancellable: false) { connection throws(PostgresError) in
            try connection.listenLoopBlocking(stopDescriptor: stopDescriptor, deliver: deliver)
        }
    }

    private func listenLoopBlocking(
        stopDescriptor: Int32,
        deliver: (PostgresNotification) -> Void
    ) throws(PostgresError) {
        let socket = PQsocket(handle)
        guard socket >= 0 else { throw connectionError() }
        while true {
            while let notification = PQnotifies(handle) {
                deliver(
                    PostgresNotification(
                        channel: String(cString: notification.pointee.relname),
                        payload: String(cString: notification.pointee.extra),
                        backendPID: notification.pointee.be_pid,
                        receivedAt: .now
                    )
                )
                PQfreemem(notification)
            }
            var descriptors = [
                pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stopDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&descriptors, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                throw .connectionClosed("poll failed while listening (errno \(errno))")
            }
            if descriptors[1].revents != 0 { return }
            if descriptors[0].revents != 0 {
                if PQconsumeInput(handle) == 0 || PQstatus(handle) != CONNECTION_OK {
                    throw connectionError()
                }
            }
        }
    }

    // MARK: Blocking libpq calls (only on `queue`)

    private func executeBlocking(_ query: PostgresQuery) throws(PostgresError) -> PostgresRows {
        for bind in query.binds where bind?.utf8.contains(0) == true {
            throw .encoding("a parameter contains a NUL character, which PostgreSQL text cannot hold")
        }
        let count = Int32(query.binds.count)
        if query.prepared {
            let name = try preparedName(for: query)
            let result = withCStringArray(query.binds) { values in
                PQexecPrepared(handle, name, count, values, nil, nil, 1)
            }
            return try consume(result)
        }
        let result = withCStringArray(query.binds) { values in
            PQexecParams(handle, query.sql, count, nil, values, nil, nil, 1)
        }
        return try consume(result)
    }

    private func preparedName(for query: PostgresQuery) throws(PostgresError) -> String {
        if let name = preparedStatements[query.sql] { return name }
        let name = "aq_\(preparedStatements.count + 1)"
        let result = PQprepare(handle, name, query.sql, Int32(query.binds.count), nil)
        _ = try consume(result)
        preparedStatements[query.sql] = name
        return name
    }

    private func simpleQueryBlocking(_ sql: String) throws(PostgresError) {
        _ = try consume(PQexec(handle, sql))
    }

    private func consume(_ result: OpaquePointer?) throws(PostgresError) -> PostgresRows {
        guard let result else {
            throw connectionError()
        }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE:
            let storage = PostgresResultStorage(result: result)
            return PostgresRows(storage: storage, affectedRows: storage.rowCount)
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
            PQclear(result)
            return PostgresRows(storage: nil, affectedRows: affected)
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR:
            defer { PQclear(result) }
            guard let sqlState = field(result, DiagnosticField.sqlState) else {
                throw connectionError(fallback: field(result, DiagnosticField.primary))
            }
            throw PostgresError(
                code: .server,
                message: field(result, DiagnosticField.primary) ?? "unknown server error",
                sqlState: sqlState,
                detail: field(result, DiagnosticField.detail),
                hint: field(result, DiagnosticField.hint),
                constraint: field(result, DiagnosticField.constraint)
            )
        default:
            let status = String(cString: PQresStatus(PQresultStatus(result)))
            PQclear(result)
            throw .unexpectedResult("unexpected result status \(status)")
        }
    }

    private func field(_ result: OpaquePointer, _ code: Int32) -> String? {
        PQresultErrorField(result, code).map { String(cString: $0) }
    }

    private func connectionError(fallback: String? = nil) -> PostgresError {
        let message = Self.oneLine(String(cString: PQerrorMessage(handle)))
        let text = message.isEmpty ? (fallback ?? "the connection to the server was lost") : message
        if PQstatus(handle) != CONNECTION_OK {
            return .connectionClosed(configuration.redact(text))
        }
        return .unexpectedResult(configuration.redact(text))
    }

    static func oneLine(_ message: String) -> String {
        message.split(whereSeparator: { $0 == "\n" || $0 == "\t" || $0 == "\r" })
            .map { String($0).trimmingWhitespace() }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
    }
}

/// libpq's `PG_DIAG_*` field codes (character macros, which do not import into Swift).
enum DiagnosticField {
    static let sqlState = Int32(UInt8(ascii: "C"))
    static let primary = Int32(UInt8(ascii: "M"))
    static let detail = Int32(UInt8(ascii: "D"))
    static let hint = Int32(UInt8(ascii: "H"))
    static let constraint = Int32(UInt8(ascii: "n"))
}

/// The isolation level of a transaction.
public enum TransactionIsolation: Sendable {
    /// READ COMMITTED, PostgreSQL's default.
    case readCommitted
    /// REPEATABLE READ.
    case repeatableRead
    /// SERIALIZABLE.
    case serializable

    var beginStatement: String {
        switch self {
        case .readCommitted: "BEGIN"
        case .repeatableRead: "BEGIN ISOLATION LEVEL REPEATABLE READ"
        case .serializable: "BEGIN ISOLATION LEVEL SERIALIZABLE"
        }
    }
}

/// Calls `body` with a C array of NUL-terminated strings (`nil` entries stay NULL) that lives for the whole call.
/// The array has one extra NULL entry at the end, as `PQconnectdbParams` requires.
func withCStringArray<R, E: Error>(
    _ strings: [String?],
    _ body: (UnsafePointer<UnsafePointer<CChar>?>?) throws(E) -> R
) throws(E) -> R {
    if strings.isEmpty { return try body(nil) }
    var total = 0
    for string in strings { total += (string?.utf8.count ?? 0) + 1 }
    let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: total)
    let pointers = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: strings.count + 1)
    pointers[strings.count] = nil
    defer {
        buffer.deallocate()
        pointers.deallocate()
    }
    var offset = 0
    for (index, string) in strings.enumerated() {
        guard let string else {
            pointers[index] = nil
            continue
        }
        let start = buffer + offset
        let length = string.utf8.count
        let copied: Void? = string.utf8.withContiguousStorageIfAvailable { source in
            if let base = source.baseAddress, source.count > 0 {
                UnsafeMutableRawPointer(start).copyMemory(from: base, byteCount: source.count)
            }
        }
        if copied == nil {
            for (position, byte) in string.utf8.enumerated() { start[position] = CChar(bitPattern: byte) }
        }
        start[length] = 0
        pointers[index] = UnsafePointer(start)
        offset += length + 1
    }
    return try body(UnsafePointer(pointers))
}

func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let optionals: [String?] = strings
    return withCStringArray(optionals, body)
}
