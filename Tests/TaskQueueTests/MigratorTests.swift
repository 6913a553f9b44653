import Foundation
import PostgresClient
import TaskQueue
import TestSupport
import Testing

@Suite("migrations")
struct MigratorTests {
    @Test("applying twice is a no-op")
    func idempotent() async throws {
        try await TestDatabase.withSchema { schema in
            let connection = try await schema.connect()
            defer { Task { await connection.close() } }
            let migrator = try Migrator(logger: TestDatabase.logger)
            let first = try await migrator.migrate(on: connection)
            #expect(first.applied.count == Migrator.bundled.count)
            #expect(first.functions.count == Migrator.bundledFunctions.count)
            #expect(first.grants == "granted")
            let second = try await migrator.migrate(on: connection)
            #expect(!second.changedAnything)
            #expect(try await Migrator.currentVersion(on: connection) == Migrator.latestVersion)
            let count = try await connection.query("SELECT count(*) AS n FROM schema_migrations").single?.decode(
                Int.self, "n")
            #expect(count == Migrator.bundled.count)
            let statuses = try await migrator.status(on: connection)
            #expect(statuses.allSatisfy { $0.state == .applied })
        }
    }

    @Test("a database without schema_migrations is at version 0 (not an error)")
    func versionOfAnEmptyDatabase() async throws {
        try await TestDatabase.withSchema { schema in
            let connection = try await schema.connect()
            defer { Task { await connection.close() } }
            #expect(try await Migrator.currentVersion(on: connection) == 0)
        }
    }

    @Test("migrators racing on several connections apply each file once")
    func concurrentConnections() async throws {
        try await TestDatabase.withSchema { schema in
            let applied = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let connection = try await schema.connect()
                        let done = try await Migrator(logger: TestDatabase.logger).migrate(on: connection)
                        await connection.close()
                        return done.applied.count
                    }
                }
                var total = 0
                for try await count in group { total += count }
                return total
            }
            #expect(applied == Migrator.bundled.count)
        }
    }

    @Test("two queuectl processes started together apply each file once")
    func concurrentProcesses() async throws {
        try await TestDatabase.withSchema { schema in
            let url = try schemaURL(schema.name)
            async let first = TestProcesses.run("queuectl", ["migrate", "--json"], environment: ["DATABASE_URL": url])
            async let second = TestProcesses.run("queuectl", ["migrate", "--json"], environment: ["DATABASE_URL": url])
            let outputs = try await [first, second]
            for output in outputs { #expect(output.status == 0, "\(output.standardError)") }
            let appliedCounts = outputs.map { output -> Int in
                let object = try? JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [String: Any]
                return (object?["applied"] as? [String])?.count ?? -1
            }
            #expect(appliedCounts.sorted() == [0, Migrator.bundled.count])
            let connection = try await schema.connect()
            let versions = try await connection.query(
                "SELECT count(DISTINCT version) AS v, count(*) AS n FROM schema_migrations")
            #expect(try versions.single?.decode(Int.self, "v") == Migrator.bundled.count)
            #expect(try versions.single?.decode(Int.self, "n") == Migrator.bundled.count)
            await connection.close()
        }
    }

    @Test("an applied migration whose file changed is refused with a message naming it")
    func changedFile() async throws {
        try await TestDatabase.withSchema { schema in
            let connection = try await schema.connect()
            defer { Task { await connection.close() } }
            let original = [
                try Migration(name: "001_first.sql", sql: "CREATE TABLE first (id int);"),
                try Migration(name: "002_second.sql", sql: "CREATE TABLE second (id int);"),
            ]
            try await Migrator(migrations: original, functions: [], grants: nil, logger: TestDatabase.logger).migrate(
                on: connection)
            let edited = [
                original[0],
                try Migration(name: "002_second.sql", sql: "CREATE TABLE second (id bigint);"),
                try Migration(name: "003_third.sql", sql: "CREATE TABLE third (id int);"),
            ]
            let error = await #expect(throws: MigrationError.self) {
                try await Migrator(migrations: edited, functions: [], grants: nil, logger: TestDatabase.logger).migrate(
                    on: connection)
            }
            #expect(error?.description.contains("002_second.sql") == true)
            // Nothing after the refusal was applied.
            let third = try await connection.query("SELECT to_regclass('third') IS NULL AS absent").single?.decode(
                Bool.self, "absent")
            #expect(third == true)
            let statuses = try await Migrator(
                migrations: edited, functions: [], grants: nil, logger: TestDatabase.logger
            ).status(on: connection)
            #expect(statuses.map(\.state) == [.applied, .changed, .pending])
        }
    }

    @Test("a failing migration is rolled back completely and named")
    func failingMigration() async throws {
        try await TestDatabase.withSchema { schema in
            let connection = try await schema.connect()
            defer { Task { await connection.close() } }
            let migrations = [
                try Migration(name: "001_ok.sql", sql: "CREATE TABLE ok (id int);"),
                try Migration(name: "002_broken.sql", sql: "CREATE TABLE half (id int); SELECT no_such_function();"),
            ]
            let error = await #expect(throws: MigrationError.self) {
                try await Migrator(migrations: migrations, functions: [], grants: nil, logger: TestDatabase.logger)
                    .migrate(on: connection)
            }
            #expect(error?.description.contains("002_broken.sql") == true)
            let half = try await connection.query("SELECT to_regclass('half') IS NULL AS absent").single?.decode(
                Bool.self, "absent")
            #expect(half == true)
            #expect(try await Migrator.currentVersion(on: connection) == 1)
        }
    }

    @Test("file names must be NNN_name.sql and versions unique")
    func fileNames() throws {
        #expect(throws: MigrationError.self) { try Migration(name: "first.sql", sql: "") }
        #expect(throws: MigrationError.self) { try Migration(name: "001-first.sql", sql: "") }
        #expect(throws: MigrationError.self) {
            try Migrator(
                migrations: [try Migration(name: "001_a.sql", sql: ""), try Migration(name: "001_b.sql", sql: "")],
                logger: TestDatabase.logger
            )
        }
        #expect(Migrator.bundled.first?.name == "001_task_queue.sql")
    }
}

