import ArgumentParser
import Foundation
import Logging
import PostgresClient
import TaskQueue

#if canImport(Glibc)
    import Glibc
#endif

/// `aq-bench`: the driver behind scripts/bench.sh. Measures enqueue, drain, latency, the review workflow and
/// memory against a database it is given, with real `queue-worker` processes, and pgbench as the yardstick.
@main
struct AQBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aq-bench",
        abstract: "Benchmark AgentQueue against a PostgreSQL database (use scripts/bench.sh, which starts one).",
        discussion: """
            Every drain and latency figure comes from the database's own timestamps (started_at, finished_at, \
            created_at). Each drain configuration is also run by pgbench issuing the worker's claim_task and \
            complete_tasks statements at the same concurrency and batch size; the drain is printed as a ratio to it. \
            The database is emptied (TRUNCATE) between runs: never point this at a database you care about.
            """
    )

    @Option(help: "The database to measure (default: $DATABASE_URL). Its queue tables are emptied.")
    var databaseURL: String?

    @Option(help: "The queue-worker binary to measure.")
    var worker: String

    @Option(help: "full (the published figures), quick (for iterating) or smoke (CI: proves that it runs).")
    var mode = "full"

    @Option(help: "Where to write the results as JSON.")
    var json = "bench-results.json"

    @Option(help: "Where worker logs and the pgbench script go (default: a new directory under /tmp).")
    var workDirectory: String?

    @Option(help: "Scenarios to run, comma-separated: enqueue, drain, latency, review, memory, variants, webhook.")
    var only: String?

    @Option(help: "Worker processes of the drain runs, comma-separated (overrides the mode's).")
    var processes: String?

    @Option(help: "Worker concurrencies of the drain runs, comma-separated (overrides the mode's).")
    var concurrency: String?

    @Option(help: "Claim batch sizes of the drain runs, comma-separated (overrides the mode's).")
    var batch: String?

    @Option(help: "Runs per drain configuration and checkpoint-cost pair, medians reported (overrides the mode's).")
    var repeats: Int?

    @Option(help: "Apply the bundled migrations only up to this version (to measure an older worker).")
    var schemaVersion: Int?

    @Option(help: "KEY=VALUE added to every worker's environment (repeatable), e.g. MALLOC_ARENA_MAX=2.")
    var workerEnv: [String] = []

    @Option(help: "The queue-webhook binary of the webhook scenario (default: next to --worker).")
    var webhook: String?

    @Option(help: "The diff the review scenario reviews.")
    var diff: String?

    @Option(help: "A label stored with the results (e.g. the change being measured).")
    var label = ""

    func validate() throws {
        guard Plan.make(mode) != nil else { throw ValidationError("--mode must be full, quick or smoke") }
        for entry in workerEnv where !entry.contains("=") {
            throw ValidationError("--worker-env takes KEY=VALUE (got '\(entry)')")
        }
    }

    func run() async throws {
        guard let url = databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty else {
            throw ValidationError("give --database-url or set DATABASE_URL")
        }
        guard FileManager.default.isExecutableFile(atPath: worker) else {
            throw ValidationError("--worker \(worker) is not an executable")
        }
        var plan = Plan.make(mode)!
        if let list = try Self.numbers(processes, "--processes") { plan.processes = list }
        if let list = try Self.numbers(concurrency, "--concurrency") { plan.concurrency = list }
        if let list = try Self.numbers(batch, "--batch") { plan.claimBatch = list }
        if let repeats {
            guard repeats > 0 else { throw ValidationError("--repeats must be at least 1") }
            plan.repeats = repeats
        }
        let known: Set<String> = ["enqueue", "drain", "latency", "review", "memory", "variants", "webhook"]
        let scenarios = only.map { Set($0.split(separator: ",").map(String.init)) } ?? known
        if let unknown = scenarios.subtracting(known).first {
            throw ValidationError("unknown scenario '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        var environment: [String: String] = [:]
        for entry in workerEnv {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            environment[String(parts[0])] = String(parts[1])
        }

        let directory = workDirectory ?? "/tmp/aq-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var logger = Logger(label: "aq-bench")
        logger.logLevel = .warning

        let database = try await BenchDatabase.connect(url: url, logger: logger)
        let version = try await database.migrate(upTo: schemaVersion)
        let pgbench = PgBench.locate().map { PgBench(binary: $0, databaseURL: url, workDirectory: directory) }
        try pgbench?.writeScript()
        if pgbench == nil && (scenarios.contains("drain") || scenarios.contains("variants")) {
            throw ValidationError("pgbench was not found (install postgresql, or set AQ_PGBENCH)")
        }

        let results = BenchResults(
            label: label, mode: mode, startedAt: Date().formatted(.iso8601), machine: try await Self.machine(database),
            schemaVersion: version, workerBinary: worker, workerEnvironment: environment,
            pgbenchScript: PgBench.script
        )
        let bench = Bench(
            database: database, databaseURL: url, plan: plan, workerBinary: worker, workerEnvironment: environment,
            pgbench: pgbench, workDirectory: directory, reviewPayload: try Self.reviewPayload(diffPath: diff),
            logger: logger, results: results
        )
        bench.progress("mode \(mode), schema \(version), logs in \(directory)")
        if scenarios.contains("memory") { try await bench.memoryScenario() }
        if scenarios.contains("enqueue") { try await bench.enqueueScenario() }
        if scenarios.contains("latency") { try await bench.latencyScenario() }
        if scenarios.contains("drain") { try await bench.drainScenario() }
        if scenarios.contains("variants") { try await bench.variantScenario() }
        if scenarios.contains("review") { try await bench.reviewScenario() }
        if scenarios.contains("webhook") {
            let binary =
                webhook
                ?? URL(fileURLWithPath: worker).deletingLastPathComponent().appendingPathComponent(
                    "queue-webhook"
                ).path
            guard FileManager.default.isExecutableFile(atPath: binary) else {
                throw ValidationError("the webhook scenario needs queue-webhook (give --webhook): \(binary)")
            }
            try await bench.webhookScenario(binary: binary, deliveries: plan.webhookDeliveries, clients: 8)
        }
        bench.finishMemory()
        try await database.reset()
        await database.connection.close()

        try bench.results.writeJSON(to: json)
        print(bench.results.markdown)
        print("\nresults: \(json)")
    }

    static func numbers(_ text: String?, _ option: String) throws -> [Int]? {
        guard let text else { return nil }
        let values = text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("\(option) takes positive whole numbers separated by commas")
        }
        return values
    }

    /// A review task's payload for the diff at `diffPath` (default: the repository's sample fixture).
    static func reviewPayload(diffPath: String?) throws -> String {
        let path = diffPath ?? "Tests/ReviewAgentsTests/Fixtures/sample-findings.diff"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("cannot read the review diff \(path) (give --diff)")
        }
        struct Payload: Encodable {
            struct Source: Encodable { var diff: String }
            var source: Source
            var repo: String
            var title: String
        }
        let data = try JSONEncoder().encode(
            Payload(source: .init(diff: text), repo: "bench/example", title: "aq-bench review")
        )
        return String(decoding: data, as: UTF8.self)
    }

    static func machine(_ database: BenchDatabase) async throws -> BenchResults.Machine {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?" }
            ?? "?"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let kilobytes =
            meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal") }
            .flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Double($0) } } ?? 0
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return .init(
            cpu: model, cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), memoryGB: kilobytes / 1_048_576,
            kernel: "Linux \(release)", postgres: try await database.serverSettings()
        )
    }
}
