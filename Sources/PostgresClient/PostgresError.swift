/// An error from the PostgreSQL client: a server error with its SQLSTATE, a connection problem, or a decoding problem.
///
/// `description` is safe to print: it never contains a password or a bound value. The server's detail and hint,
/// which can quote row values, are only in `debugDescription`.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    enum Code: Sendable, Equatable {
        case invalidConfiguration
        case connectionFailed
        case connectionClosed
        case server
        case decoding
        case encoding
        case unexpectedResult
        case poolTimeout
        case poolClosed
        case cancelled
    }

    let code: Code

    /// The five-character SQLSTATE for server errors, such as `23505`; `nil` for client-side errors.
    public let sqlState: String?
    /// The primary, human-readable message.
    public let message: String
    /// The server's DETAIL field, if any. May quote row values: not part of `description`.
    public let detail: String?
    /// The server's HINT field, if any.
    public let hint: String?
    /// The constraint named by the server (for example on a unique violation), if any.
    public let constraint: String?

    init(
        code: Code,
        message: String,
        sqlState: String? = nil,
        detail: String? = nil,
        hint: String? = nil,
        constraint: String? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
    }

    /// The connection string is malformed or names an unsupported setting.
    public static func invalidConfiguration(_ message: String) -> PostgresError {
        PostgresError(code: .invalidConfiguration, message: message)
    }

    /// The server could not be reached or refused the connection.
    public static func connectionFailed(_ message: String) -> PostgresError {
        PostgresError(code: .connectionFailed, message: message)
    }

    /// The connection was lost or closed while in use.
    public static func connectionClosed(_ message: String) -> PostgresError {
        PostgresError(code: .connectionClosed, message: message)
    }

    /// A value could not be decoded into the requested Swift type.
    public static func decoding(_ message: String) -> PostgresError {
        PostgresError(code: .decoding, message: message)
    }

    /// A value could not be sent as a parameter.
    public static func encoding(_ message: String) -> PostgresError {
        PostgresError(code: .encoding, message: message)
    }

    /// The server answered with something the client did not expect.
    public static func unexpectedResult(_ message: String) -> PostgresError {
        PostgresError(code: .unexpectedResult, message: message)
    }

    /// No pooled connection became free within the acquire timeout.
    public static func poolTimeout(_ message: String) -> PostgresError {
        PostgresError(code: .poolTimeout, message: message)
    }

    /// The pool was shut down.
    public static let poolClosed = PostgresError(code: .poolClosed, message: "the connection pool is closed")

    /// The running statement was cancelled.
    public static let cancelled = PostgresError(code: .cancelled, message: "the statement was cancelled")

    /// True for server errors (those carrying a SQLSTATE).
    public var isServerError: Bool { code == .server }

    /// True for errors after which the same operation may succeed when retried on a fresh connection:
    /// connection failures (SQLSTATE class 08 and lost connections), administrator shutdown or termination
    /// (57P01–57P03), serialization failures (40001), deadlocks (40P01), too many connections (53300), a read-only
    /// session (25006, after a failover), and pool timeouts.
    public var isTransient: Bool {
        switch code {
        case .connectionFailed, .connectionClosed, .poolTimeout:
            return true
        case .server:
            guard let sqlState else { return false }
            return sqlState.hasPrefix("08")
                || ["57P01", "57P02", "57P03", "40001", "40P01", "53300", "25006"].contains(sqlState)
        default:
            return false
        }
    }

    /// True when the error means the connection it happened on can no longer be used.
    ///
    /// A write refused because the session is read-only (25006) counts too: after a failover or switchover the
    /// connection is to a standby or a demoted primary, and only a new connection (with
    /// `target_session_attrs=read-write` in a multi-host URL) can reach the new primary.
    public var isConnectionLoss: Bool {
        switch code {
        case .connectionFailed, .connectionClosed: return true
        case .server: return sqlState.map { $0.hasPrefix("08") || $0.hasPrefix("57P") || $0 == "25006" } ?? false
        default: return false
        }
    }

    /// True when the server refused a write because the session is read-only (SQLSTATE 25006): the database is a
    /// standby, a demoted primary, or has `default_transaction_read_only` set.
    public var isReadOnly: Bool { sqlState == "25006" }

    /// True for errors that retrying the same statement with the same values cannot fix: data exceptions (class 22,
    /// such as a number out of range or the queue's own functions refusing a parameter, 22023), integrity constraint
    /// violations (class 23), and values the client cannot encode. Missing objects or privileges (class 42) are not
    /// among them: an operator can fix those, and a retry then succeeds.
    public var isPermanent: Bool {
        guard code == .server, let sqlState else { return code == .encoding }
        return sqlState.hasPrefix("22") || sqlState.hasPrefix("23")
    }

    /// True for a unique-constraint violation (23505).
    public var isUniqueViolation: Bool { sqlState == "23505" }

    public var description: String {
        if let sqlState {
            return "PostgreSQL error \(sqlState): \(message)"
        }
        return message
    }

    public var debugDescription: String {
        var text = description
        if let detail { text += " (detail: \(detail))" }
        if let hint { text += " (hint: \(hint))" }
        if let constraint { text += " (constraint: \(constraint))" }
        return text
    }
}
