import Digests
public import Logging
public import PostgresClient

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// One numbered SQL migration from `database/migrations/NNN_name.sql`.
public struct Migration: Sendable, Hashable {
    /// The number at the start of the file name.
    public let version: Int
    /// The file name, e.g. `001_tasks.sql`.
    public let name: String
    /// The SQL text, run as one transaction.
    public let sql: String
    /// SHA-256 of the SQL text, hex.
    public let checksum: String

    /// Creates a migration from a file name of the form `NNN_name.sql` and its text.
    public init(name: String, sql: String) throws(MigrationError) {
        let digits = name.prefix(while: { $0.isASCII && $0.isNumber })
        guard let version = Int(digits), name.dropFirst(digits.count).hasPrefix("_"), name.hasSuffix(".sql") else {
            throw .invalidFileName(name)
        }
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = SHA256.hexDigest(sql.utf8)
    }
}

/// A file whose current version the migrator keeps applied: a SQL function of `database/functions/` (one
/// `CREATE OR REPLACE FUNCTION` each) or `database/grants.sql`. Unlike a migration it may change: the migrator applies
/// it again whenever its checksum differs from the one recorded in `schema_functions`.
public struct SchemaFile: Sendable, Hashable {
    /// The file name, e.g. `claim_task.sql`.
    public let name: String
    /// The SQL text.
    public let sql: String
    /// SHA-256 of the SQL text, hex.
    public let checksum: String

    /// Creates a file from its name and text.
    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
        self.checksum = SHA256.hexDigest(sql.utf8)
    }
}

/// What one ``Migrator/migrate(on:)`` did.
public struct MigrationReport: Sendable {
    /// The migrations applied, in order (empty when the schema was current).
    public var applied: [Migration] = []
    /// The function files applied because they were new or changed.
    public var functions: [String] = []
    /// What `agentqueue_grant_roles()` answered when the grants were applied (`granted`, or which roles are missing);
    /// `nil` when nothing changed.
    public var grants: String?

    /// Whether anything was changed.
    public var changedAnything: Bool { !applied.isEmpty || !functions.isEmpty || grants != nil }
}

/// Why migrations could not be applied.
public struct MigrationError: Error, Sendable, CustomStringConvertible {
    enum Code: Sendable {
        case invalidFileName, duplicateVersion, changedFile, unknownVersion, failed
    }

    let code: Code
    /// A one-line explanation naming the file concerned.
    public let description: String

    static func invalidFileName(_ name: String) -> MigrationError {
        MigrationError(code: .invalidFileName, description: "migration file \(name) is not named NNN_name.sql")
    }

    static func duplicateVersion(_ version: Int) -> MigrationError {
        MigrationError(code: .duplicateVersion, description: "two migration files have version \(version)")
    }

    static func changedFile(_ name: String) -> MigrationError {
        MigrationError(
            code: .changedFile,
            description: "migration \(name) was changed after it was applied (checksum differs); "
                + "applied migrations must never be edited: restore the file and add a new migration instead"
        )
    }

    static func unknownVersion(_ version: Int, latest: Int) -> MigrationError {
        MigrationError(
            code: .unknownVersion,
            description: "the database has migration \(version) applied, which this binary does not know "
                + "(it knows up to \(latest)); upgrade AgentQueue"
        )
    }

    static func failed(_ name: String, _ error: any Error) -> MigrationError {
        MigrationError(code: .failed, description: "migration \(name) failed and was rolled back: \(error)")
    }
}

/// The state of one migration in a database.
public struct MigrationStatus: Sendable, Hashable {
    /// Applied, pending, or applied with different contents.
    public enum State: String, Sendable {
        case applied, pending, changed
        /// Applied in the database but unknown to this binary.
        case unknown
    }

    /// The migration's version.
    public let version: Int
    /// The migration's file name.
    public let name: String
    /// Its state.
    public let state: State
    /// When it was applied, if it was.
    public let appliedAt: Date?
    /// How long it took, if it was applied.
    public let durationMilliseconds: Double?
}