@Suite("queuectl connection errors")
struct QueuectlConnectionErrorTests {
    @Test(
        "a malformed or unreachable database gives one clear line, a non-zero exit and no password",
        arguments: [
            "postgresql://agent:hunter2secret@127.0.0.1:notaport/db",
            "mysql://agent:hunter2secret@localhost/db",
            "postgresql://agent:hunter2secret@127.0.0.1:1/db?connect_timeout=2",
            "host=127.0.0.1 port=1 user=agent password=hunter2secret connect_timeout=2",
        ]
    )
    func badDatabase(url: String) async throws {
        let output = try await TestProcesses.run("queuectl", ["migrate"], environment: ["DATABASE_URL": url])
        #expect(output.status != 0)
        let lines = output.standardError.split(separator: "\n")
        #expect(lines.count == 1, "\(output.standardError)")
        #expect(lines.first?.hasPrefix("queuectl: error:") == true)
        #expect(!output.standardError.contains("hunter2secret"))
        #expect(!output.standardOutput.contains("hunter2secret"))
    }

    @Test("no database at all is a usage error naming DATABASE_URL")
    func missingDatabase() async throws {
        let output = try await TestProcesses.run("queuectl", ["migrate"], environment: ["DATABASE_URL": ""])
        #expect(output.status == 2)
        #expect(output.standardError.contains("DATABASE_URL"))
    }
}

/// The test server's URL with its sessions pinned to a schema.
func schemaURL(_ schema: String) throws -> String {
    let base = try TestDatabase.url
    let separator = base.contains("?") ? "&" : "?"
    return "\(base)\(separator)options=-csearch_path%3D\(schema)"
}
