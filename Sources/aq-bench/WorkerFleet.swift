import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Some `queue-worker` processes started for one run, with the settings of that run.
final class WorkerFleet: Sendable {
    let workers: [ChildProcess]

    /// Starts `count` workers with `settings` (WORKER_*, ENABLE_*, …) on top of the benchmark's worker environment.
    init(
        binary: String,
        count: Int,
        databaseURL: String,
        settings: [String: String],
        extraEnvironment: [String: String],
        logDirectory: String,
        label: String
    ) throws {
        var base = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "JOURNAL_STREAM", "WATCHDOG_USEC", "WATCHDOG_PID"] { base[key] = nil }
        for key in base.keys where key.hasPrefix("WORKER_") || key.hasPrefix("DB_") || key.hasPrefix("LLM_") {
            base[key] = nil
        }
        base["DATABASE_URL"] = databaseURL
        base["LOG_FORMAT"] = "logfmt"
        base["AGENTQUEUE_NODE_DELAYS"] = nil
        for (key, value) in extraEnvironment { base[key] = value }
        for (key, value) in settings { base[key] = value }
        var started: [ChildProcess] = []
        for index in 1...count {
            let log = "\(logDirectory)/worker-\(label)-\(index).log"
            started.append(
                try ChildProcess(
                    path: binary, arguments: ["--instance", "bench-\(index)"], environment: base, logPath: log
                )
            )
        }
        workers = started
        // scripts/bench.sh kills these if aq-bench itself dies.
        let list = started.map { "\($0.pid)\n" }.joined()
        if let handle = FileHandle(forWritingAtPath: "\(logDirectory)/worker.pids")
            ?? {
                _ = FileManager.default.createFile(atPath: "\(logDirectory)/worker.pids", contents: nil)
                return FileHandle(forWritingAtPath: "\(logDirectory)/worker.pids")
            }()
        {
            handle.seekToEndOfFile()
            handle.write(Data(list.utf8))
            try? handle.close()
        }
    }

    var pids: [pid_t] { workers.map(\.pid) }

    /// Waits until every worker has registered in the `workers` table (it does so as its services start), then a
    /// little longer so that the claim loops run.
    func waitUntilReady(database: BenchDatabase, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await database.registeredWorkers(pids: pids) < workers.count {
            for worker in workers where worker.hasExited {
                throw BenchError("a worker exited during start:\n\(worker.logTail())")
            }
            guard ContinuousClock.now < deadline else { throw BenchError("workers did not start within \(timeout)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(300))
    }

    /// /proc samples of every worker (nil entries for workers that are gone).
    func samples() -> [ProcSample?] {
        workers.map { ProcSample.read(pid: $0.pid) }
    }

    /// Stops every worker with SIGTERM (a clean drain) and waits; throws when one did not exit cleanly.
    func stop() async throws {
        for worker in workers { worker.signal(SIGTERM) }
        var failures: [String] = []
        for worker in workers {
            let (status, _) = await worker.wait(timeout: .seconds(40))
            if !ChildProcess.succeeded(status) {
                failures.append("worker \(worker.pid) ended with wait status \(status):\n\(worker.logTail())")
            }
        }
        if !failures.isEmpty { throw BenchError(failures.joined(separator: "\n")) }
    }

    /// Kills whatever still runs (after a failure).
    func kill() async {
        for worker in workers where !worker.hasExited {
            worker.signal(SIGKILL)
            await worker.wait(timeout: .seconds(5))
        }
    }
}