/// Applies the embedded migrations in order, once, under an advisory lock, keeping `schema_migrations`.
///
/// Each file runs in its own transaction together with its `schema_migrations` row. Several processes may call
/// ``migrate()`` at once: a PostgreSQL advisory lock (per schema) makes them apply each file exactly once.
public struct Migrator: Sendable {
    /// The migrations built into this binary, in version order.
    public static let bundled: [Migration] = {
        do {
            let migrations = try EmbeddedMigrations.files.map { file throws(MigrationError) in
                try Migration(name: file.name, sql: file.sql)
            }
            return try validated(migrations)
        } catch {
            fatalError("embedded migrations are invalid: \(error)")
        }
    }()

    /// The current SQL functions built into this binary (`database/functions/*.sql`), by file name.
    public static let bundledFunctions: [SchemaFile] = EmbeddedMigrations.functions.map {
        SchemaFile(name: $0.name, sql: $0.sql)
    }

    /// The grants built into this binary (`database/grants.sql`).
    public static let bundledGrants = SchemaFile(name: "grants.sql", sql: EmbeddedMigrations.grants)

    /// The schema version this binary expects: the highest bundled migration.
    public static var latestVersion: Int { bundled.last?.version ?? 0 }

    let migrations: [Migration]
    let functions: [SchemaFile]
    let grants: SchemaFile?
    let logger: Logger

    /// Creates a migrator for the bundled schema, or for a custom one (tests; the benchmark's older schemas, which
    /// have no function files).
    public init(
        migrations: [Migration] = Migrator.bundled,
        functions: [SchemaFile] = Migrator.bundledFunctions,
        grants: SchemaFile? = Migrator.bundledGrants,
        logger: Logger
    ) throws(MigrationError) {
        self.migrations = try Self.validated(migrations)
        self.functions = functions
        self.grants = grants
        self.logger = logger
    }

    static func validated(_ migrations: [Migration]) throws(MigrationError) -> [Migration] {
        let sorted = migrations.sorted { $0.version < $1.version }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.version == next.version {
            throw .duplicateVersion(next.version)
        }
        return sorted
    }

    /// Applies every pending migration, then every new or changed function file and, after any change, the grants;
    /// returns what it did.
    ///
    /// Function files and grants are applied together in one transaction after the migrations: a function always has
    /// its current body, and `database/grants.sql` sets every function's rights again (a `CREATE OR REPLACE FUNCTION`
    /// resets `SECURITY DEFINER`).
    ///
    /// - Throws: ``MigrationError`` when an applied file was changed, the database is newer than this binary, or a
    ///   migration fails (it is rolled back); ``PostgresError`` for connection problems.
    @discardableResult
    public func migrate(on connection: PostgresConnection) async throws -> MigrationReport {
        try await withMigrationLock(on: connection) {
            var report = MigrationReport()
            report.applied = try await applyMigrations(on: connection)
            try await applyFunctions(on: connection, after: report.applied, into: &report)
            return report
        }
    }

    private func applyMigrations(on connection: PostgresConnection) async throws -> [Migration] {
        try await ensureTable(on: connection)
        let applied = try await appliedMigrations(on: connection)
        try verify(applied)
        var done: [Migration] = []
        for migration in migrations where applied[migration.version] == nil {
            let clock = ContinuousClock()
            let start = clock.now
            do {
                try await connection.withTransaction { connection in
                    try await connection.simpleQuery(migration.sql)
                    let milliseconds = start.duration(to: clock.now).inMilliseconds
                    try await connection.execute(
                        """
                        INSERT INTO schema_migrations (version, name, checksum, duration_ms)
                        VALUES (\(migration.version), \(migration.name), \(migration.checksum), \(milliseconds))
                        """
                    )
                }
            } catch let error as PostgresError where error.isConnectionLoss {
                throw error
            } catch {
                throw MigrationError.failed(migration.name, error)
            }
            logger.info("applied migration", metadata: ["migration": "\(migration.name)"])
            done.append(migration)
        }
        return done
    }

