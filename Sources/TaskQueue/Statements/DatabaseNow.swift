public import PostgresClient

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// The database's clock: delays and ages are computed against it, not the local clock.
public struct DatabaseNow: PostgresStatement {
    /// Creates the statement.
    public init() {}

    public var query: PostgresQuery { "SELECT now() AS now" }

    public func decode(_ rows: PostgresRows) throws -> Date {
        guard let row = rows.single else { throw PostgresError.unexpectedResult("SELECT now() returned no row") }
        return try row.decode(Date.self, "now")
    }
}
