import Foundation
import PostgresClient
import QueueControl
import TaskQueue
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the real `queuectl` binary against a fixture's schema.
struct CLI {
    let fixture: QueueFixture

    /// Runs `queuectl` with `DATABASE_URL` pinned to the fixture's schema.
    func run(
        _ arguments: [String],
        input: String? = nil,
        environment: [String: String] = [:],
        terminal: Bool = false,
        timeout: Duration = .seconds(120)
    ) async throws -> ProcessOutput {
        var env = ["DATABASE_URL": try fixture.url, "COLUMNS": "200", "LOG_LEVEL": "warning"]
        for (key, value) in environment { env[key] = value }
        return try await runQueuectl(arguments, environment: env, input: input, terminal: terminal, timeout: timeout)
    }

    /// Runs `queuectl` and decodes its standard output as JSON, expecting exit status 0.
    func json<T: Decodable>(_ type: T.Type, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation)
        async throws -> T
    {
        let output = try await run(arguments + ["--json"])
        #expect(output.status == 0, "\(arguments): \(output.standardError)", sourceLocation: sourceLocation)
        return try decodeJSON(T.self, output.standardOutput)
    }

    /// The number of rows a query counts.
    func count(_ query: PostgresQuery) async throws -> Int {
        try await fixture.scalar(Int.self, query)
    }

    /// How many tasks the schema holds.
    func taskCount() async throws -> Int {
        try await count("SELECT count(*) FROM tasks")
    }
}

/// What a finished `queuectl` printed.
struct ProcessOutput: Sendable {
    /// The exit status (or 128 + signal).
    let status: Int32
    let standardOutput: String
    let standardError: String
}

/// Runs queuectl in-process (``QueueCtl/run(_:)``) on a console of its own: the test's environment with `environment`
/// on top, `input` as standard input, and both output streams captured. It fails when the command runs past `timeout`.
func runQueuectl(
    _ arguments: [String],
    environment: [String: String] = [:],
    input: String? = nil,
    terminal: Bool = false,
    timeout: Duration = .seconds(120)
) async throws -> ProcessOutput {
    var env = ProcessInfo.processInfo.environment
    if terminal {
        // A terminal that takes colour, whatever the machine running the tests has set.
        env["TERM"] = "xterm-256color"
        env.removeValue(forKey: "NO_COLOR")
    }
    for (key, value) in environment { env[key] = value }
    let inputPath = NSTemporaryDirectory() + "queuectl-input-\(UUID().uuidString.prefix(8))"
    try Data((input ?? "").utf8).write(to: URL(fileURLWithPath: inputPath))
    let descriptor = open(inputPath, O_RDONLY | O_CLOEXEC)
    unlink(inputPath)
    defer { close(descriptor) }
    let capture = ConsoleCapture()
    let console = Console.capturing(into: capture, environment: env, inputDescriptor: descriptor, terminal: terminal)
    let status = try await withThrowingTaskGroup(of: Int32?.self) { group in
        group.addTask { await Console.$current.withValue(console) { await QueueCtl.run(arguments) } }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let status = first else {
            throw TestDatabaseError("queuectl \(arguments.joined(separator: " ")) ran past \(timeout)")
        }
        return status
    }
    return ProcessOutput(status: status, standardOutput: capture.standardOutput, standardError: capture.standardError)
}

/// Runs the real `queuectl` executable to completion (for what only a process shows: the entry point itself).
func runQueuectlProcess(
    _ arguments: [String],
    environment: [String: String] = [:],
    input: String? = nil,
    timeout: Duration = .seconds(120)
) async throws -> ProcessOutput {
    let output = try await TestProcesses.run(
        "queuectl", arguments, environment: environment, input: input, timeout: timeout
    )
    return ProcessOutput(
        status: output.status, standardOutput: output.standardOutput, standardError: output.standardError)
}

/// Decodes JSON text with ISO 8601 dates.
func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .iso8601
    return try decoder.decode(T.self, from: Data(text.utf8))
}

/// Checks the error conventions: a non-zero documented status, exactly one line on stderr starting with
/// `queuectl: error:` and containing `fragment`, nothing on stdout.
func expectError(
    _ output: ProcessOutput,
    status: Int32,
    containing fragment: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(output.status == status, "stderr: \(output.standardError)", sourceLocation: sourceLocation)
    let lines = output.standardError.split(separator: "\n")
    #expect(lines.count == 1, "expected one line, got: \(output.standardError)", sourceLocation: sourceLocation)
    #expect(
        lines.first?.hasPrefix("queuectl: error: ") == true, "\(output.standardError)", sourceLocation: sourceLocation)
    #expect(
        output.standardError.contains(fragment), "expected '\(fragment)' in: \(output.standardError)",
        sourceLocation: sourceLocation)
}

/// A temporary directory removed after `body`.
func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("queuectl-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url)
}

/// Runs a command line under `script`, which gives it a pseudo-terminal, and returns everything the terminal showed.
/// `keys` are typed after `delay`.
func runOnTerminal(
    _ commandLine: String,
    environment: [String: String],
    keys: String? = nil,
    delay: Duration = .zero,
    timeout: Duration = .seconds(60)
) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
    process.arguments = ["-qefc", commandLine, "/dev/null"]
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let stdout = Pipe()
    let stdin = Pipe()
    process.standardOutput = stdout
    process.standardError = stdout
    process.standardInput = stdin
    try process.run()
    async let output = TestProcesses.readToEnd(stdout.fileHandleForReading)
    if let keys {
        try await Task.sleep(for: delay)
        stdin.fileHandleForWriting.write(Data(keys.utf8))
    }
    let deadline = ContinuousClock.now + timeout
    while process.isRunning {
        if ContinuousClock.now > deadline {
            process.terminate()
            throw TestDatabaseError("\(commandLine) ran past \(timeout)")
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    try? stdin.fileHandleForWriting.close()
    return (process.terminationStatus, String(decoding: await output, as: UTF8.self))
}

/// Shell quoting for `script -c`.
func shellQuote(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// The continuous percentile PostgreSQL's `percentile_cont` computes: linear interpolation between the two
/// nearest ranks.
func percentileCont(_ values: [Double], _ fraction: Double) -> Double {
    let sorted = values.sorted()
    let position = fraction * Double(sorted.count - 1)
    let lower = Int(position.rounded(.down))
    let upper = Int(position.rounded(.up))
    return sorted[lower] + (position - Double(lower)) * (sorted[upper] - sorted[lower])
}
