import ArgumentParser
import PostgresClient
import TaskQueue

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `queuectl migrate`: apply the schema, or show which migrations are applied.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending database migrations (or list them with --status).",
        discussion: """
            Migrations are built into queuectl. Each runs in its own transaction under an advisory lock, so several \
            processes may run this at once. An applied migration whose file changed is refused.

            Examples:
              queuectl migrate
              queuectl migrate --status --json
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "List applied and pending migrations without changing anything.")
    var status = false

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    func run() async throws {
        try await reportingErrors {
            let logger = makeCLILogger()
            try await database.withConnection(logger: logger) { connection in
                let migrator = try Migrator(logger: logger)
                if status {
                    try printStatus(try await migrator.status(on: connection))
                    return
                }
                let applied: [Migration]
                do {
                    applied = try await migrator.migrate(on: connection)
                } catch let error as MigrationError {
                    throw CLIFailure(error.description)
                }
                let version = try await Migrator.currentVersion(on: connection)
                if json {
                    struct Output: Encodable {
                        let applied: [String]
                        let version: Int
                    }
                    try printJSON(Output(applied: applied.map(\.name), version: version))
                    return
                }
                for migration in applied { print("applied \(migration.name)") }
                print(applied.isEmpty ? "schema is up to date (version \(version))" : "schema is at version \(version)")
            }
        }
    }

    private func printStatus(_ statuses: [MigrationStatus]) throws {
        if json {
            struct Row: Encodable {
                let version: Int
                let name: String
                let state: String
                let applied_at: Date?
                let duration_ms: Double?
            }
            try printJSON(
                statuses.map {
                    Row(
                        version: $0.version, name: $0.name, state: $0.state.rawValue, applied_at: $0.appliedAt,
                        duration_ms: $0.durationMilliseconds)
                })
            return
        }
        let table = TextTable(headers: ["VERSION", "NAME", "STATE", "APPLIED AT"])
        for status in statuses {
            table.add([
                String(status.version), status.name, status.state.rawValue,
                status.appliedAt.map(formatTimestamp) ?? "-",
            ])
        }
        print(table.render(), terminator: "")
        let problems = statuses.filter { $0.state == .changed || $0.state == .unknown }
        if !problems.isEmpty {
            throw CLIFailure(
                problems.map { status in
                    status.state == .changed
                        ? "migration \(status.name) was changed after it was applied"
                        : "migration \(status.name) is applied but unknown to this queuectl (upgrade it)"
                }.joined(separator: "; ")
            )
        }
    }
}
