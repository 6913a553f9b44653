public import PostgresClient

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// `pause_queue(...)`: from the next claim on, no worker takes the queue's pending tasks. True when it was not
/// paused yet.
public struct PauseQueue: PostgresStatement {
    /// The queue.
    public let queue: String
    /// Why, for `stats` and `top`.
    public let reason: String?

    /// Creates the statement.
    public init(queue: String, reason: String?) {
        self.queue = queue
        self.reason = reason
    }

    public var query: PostgresQuery { "SELECT pause_queue(\(queue)::text, \(reason)::text) AS paused" }

    public func decode(_ rows: PostgresRows) throws -> Bool {
        try rows.single?.decode(Bool.self, "paused") ?? false
    }
}

/// `resume_queue(...)`: lets workers claim the queue's tasks again and wakes them. True when it was paused.
public struct ResumeQueue: PostgresStatement {
    /// The queue.
    public let queue: String

    /// Creates the statement.
    public init(queue: String) {
        self.queue = queue
    }

    public var query: PostgresQuery { "SELECT resume_queue(\(queue)::text) AS resumed" }

    public func decode(_ rows: PostgresRows) throws -> Bool {
        try rows.single?.decode(Bool.self, "resumed") ?? false
    }
}

/// A paused queue.
public struct PausedQueue: Sendable, Hashable, Encodable {
    /// The queue.
    public let queue: String
    /// Since when.
    public let pausedAt: Date
    /// Why, if said.
    public let reason: String?

    enum CodingKeys: String, CodingKey {
        case queue, reason
        case pausedAt = "paused_at"
    }
}

/// The paused queues, by name.
public struct ListPausedQueues: PostgresStatement {
    /// Creates the statement.
    public init() {}

    public var query: PostgresQuery { "SELECT queue, paused_at, reason FROM queue_pauses ORDER BY queue" }

    public func decode(_ rows: PostgresRows) throws -> [PausedQueue] {
        try rows.map {
            PausedQueue(
                queue: try $0.decode(String.self, "queue"), pausedAt: try $0.decode(Date.self, "paused_at"),
                reason: try $0.decode(String?.self, "reason"))
        }
    }
}
