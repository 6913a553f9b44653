import Foundation
import PostgresClient
import TaskQueue

#if canImport(Glibc)
    import Glibc
#endif

/// The database's own limit: pgbench clients issuing the worker's claim and complete statements.
///
/// Each pgbench transaction is what a worker does for one claim batch: the worker's own ``ClaimTasks`` statement for
/// `batch` tasks, then its ``CompleteTasks`` statement for the tasks it got, as two statements (two transactions, as
/// the worker commits them), prepared (`-M prepared`, as the worker prepares its hot statements). The SQL is the
/// statements' own, with their bind parameters turned into pgbench variables; the claim is wrapped in `array_agg` only
/// to carry the ids and lease tokens to the completion.
struct PgBench: Sendable {
    let binary: String
    let databaseURL: String
    let workDirectory: String

    static var script: String {
        let claim = ClaimTasks(workerID: "", queues: [], limit: 0, lease: .seconds(60)).query
        let complete = CompleteTasks([]).query
        return """
            SELECT coalesce(array_agg(id), '{}') AS ids, coalesce(array_agg(lease_token), '{}') AS tokens \
            FROM (\(pgbenchSQL(claim, [":worker", "'{default}'", ":batch", "'60 seconds'"]))) AS claimed \\gset
            \(pgbenchSQL(complete, [":ids", ":tokens", "array_fill(NULL::jsonb, ARRAY[cardinality(:ids::bigint[])])"]))

            """
    }

    /// A statement's SQL on one line with its bind parameters `$1…` replaced by pgbench expressions.
    static func pgbenchSQL(_ query: PostgresQuery, _ values: [String]) -> String {
        var sql = query.sql.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .joined(separator: " ")
        for (index, value) in values.enumerated().reversed() { sql = sql.replacing("$\(index + 1)", with: value) }
        return sql
    }

    /// Where the script is written (also for readers of the results).
    var scriptPath: String { workDirectory + "/claim-complete.pgbench" }

    func writeScript() throws {
        try Self.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
    }

    /// The pgbench binary: `AQ_PGBENCH`, the newest PostgreSQL's bin directory, or `pgbench` on the PATH.
    static func locate() -> String? {
        if let path = ProcessInfo.processInfo.environment["AQ_PGBENCH"], !path.isEmpty { return path }
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [])
            .compactMap { Int($0) }.sorted(by: >)
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(base)/\(version)/bin/pgbench") {
            return "\(base)/\(version)/bin/pgbench"
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(directory)/pgbench"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    struct Outcome: Sendable {
        /// Script runs (claim + complete) per second, as pgbench reports them.
        var transactionsPerSecond: Double
        /// pgbench's own CPU seconds.
        var clientCPUSeconds: Double
    }

    /// Runs `clients` clients for `seconds`, each claiming `batch` tasks per transaction.
    func run(clients: Int, batch: Int, seconds: Int) async throws -> Outcome {
        let arguments = [
            "-n", "-M", "prepared", "-c", "\(clients)", "-j", "\(min(clients, 2))", "-T", "\(seconds)",
            "-D", "batch=\(batch)", "-D", "worker=pgbench", "-f", scriptPath, databaseURL,
        ]
        let log = workDirectory + "/pgbench.log"
        unlink(log)
        let process = try ChildProcess(
            path: binary, arguments: arguments, environment: ProcessInfo.processInfo.environment, logPath: log
        )
        let (status, usage) = await process.wait(timeout: .seconds(seconds + 60))
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard ChildProcess.succeeded(status) else {
            throw BenchError("pgbench failed (wait status \(status)):\n\(process.logTail())")
        }
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
            let tps = Double(line.dropFirst(6).prefix(while: { $0 != " " }))
        else {
            throw BenchError("pgbench printed no tps:\n\(process.logTail())")
        }
        let cpu =
            Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        return Outcome(transactionsPerSecond: tps, clientCPUSeconds: cpu)
    }
}