    /// Applies the function files that are new or changed, then the grants when anything changed (migrations
    /// included) or the grants did not complete last time; records their checksums.
    private func applyFunctions(
        on connection: PostgresConnection,
        after applied: [Migration],
        into report: inout MigrationReport
    ) async throws {
        guard !functions.isEmpty || grants != nil else { return }
        try await ensureFunctionsTable(on: connection)
        let recorded = try await recordedFunctions(on: connection)
        let changed = functions.filter { recorded[$0.name] != $0.checksum }
        let grantsDue =
            grants.map { recorded[$0.name] != $0.checksum } ?? false || !changed.isEmpty || !applied.isEmpty
        guard !changed.isEmpty || grantsDue else { return }
        var grantResult: String?
        do {
            try await connection.withTransaction { connection in
                // A LANGUAGE sql function's body is checked when it is created: another function it calls may be
                // further down the list (as pg_dump does, check them once everything exists).
                try await connection.simpleQuery("SET LOCAL check_function_bodies = off")
                for file in changed {
                    try await connection.simpleQuery(file.sql)
                    try await record(file, on: connection)
                }
                if let grants, grantsDue {
                    try await connection.simpleQuery(grants.sql)
                    grantResult =
                        try await connection.query("SELECT agentqueue_grant_roles() AS result").single?
                        .decode(String.self, "result") ?? "granted"
                    // Roles a DBA still has to create: try again on the next migrate.
                    if grantResult == "granted" { try await record(grants, on: connection) }
                }
            }
        } catch let error as PostgresError where error.isConnectionLoss {
            throw error
        } catch {
            throw MigrationError.failed(changed.map(\.name).joined(separator: ", ") + " or grants.sql", error)
        }
        for file in changed { logger.info("applied function", metadata: ["file": "\(file.name)"]) }
        report.functions = changed.map(\.name)
        report.grants = grantResult
        if let grantResult, grantResult != "granted" {
            logger.warning("roles missing: grants skipped", metadata: ["result": "\(grantResult)"])
        }
    }

    private func record(_ file: SchemaFile, on connection: PostgresConnection) async throws {
        try await connection.execute(
            """
            INSERT INTO schema_functions (name, checksum) VALUES (\(file.name), \(file.checksum))
            ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()
            """
        )
    }

