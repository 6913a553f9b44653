import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with `posix_spawn`, its standard output and error appended to a log file.
///
final class ChildProcess: Sendable {
    /// The process id.
    let pid: pid_t
    /// Where its standard output and error go.
    let logPath: String
    private let exit = Mutex<(status: Int32, usage: rusage)?>(nil)

    /// Starts `path` with `arguments` and exactly `environment`.
    init(path: String, arguments: [String], environment: [String: String], logPath: String) throws {
        self.logPath = logPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        // The calling thread may be one of Dispatch's, which block most signals: start the child with none blocked
        // and default dispositions (pgbench -T relies on SIGALRM, the worker on SIGTERM).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child: pid_t = 0
        let status = posix_spawn(&child, path, &actions, &attributes, argv, envp)
        guard status == 0 else {
            throw BenchError("cannot start \(path): \(String(cString: strerror(status)))")
        }
        pid = child
    }

    /// Whether the process has exited (reaping it when it has).
    var hasExited: Bool {
        exit.withLock { exit in
            if exit != nil { return true }
            var status: Int32 = 0
            var usage = rusage()
            if wait4(pid, &status, WNOHANG, &usage) == pid {
                exit = (status, usage)
                return true
            }
            return false
        }
    }

    /// Sends a signal.
    func signal(_ number: Int32) {
        if !hasExited { kill(pid, number) }
    }

    /// Waits for the process to exit; after `timeout`, kills it. Returns the wait status and resource usage.
    @discardableResult
    func wait(timeout: Duration = .seconds(30)) async -> (status: Int32, usage: rusage) {
        let deadline = ContinuousClock.now + timeout
        while !hasExited {
            if ContinuousClock.now > deadline { kill(pid, SIGKILL) }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return exit.withLock { $0! }
    }

    /// Whether a wait status is a normal exit with status 0.
    static func succeeded(_ status: Int32) -> Bool {
        (status & 0x7f) == 0 && ((status >> 8) & 0xff) == 0
    }

    /// The last lines of the log, for error messages.
    func logTail(lines: Int = 15) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    deinit {
        if !hasExited { kill(pid, SIGKILL) }
    }
}

/// What /proc says about a process: resident memory and CPU time.
struct ProcSample: Sendable {
    /// Resident set size, bytes.
    var rss: Int
    /// Anonymous resident memory (heap, stacks), bytes.
    var rssAnon: Int
    /// File-backed resident memory (the binary and shared libraries), bytes.
    var rssFile: Int
    /// User + system CPU seconds of the process itself.
    var cpuSeconds: Double
    /// User + system CPU seconds of its children that it has waited for.
    var childrenCPUSeconds: Double
    /// Threads.
    var threads: Int

    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// Reads /proc/PID/status and /proc/PID/stat; nil when the process is gone.
    static func read(pid: pid_t) -> ProcSample? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        else { return nil }
        var fields: [String: Int] = [:]
        for line in status.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let value = parts[1].split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) }
            fields[String(parts[0])] = value
        }
        // The command name (field 2) may contain spaces: the fields that follow start after its closing ')'.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        // rest[0] is field 3 (state); utime, stime, cutime, cstime are fields 14-17.
        guard rest.count > 15, let utime = Double(rest[11]), let stime = Double(rest[12]),
            let cutime = Double(rest[13]), let cstime = Double(rest[14])
        else { return nil }
        return ProcSample(
            rss: (fields["VmRSS"] ?? 0) * 1024,
            rssAnon: (fields["RssAnon"] ?? 0) * 1024,
            rssFile: ((fields["RssFile"] ?? 0) + (fields["RssShmem"] ?? 0)) * 1024,
            cpuSeconds: (utime + stime) / ticksPerSecond,
            childrenCPUSeconds: (cutime + cstime) / ticksPerSecond,
            threads: fields["Threads"] ?? 0
        )
    }

    /// The parent pid of a process.
    static func parent(of pid: pid_t) -> pid_t? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        return rest.count > 1 ? pid_t(rest[1]) : nil
    }

    /// CPU seconds of a PostgreSQL server: the postmaster, its live children, and the children that exited
    /// (which the postmaster waited for). Nil when the server does not run on this host.
    static func serverCPUSeconds(postmaster: pid_t) -> Double? {
        guard let own = read(pid: postmaster) else { return nil }
        var total = own.cpuSeconds + own.childrenCPUSeconds
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = pid_t(entry), pid != postmaster, parent(of: pid) == postmaster,
                let child = read(pid: pid)
            else { continue }
            total += child.cpuSeconds
        }
        return total
    }
}

/// Samples the resident memory of some processes every 100 ms and keeps the largest value seen per process.
final class PeakMemorySampler: Sendable {
    private let peaks: Mutex<[pid_t: Int]>
    private let task: Mutex<Task<Void, Never>?>

    init(pids: [pid_t]) {
        peaks = Mutex(Dictionary(uniqueKeysWithValues: pids.map { ($0, 0) }))
        task = Mutex(nil)
        let sampler = Task { [self] in
            while !Task.isCancelled {
                for pid in pids {
                    if let sample = ProcSample.read(pid: pid) {
                        peaks.withLock { $0[pid] = max($0[pid] ?? 0, sample.rss) }
                    }
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        task.withLock { $0 = sampler }
    }

    /// Stops sampling and returns the peak per process.
    func stop() -> [pid_t: Int] {
        task.withLock { $0 }?.cancel()
        return peaks.withLock { $0 }
    }
}

/// A failure of the benchmark itself (not a slow result: timings are reported, never judged).
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
