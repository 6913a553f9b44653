import Foundation
import Logging
public import PostgresClient
import TaskQueue

#if canImport(Glibc)
    import Glibc
#endif

/// A PostgreSQL server of a test's own, on a free port of 127.0.0.1, that the test may stop and start again (to
/// take the database away from a worker). The same steps as `pg_start` in scripts/lib/postgres.sh: as root the
/// server runs as the `postgres` user, because PostgreSQL refuses to run as root.
///
/// Use ``with(_:)``: it removes the server also when the test fails.
public final class PostgresServer: Sendable {
    /// The port, chosen before the server first starts, so a worker can be pointed at it in advance.
    public let port: Int
    /// The data, socket and log directory.
    public let directory: String
    private let binDirectory: String

    /// A URL for the server's `postgres` database. The password is ignored (trust authentication) and lets tests
    /// check that it is masked.
    public func url(password: String? = nil) -> String {
        "postgresql://postgres\(password.map { ":" + $0 } ?? "")@127.0.0.1:\(port)/postgres"
    }

    /// Creates a server (initdb) on a free port, runs `body`, and always stops and removes it.
    public static func with<T>(_ body: (PostgresServer) async throws -> T) async throws -> T {
        let server = try await PostgresServer()
        do {
            let value = try await body(server)
            await server.remove()
            return value
        } catch {
            await server.remove()
            throw error
        }
    }