    private func ensureFunctionsTable(on connection: PostgresConnection) async throws {
        try await connection.simpleQuery(
            """
            CREATE TABLE IF NOT EXISTS schema_functions (
                name       text PRIMARY KEY,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
    }

    private func recordedFunctions(on connection: PostgresConnection) async throws -> [String: String] {
        var recorded: [String: String] = [:]
        for row in try await connection.query("SELECT name, checksum FROM schema_functions") {
            recorded[try row.decode(String.self, "name")] = try row.decode(String.self, "checksum")
        }
        return recorded
    }

    /// Why the database's schema is not the one this binary expects, or `nil` when it is: the highest applied
    /// migration must be ``latestVersion`` and every bundled function file must be applied in its current version
    /// (`queuectl migrate` fixes both).
    public static func schemaProblem(on connection: PostgresConnection) async throws -> String? {
        let version = try await currentVersion(on: connection)
        if version < latestVersion {
            return "the database schema is at version \(version) but this program needs \(latestVersion): "
                + "run `queuectl migrate`"
        }
        if version > latestVersion {
            return "the database schema is at version \(version), newer than this program knows (\(latestVersion)): "
                + "upgrade it"
        }
        let exists = try await connection.query("SELECT to_regclass('schema_functions') IS NOT NULL AS present")
        var recorded: [String: String] = [:]
        if try exists.single?.decode(Bool.self, "present") == true {
            for row in try await connection.query("SELECT name, checksum FROM schema_functions") {
                recorded[try row.decode(String.self, "name")] = try row.decode(String.self, "checksum")
            }
        }
        let stale = bundledFunctions.filter { recorded[$0.name] != $0.checksum }.map(\.name)
        if !stale.isEmpty {
            return "the database's SQL functions differ from this program's (\(stale.prefix(3).joined(separator: ", "))"
                + "\(stale.count > 3 ? ", …" : "")): run `queuectl migrate`"
        }
        return nil
    }

    /// Lists every migration with its state, without changing anything.
    public func status(on connection: PostgresConnection) async throws -> [MigrationStatus] {
        let exists = try await connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
        var appliedRows: [Int: (checksum: String, appliedAt: Date, duration: Double, name: String)] = [:]
        if try exists.single?.decode(Bool.self, "present") == true {
            let rows = try await connection.query(
                "SELECT version, name, checksum, applied_at, duration_ms FROM schema_migrations ORDER BY version"
            )
            for row in rows {
                appliedRows[try row.decode(Int.self, "version")] = (
                    try row.decode(String.self, "checksum"), try row.decode(Date.self, "applied_at"),
                    try row.decode(Double.self, "duration_ms"), try row.decode(String.self, "name")
                )
            }
        }
        var statuses: [MigrationStatus] = migrations.map { migration in
            guard let applied = appliedRows[migration.version] else {
                return MigrationStatus(
                    version: migration.version, name: migration.name, state: .pending, appliedAt: nil,
                    durationMilliseconds: nil
                )
            }
            return MigrationStatus(
                version: migration.version, name: migration.name,
                state: applied.checksum == migration.checksum ? .applied : .changed,
                appliedAt: applied.appliedAt, durationMilliseconds: applied.duration
            )
        }
        let known = Set(migrations.map(\.version))
        for (version, applied) in appliedRows where !known.contains(version) {
            statuses.append(
                MigrationStatus(
                    version: version, name: applied.name, state: .unknown, appliedAt: applied.appliedAt,
                    durationMilliseconds: applied.duration
                )
            )
        }
        return statuses.sorted { $0.version < $1.version }
    }

    /// The highest applied version, or 0 when nothing is applied (or `schema_migrations` does not exist).
    public static func currentVersion(on connection: PostgresConnection) async throws -> Int {
        // Two statements: PostgreSQL resolves every table a statement names before running it, so a CASE around a
        // subquery on a missing schema_migrations still fails with 42P01 instead of answering 0.
        let exists = try await connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
        guard try exists.single?.decode(Bool.self, "present") == true else { return 0 }
        let rows = try await connection.query("SELECT coalesce(max(version), 0) AS version FROM schema_migrations")
        return try rows.single?.decode(Int.self, "version") ?? 0
    }

    private func verify(_ applied: [Int: String]) throws(MigrationError) {
        let byVersion = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for (version, checksum) in applied.sorted(by: { $0.key < $1.key }) {
            guard let migration = byVersion[version] else {
                throw .unknownVersion(version, latest: migrations.last?.version ?? 0)
            }
            if migration.checksum != checksum { throw .changedFile(migration.name) }
        }
    }

    private func ensureTable(on connection: PostgresConnection) async throws {
        try await connection.simpleQuery(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer PRIMARY KEY,
                name        text NOT NULL,
                checksum    text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now(),
                duration_ms double precision NOT NULL
            )
            """
        )
    }

    private func appliedMigrations(on connection: PostgresConnection) async throws -> [Int: String] {
        var applied: [Int: String] = [:]
        for row in try await connection.query("SELECT version, checksum FROM schema_migrations") {
            applied[try row.decode(Int.self, "version")] = try row.decode(String.self, "checksum")
        }
        return applied
    }

    /// Holds a session-level advisory lock, one per schema, for the duration of `body`.
    private func withMigrationLock<T>(on connection: PostgresConnection, _ body: () async throws -> T) async throws -> T
    {
        let key: PostgresQuery = "hashtext('agentqueue.migrations:' || coalesce(current_schema(), ''))"
        try await connection.query("SELECT pg_advisory_lock(\(fragment: key))")
        do {
            let value = try await body()
            try await connection.query("SELECT pg_advisory_unlock(\(fragment: key))")
            return value
        } catch {
            if !connection.isBroken {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(fragment: key))")
            }
            throw error
        }
    }
}
