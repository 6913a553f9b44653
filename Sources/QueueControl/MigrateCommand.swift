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
            processes may run this at once. An applied migration whose file changed is refused. After them, every SQL \
            function whose current version is not applied yet is applied again, and the grants of the \
            agentqueue_worker, agentqueue_operator and agentqueue_reader roles are set again.

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
                let report: MigrationReport
                do {
                    report = try await migrator.migrate(on: connection)
                } catch let error as MigrationError {
                    throw CLIFailure(error.description)
                }
                let version = try await Migrator.currentVersion(on: connection)
                if json {
                    struct Output: Encodable {
                        let applied: [String]
                        let functions: [String]
                        let grants: String?
                        let version: Int
                    }
                    try printJSON(
                        Output(
                            applied: report.applied.map(\.name), functions: report.functions, grants: report.grants,
                            version: version))
                } else {
                    for migration in report.applied { print("applied \(migration.name)") }
                    if !report.functions.isEmpty {
                        print("updated \(report.functions.count) SQL function\(report.functions.count == 1 ? "" : "s")")
                    }
                    if report.grants == "granted" {
                        print("granted the agentqueue_worker, agentqueue_operator and agentqueue_reader roles")
                    }
                    print(
                        report.changedAnything
                            ? "schema is at version \(version)" : "schema is up to date (version \(version))")
                }
                if let grants = report.grants, grants != "granted" {
                    printError(
                        "queuectl: note: \(grants): this role may not create roles; ask a DBA to create them "
                            + "(CREATE ROLE … NOLOGIN), then run `queuectl migrate` again to grant them"
                    )
                }
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
        let table = TextTable(headers: ["VERSION", "NAME", "STATE", "APPLIED AT"], flexible: [1])
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
