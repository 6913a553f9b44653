public import Logging
public import PostgresClient

#if canImport(Glibc)
    import Glibc
#endif

/// Access to the PostgreSQL server that `scripts/test.sh` starts for the tests (`DATABASE_URL`).
///
/// Each test gets a schema of its own, so tests running in parallel cannot disturb each other.
public enum TestDatabase {
    /// A logger that discards everything (tests assert on behaviour, not on log lines).
    public static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// The server's URL from `DATABASE_URL`.
    public static var url: String {
        get throws {
            guard let value = getenv("DATABASE_URL").map({ String(cString: $0) }), !value.isEmpty else {
                throw TestDatabaseError(
                    "DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL"
                )
            }
            return value
        }
    }

    /// A configuration for the test server, optionally pinned to a schema.
    public static func configuration(schema: String? = nil, applicationName: String = "agentqueue-tests") throws
        -> PostgresConfiguration
    {
        var settings: [(name: String, value: String)] = []
        if let schema { settings.append(("search_path", PostgresQuery.quoteIdentifier(schema))) }
        return try PostgresConfiguration(
            connectionString: try url, applicationName: applicationName, sessionSettings: settings
        )
    }

    /// Opens a connection to the test server (public schema).
    public static func connect() async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration: try configuration(), logger: logger)
    }

    /// Runs `body` with a new, empty schema that is dropped afterwards (also when `body` throws).
    public static func withSchema<T>(_ body: (TestSchema) async throws -> T) async throws -> T {
        let name = "t_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let admin = try await connect()
        try await admin.simpleQuery("CREATE SCHEMA \(PostgresQuery.quoteIdentifier(name))")
        let schema = TestSchema(name: name, configuration: try configuration(schema: name))
        do {
            let value = try await body(schema)
            try await admin.simpleQuery("DROP SCHEMA \(PostgresQuery.quoteIdentifier(name)) CASCADE")
            await admin.close()
            return value
        } catch {
            _ = try? await admin.simpleQuery("DROP SCHEMA \(PostgresQuery.quoteIdentifier(name)) CASCADE")
            await admin.close()
            throw error
        }
    }
}

/// A schema of its own for one test.
public struct TestSchema: Sendable {
    /// The schema's name.
    public let name: String
    /// A configuration whose sessions use this schema (`search_path`).
    public let configuration: PostgresConfiguration

    /// Opens a connection whose `search_path` is this schema.
    public func connect() async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration: configuration, logger: TestDatabase.logger)
    }

    /// A pool whose connections use this schema.
    public func pool(size: Int = 4) -> PostgresConnectionPool {
        PostgresConnectionPool(
            connection: configuration,
            pool: .init(maximumConnections: size),
            logger: TestDatabase.logger
        )
    }
}

/// A problem with the test environment.
public struct TestDatabaseError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
