public import PostgresClient

/// Which tasks a bulk operation touches: every filter that is set must match (none set matches every task in the
/// operation's states).
public struct TaskFilter: Sendable, Hashable {
    /// Only this queue.
    public var queue: String?
    /// Only this kind.
    public var kind: String?
    /// Only these states (empty: every state the operation applies to).
    public var states: [TaskState]
    /// Only tasks created longer ago than this.
    public var olderThan: Duration?

    /// Creates a filter.
    public init(queue: String? = nil, kind: String? = nil, states: [TaskState] = [], olderThan: Duration? = nil) {
        self.queue = queue
        self.kind = kind
        self.states = states
        self.olderThan = olderThan
    }

    /// The five arguments every `…_matching` function takes, with `dryRun` last.
    func arguments(dryRun: Bool) -> PostgresQuery {
        let states: [String]? = self.states.isEmpty ? nil : self.states.map(\.rawValue)
        return """
            \(queue)::text, \(kind)::text, \(states)::text[], now() - \(olderThan)::interval, \(dryRun)::boolean
            """
    }
}

/// `cancel_tasks_matching(...)`: cancels every pending task the filter matches and flags every running one for its
/// worker, in one statement; with `dryRun`, only counts.
public struct CancelTasksMatching: PostgresStatement {
    /// The tasks.
    public let filter: TaskFilter
    /// Count, change nothing.
    public let dryRun: Bool

    /// Creates the statement.
    public init(_ filter: TaskFilter, dryRun: Bool) {
        self.filter = filter
        self.dryRun = dryRun
    }

    public var query: PostgresQuery {
        "SELECT cancelled, cancel_requested FROM cancel_tasks_matching(\(fragment: filter.arguments(dryRun: dryRun)))"
    }

    public func decode(_ rows: PostgresRows) throws -> (cancelled: Int, cancelRequested: Int) {
        guard let row = rows.single else {
            throw PostgresError.unexpectedResult("cancel_tasks_matching returned no row")
        }
        return (try row.decode(Int.self, "cancelled"), try row.decode(Int.self, "cancel_requested"))
    }
}

/// `retry_tasks_matching(...)`: puts every dead or cancelled task the filter matches back to pending, in one
/// statement, skipping those whose dedupe key a live (or newer matching) task holds; with `dryRun`, only counts.
public struct RetryTasksMatching: PostgresStatement {
    /// The tasks.
    public let filter: TaskFilter
    /// Count, change nothing.
    public let dryRun: Bool

    /// Creates the statement.
    public init(_ filter: TaskFilter, dryRun: Bool) {
        self.filter = filter
        self.dryRun = dryRun
    }

    public var query: PostgresQuery {
        "SELECT retried, skipped FROM retry_tasks_matching(\(fragment: filter.arguments(dryRun: dryRun)))"
    }

    public func decode(_ rows: PostgresRows) throws -> (retried: Int, skipped: Int) {
        guard let row = rows.single else {
            throw PostgresError.unexpectedResult("retry_tasks_matching returned no row")
        }
        return (try row.decode(Int.self, "retried"), try row.decode(Int.self, "skipped"))
    }
}
