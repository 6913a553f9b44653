import Foundation
import PackagePlugin

/// Embeds the database schema into the target as Swift source, so the binaries carry it and need no files next to them
/// at run time: `database/migrations/*.sql` (versioned changes), `database/functions/*.sql` (the current body of each
/// SQL function) and `database/grants.sql`.
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let database = context.package.directoryURL.appending(path: "database")
        func sqlFiles(in folder: String) throws -> [URL] {
            try FileManager.default.contentsOfDirectory(
                at: database.appending(path: folder), includingPropertiesForKeys: nil
            )
            .filter { $0.pathExtension == "sql" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        }
        let migrations = try sqlFiles(in: "migrations")
        let functions = try sqlFiles(in: "functions")
        let grants = database.appending(path: "grants.sql")
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName:
                    "Embedding \(migrations.count) SQL migrations, \(functions.count) functions and the grants",
                executable: try context.tool(named: "embed-migrations").url,
                arguments: [output.path, grants.path]
                    + migrations.map(\.path) + ["--functions"] + functions.map(\.path),
                inputFiles: migrations + functions + [grants],
                outputFiles: [output]
            )
        ]
    }
}