    private init() async throws {
        binDirectory = try Self.findBinDirectory()
        var template = Array("/tmp/aq-pgserver.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestDatabaseError("mkdtemp failed: \(errno)") }
        directory = String(cString: made)
        chmod(directory, 0o755)
        port = try Self.freePort()
        if geteuid() == 0 { try await Self.run("/bin/chown", ["postgres:postgres", directory]) }
        try await runAsOwner(
            "initdb", ["-D", directory + "/data", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
    }

    /// Starts the server (again) on its port and waits until it accepts connections.
    public func start() async throws {
        let options = "-c listen_addresses=127.0.0.1 -p \(port) -k \(directory) -c fsync=off -c synchronous_commit=off"
        try await runAsOwner(
            "pg_ctl",
            ["-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60", "-o", options, "start"]
        )
    }

    /// Stops the server: `fast` disconnects clients cleanly, `immediate` like a crash.
    public func stop(mode: String = "fast") async throws {
        try await runAsOwner("pg_ctl", ["-D", directory + "/data", "-m", mode, "-w", "-t", "60", "stop"])
    }

    /// Freezes the server (SIGSTOP to the postmaster and all its processes), as a hung database host would look:
    /// connections stay open and connecting still reaches the kernel, but nothing answers. ``resume()`` undoes it.
    ///
    /// The postmaster is stopped first, and only once it is stopped are its children looked for: a backend it forks
    /// between a scan and the signals would otherwise keep answering (a busy machine widens that window).
    public func suspend() throws {
        let postmaster = try postmasterPID()
        kill(postmaster, SIGSTOP)
        let deadline = ContinuousClock.now + .seconds(10)
        while processState(postmaster) != "T", ContinuousClock.now < deadline { usleep(1000) }
        for pid in try serverProcesses() { kill(pid, SIGSTOP) }
    }

    /// The state letter of /proc/PID/stat (`T` when stopped), or nil.
    private func processState(_ pid: pid_t) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let afterName = stat.lastIndex(of: ")")
        else { return nil }
        return stat[stat.index(after: afterName)...].split(separator: " ").first?.first
    }

    private func postmasterPID() throws -> pid_t {
        let pidFile = try String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8)
        guard let postmaster = pidFile.split(separator: "\n").first.flatMap({ pid_t($0) }) else {
            throw TestDatabaseError("no postmaster PID in \(directory)/data/postmaster.pid")
        }
        return postmaster
    }

    /// Lets a suspended server run again (SIGCONT).
    public func resume() throws {
        for pid in try serverProcesses() { kill(pid, SIGCONT) }
    }

    /// The postmaster (first line of `postmaster.pid`) and its children.
    private func serverProcesses() throws -> [pid_t] {
        let postmaster = try postmasterPID()
        var processes = [postmaster]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let afterName = stat.lastIndex(of: ")")
            else { continue }
            // /proc/PID/stat: "pid (name) state ppid …"; the name may hold spaces, so count after its ")".
            let fields = stat[stat.index(after: afterName)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == postmaster { processes.append(pid) }
        }
        return processes
    }

    /// Applies AgentQueue's migrations to the `postgres` database.
    public func migrate() async throws {
        let configuration = try PostgresConfiguration(connectionString: url(), applicationName: "agentqueue-tests")
        let connection = try await PostgresConnection.connect(configuration: configuration, logger: TestDatabase.logger)
        try await Migrator(logger: TestDatabase.logger).migrate(on: connection)
        await connection.close()
    }

    /// A pool on the server, for the test's own queries.
    public func pool(size: Int = 2) throws -> PostgresConnectionPool {
        PostgresConnectionPool(
            connection: try PostgresConfiguration(connectionString: url(), applicationName: "agentqueue-tests"),
            pool: .init(maximumConnections: size),
            logger: TestDatabase.logger
        )
    }

    private func remove() async {
        try? resume()  // a suspended server would never see the stop signal
        _ = try? await runAsOwner("pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "-t", "60", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func runAsOwner(_ tool: String, _ arguments: [String]) async throws {
        let path = binDirectory + "/" + tool
        if geteuid() == 0 {
            try await Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments)
        } else {
            try await Self.run(path, arguments)
        }
    }

    /// Runs a program to completion; throws with its output when it fails.
    ///
    /// Not with Foundation's `Process`: it tells that a child ended by a socket the child inherits, and the server
    /// that `pg_ctl start` leaves running would inherit it too. Here the program gets only standard input (null)
    /// and output (a log file); every other descriptor is closed in the child.
    private static func run(_ path: String, _ arguments: [String]) async throws {
        let logPath = NSTemporaryDirectory() + "aq-pgserver-\(UUID().uuidString.prefix(8)).log"
        defer { unlink(logPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        guard let closeFrom = Self.addCloseFrom else { throw TestDatabaseError("glibc 2.34 or newer is needed") }
        _ = closeFrom(&actions, 3)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard spawned == 0 else { throw TestDatabaseError("cannot run \(path): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        let deadline = ContinuousClock.now + .seconds(120)
        while waitpid(pid, &status, WNOHANG) == 0 {
            guard ContinuousClock.now < deadline else {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                throw TestDatabaseError("\(path) \(arguments.joined(separator: " ")) ran past 120 s")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        // Exited normally with status 0: the low 7 bits (signal) and the exit code byte are zero.
        guard status == 0 else {
            let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            throw TestDatabaseError(
                "\(path) \(arguments.joined(separator: " ")) failed (wait status \(status)): \(output)")
        }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which its Swift module does not import.
    private static let addCloseFrom:
        (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
            guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
            return unsafeBitCast(
                symbol,
                to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self
            )
        }()

    /// The newest installed PostgreSQL's server binaries (Debian's layout), like `pg_bindir` in the scripts.
    private static func findBinDirectory() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted()
        guard let newest = versions.last, FileManager.default.isExecutableFile(atPath: "\(root)/\(newest)/bin/initdb")
        else {
            throw TestDatabaseError("PostgreSQL server binaries not found under \(root) (apt-get install postgresql)")
        }
        return "\(root)/\(newest)/bin"
    }

    /// A TCP port of 127.0.0.1 that is free now: the kernel picks it for a socket bound to port 0.
    private static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestDatabaseError("socket failed: \(errno)") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw TestDatabaseError("could not find a free port: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
