public import PostgresClient

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One task with everything `show` prints, the payload of an inline diff replaced by its size; `nil` when it does not
/// exist.
public struct FetchTaskDetail: PostgresStatement {
    /// The task.
    public let id: Int64

    /// Creates the statement.
    public init(id: Int64) {
        self.id = id
    }

    public var query: PostgresQuery {
        """
        SELECT \(fragment: TaskSummary.columns), rescues, lease_expires_at, heartbeat_at, updated_at, errors, result,
               now() AS now,
               CASE WHEN jsonb_typeof(payload #> '{source,diff}') = 'string'
                    THEN jsonb_set(payload, '{source,diff}',
                                   to_jsonb(format('(%s bytes of diff)', octet_length(payload #>> '{source,diff}'))))
                    ELSE payload END AS payload
        FROM tasks WHERE id = \(id)
        """
    }

    public func decode(_ rows: PostgresRows) throws -> TaskDetail? {
        guard let row = rows.single else { return nil }
        return TaskDetail(
            summary: try TaskSummary(row: row),
            rescues: try row.decode(Int.self, "rescues"),
            leaseExpiresAt: try row.decode(Date?.self, "lease_expires_at"),
            heartbeatAt: try row.decode(Date?.self, "heartbeat_at"),
            updatedAt: try row.decode(Date.self, "updated_at"),
            errors: try row.decode(PostgresJSON.self, "errors").decode([TaskErrorEntry].self),
            payload: try row.decode(PostgresJSON.self, "payload").text,
            result: try row.decode(PostgresJSON?.self, "result")?.text,
            now: try row.decode(Date.self, "now")
        )
    }
}
