public import PostgresClient

/// `cancel_task(...)`: a pending task is cancelled at once; a running one is flagged and stops at its next node
/// boundary. `nil` when the task does not exist.
public struct CancelTask: PostgresStatement {
    /// The task.
    public let id: Int64

    /// Creates the statement.
    public init(id: Int64) {
        self.id = id
    }

    public var query: PostgresQuery { "SELECT cancel_task(\(id)) AS outcome" }

    public func decode(_ rows: PostgresRows) throws -> CancelOutcome? {
        guard let text = try rows.single?.decode(String?.self, "outcome") else { return nil }
        guard let outcome = CancelOutcome(rawValue: text) else {
            throw PostgresError.unexpectedResult("cancel_task returned '\(text)'")
        }
        return outcome
    }
}

/// What cancelling a task did.
public enum CancelOutcome: String, Sendable, Codable {
    /// It was pending and is now cancelled.
    case cancelled
    /// It is running; its worker stops it when its next heartbeat learns of the request.
    case cancelRequested = "cancel_requested"
    /// It had already finished; nothing changed.
    case alreadySucceeded = "succeeded"
    /// It was already dead; nothing changed.
    case alreadyDead = "dead"
}
