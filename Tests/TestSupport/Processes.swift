public import Foundation

/// Runs AgentQueue's executables as real child processes in tests.
public enum TestProcesses {
    /// The directory holding the built executables: `AGENTQUEUE_BIN_DIR` (set by scripts/test.sh), else the
    /// debug build folder next to the package.
    public static var binDirectory: URL {
        if let value = ProcessInfo.processInfo.environment["AGENTQUEUE_BIN_DIR"], !value.isEmpty {
            return URL(fileURLWithPath: value)
        }
        var directory = URL(fileURLWithPath: #filePath)
        while directory.path != "/" {
            directory.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory.appendingPathComponent(".build/debug")
            }
        }
        return URL(fileURLWithPath: ".build/debug")
    }

    /// The path of a built executable (an absolute path is taken as it is: `/usr/bin/openssl`).
    public static func executable(_ name: String) -> String {
        name.hasPrefix("/") ? name : binDirectory.appendingPathComponent(name).path
    }

    /// The outcome of a finished process.
    public struct Output: Sendable {
        /// The exit status (or 128 + signal).
        public let status: Int32
        /// Everything written to standard output.
        public let standardOutput: String
        /// Everything written to standard error.
        public let standardError: String
    }

    /// Runs an executable to completion and captures its output.
    public static func run(
        _ name: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        input: String? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable(name))
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let stdout = Pipe()
        let stderr = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        try process.run()
        let writer = stdin.fileHandleForWriting
        DispatchQueue.global().async {
            if let input { try? writer.write(contentsOf: Data(input.utf8)) }
            try? writer.close()
        }
        // Blocking reads run on dispatch threads: Swift's cooperative pool has as few threads as cores.
        async let out = readToEnd(stdout.fileHandleForReading)
        async let err = readToEnd(stderr.fileHandleForReading)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                throw ProcessTimeout(description: "\(name) \(arguments.joined(separator: " ")) ran past \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let status =
            process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return Output(
            status: status,
            standardOutput: String(decoding: await out, as: UTF8.self),
            standardError: String(decoding: await err, as: UTF8.self)
        )
    }

    /// Reads a pipe to its end on a dispatch thread (never on the cooperative pool).
    public static func readToEnd(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: handle.readDataToEndOfFile()) }
        }
    }

    /// A process that ran past its timeout.
    public struct ProcessTimeout: Error, CustomStringConvertible {
        public let description: String
    }
}

/// A long-running child process (a worker) that a test starts, signals and waits for.
public final class RunningProcess: @unchecked Sendable {
    // @unchecked Sendable: Foundation's Process is thread-safe for the calls used here (pid, signals, state).
    private let process: Process
    /// Where its standard error goes.
    public let logPath: String

    /// Starts an executable with extra environment; stdout and stderr go to a log file.
    public init(_ name: String, _ arguments: [String], environment: [String: String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: TestProcesses.executable(name))
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NOTIFY_SOCKET")
        env.removeValue(forKey: "JOURNAL_STREAM")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        logPath =
            NSTemporaryDirectory()
            + "aq-\(URL(fileURLWithPath: name).lastPathComponent)-\(UUID().uuidString.prefix(8)).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// Whether it is still running.
    public var isRunning: Bool { process.isRunning }

    /// Sends a signal.
    public func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for it to exit; returns the exit status (128 + signal when killed), or nil on timeout.
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationReason == .uncaughtSignal
            ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// Everything it wrote so far.
    public var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// Kills it if it still runs (for cleanup).
    public func stop() async {
        if process.isRunning {
            send(SIGKILL)
            await waitForExit(timeout: .seconds(5))
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(
    timeout: Duration = .seconds(30),
    every interval: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

/// A Python stand-in for an HTTP API (the fake GitHub and chat-completions servers of the tests).
///
/// The script prints the port it listens on as its first line. The server is killed with SIGKILL when `body`
/// returns (its stderr goes to /dev/null), so a leftover can never hold `swift test` up: children inherit an
/// ignored SIGTERM from the test process.
public func withPythonServer<T>(
    script: String,
    arguments: [String],
    _ body: (_ port: Int) async throws -> T
) async throws -> T {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script] + arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    defer { kill(process.processIdentifier, SIGKILL) }
    let handle = output.fileHandleForReading
    let line = await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
        DispatchQueue.global().async {
            var text = ""
            while let byte = try? handle.read(upToCount: 1), let character = byte.first, character != 10 {
                text.append(Character(UnicodeScalar(character)))
            }
            continuation.resume(returning: text)
        }
    }
    guard let port = Int(line) else {
        throw TestDatabaseError("\(URL(fileURLWithPath: script).lastPathComponent) did not start (printed '\(line)')")
    }
    return try await body(port)
}
