public import ReviewAgents

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A range of commits in a local git repository, as the worker receives it in a `{git: {path, base, head}}`
/// payload and `queuectl review --git` takes it on the command line.
public struct GitRange: Sendable, Hashable, Codable {
    /// The repository's working tree or `.git` directory.
    public var path: String
    /// The base revision (branch, tag or commit).
    public var base: String
    /// The head revision.
    public var head: String

    /// Creates a range.
    public init(path: String, base: String, head: String) {
        self.path = path
        self.base = base
        self.head = head
    }
}

/// Why git could not produce a diff. The description is one safe line.
public struct GitDiffError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The kind of failure; compare with the static members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidRevision = "invalid_revision", launchFailed = "launch_failed", gitFailed = "git_failed",
                outputTooLarge = "output_too_large"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// A revision is empty, starts with `-` or holds control characters.
        public static let invalidRevision = Code(.invalidRevision)
        /// git could not be started.
        public static let launchFailed = Code(.launchFailed)
        /// git exited with a failure status (unknown revision, not a repository…).
        public static let gitFailed = Code(.gitFailed)
        /// The diff is larger than ``DiffLimits/maxBytes``.
        public static let outputTooLarge = Code(.outputTooLarge)
        /// A stable snake_case name.
        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// A one-line explanation (for git failures, the first line git wrote to stderr).
    public let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// `git diff failed: reason`.
    public var description: String { "git diff failed: \(reason)" }
    /// The description with the code.
    public var debugDescription: String { "GitDiffError(\(code)): \(reason)" }
}

/// Runs `git diff` for a ``GitRange``.
public enum GitDiff {
    /// The unified diff of `range` as bytes: `git diff base...head`, i.e. the changes on head since the merge base
    /// (what a pull request shows); when the revisions share no history, `git diff base head`.
    /// Blocks while git runs: call it from a thread you own, or use ``diff(_:limits:)`` from async code.
    public static func diffBytes(_ range: GitRange, limits: DiffLimits = .default) throws(GitDiffError) -> [UInt8] {
        for revision in [range.base, range.head] {
            guard !revision.isEmpty, revision.utf8.count <= 256, !revision.hasPrefix("-"),
                revision.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F })
            else {
                throw GitDiffError(.invalidRevision, "revision '\(revision.prefix(64))' is not a valid revision name")
            }
        }
        let arguments = [
            "git", "-C", range.path, "-c", "core.quotePath=true", "-c", "diff.noprefix=false",
            "-c", "diff.mnemonicPrefix=false", "-c", "color.ui=never",
            "diff", "--no-color", "--no-ext-diff", "--no-textconv", "--find-renames", "--src-prefix=a/",
            "--dst-prefix=b/", "--end-of-options", "\(range.base)...\(range.head)", "--",
        ]
        var result = try ProcessRunner.run(arguments, outputLimit: limits.maxBytes)
        if result.status != 0 && result.standardError.contains("no merge base") {
            // In a shallow clone the merge base may simply not have been fetched: comparing the two trees would
            // show every change made on the base since as if the head had undone it. Say what to fetch instead.
            let shallow = try ProcessRunner.run(
                ["git", "-C", range.path, "rev-parse", "--is-shallow-repository"], outputLimit: 64)
            if shallow.status == 0, String(decoding: shallow.standardOutput, as: UTF8.self).hasPrefix("true") {
                throw GitDiffError(
                    .gitFailed,
                    "\(range.base) and \(range.head) have no merge base in this shallow clone: fetch more history "
                        + "(git fetch --deepen=100, or --unshallow) so that git finds where the head branched off")
            }
            // Unrelated histories (or tags cut from different branches): compare the two trees directly.
            var direct = arguments
            direct.removeLast(2)
            direct += [range.base, range.head, "--"]
            result = try ProcessRunner.run(direct, outputLimit: limits.maxBytes)
        }
        guard result.status == 0 else {
            let firstLine =
                result.standardError.split(separator: "\n").first.map(String.init) ?? "exit status \(result.status)"
            throw GitDiffError(.gitFailed, firstLine)
        }
        return result.standardOutput
    }

    /// Fetches and parses the diff of `range` without blocking the caller's executor (git runs on its own thread).
    public static func diff(_ range: GitRange, limits: DiffLimits = .default, rejectingEmpty: Bool = false)
        async throws -> ParsedDiff
    {
        let bytes = try await runOnDedicatedThread { () throws(GitDiffError) -> [UInt8] in
            try diffBytes(range, limits: limits)
        }.get()
        return try DiffParser.parse(bytes: bytes, limits: limits, rejectingEmpty: rejectingEmpty)
    }

    /// The text of `.agentqueue.yml` at `range.head`, or nil when the file does not exist there.
    public static func configurationText(_ range: GitRange) throws(GitDiffError) -> String? {
        guard !range.head.hasPrefix("-"), !range.head.isEmpty else {
            throw GitDiffError(.invalidRevision, "revision '\(range.head.prefix(64))' is not a valid revision name")
        }
        let result = try ProcessRunner.run(
            ["git", "-C", range.path, "show", "--no-textconv", "\(range.head):\(RepositoryConfiguration.fileName)"],
            outputLimit: 1 << 20)
        guard result.status == 0 else { return nil }
        return String(decoding: result.standardOutput, as: UTF8.self)
    }

    private final class Job: @unchecked Sendable {
        // @unchecked: `work` is set once before the thread starts and only read by that thread.
        let work: () -> Void
        init(_ work: @escaping () -> Void) { self.work = work }
    }

    static func runOnDedicatedThread<T: Sendable>(
        _ body: @escaping @Sendable () throws(GitDiffError) -> T
    ) async -> Result<T, GitDiffError> {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, GitDiffError>, Never>) in
            let job = Job {
                let result: Result<T, GitDiffError>
                do throws(GitDiffError) {
                    result = .success(try body())
                } catch {
                    result = .failure(error)
                }
                continuation.resume(returning: result)
            }
            let unmanaged = Unmanaged.passRetained(job)
            #if canImport(Darwin)
                var thread: pthread_t?
            #else
                var thread = pthread_t()
            #endif
            let status = pthread_create(
                &thread, nil,
                { argument in
                    guard let argument else { return nil }
                    Unmanaged<Job>.fromOpaque(argument).takeRetainedValue().work()
                    return nil
                }, unmanaged.toOpaque())
            if status == 0 {
                #if canImport(Darwin)
                    if let thread { pthread_detach(thread) }
                #else
                    pthread_detach(thread)
                #endif
            } else {
                unmanaged.takeRetainedValue().work()
            }
        }
    }
}

/// Spawns a program with posix_spawn and collects its output; no shell is involved.
enum ProcessRunner {
    struct Output {
        let status: Int32
        let standardOutput: [UInt8]
        let standardError: String
    }

    static func run(_ arguments: [String], outputLimit: Int) throws(GitDiffError) -> Output {
        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        guard pipe(&stdoutPipe) == 0 else { throw GitDiffError(.launchFailed, "pipe() failed") }
        guard pipe(&stderrPipe) == 0 else {
            close(stdoutPipe[0])
            close(stdoutPipe[1])
            throw GitDiffError(.launchFailed, "pipe() failed")
        }
        #if canImport(Darwin)
            var actions: posix_spawn_file_actions_t?
        #else
            var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        for fd in stdoutPipe + stderrPipe { posix_spawn_file_actions_addclose(&actions, fd) }

        var environment: [String] = []
        var index = 0
        while let entry = environ[index] {
            let text = String(cString: entry)
            if !text.hasPrefix("GIT_TERMINAL_PROMPT=") && !text.hasPrefix("GIT_PAGER=") && !text.hasPrefix("LC_ALL=")
                && !text.hasPrefix("GIT_EXTERNAL_DIFF=")
            {
                environment.append(text)
            }
            index += 1
        }
        environment += ["GIT_TERMINAL_PROMPT=0", "GIT_PAGER=cat", "LC_ALL=C"]

        var pid: pid_t = 0
        let spawnStatus = withCStrings(arguments) { argv in
            withCStrings(environment) { envp in
                posix_spawnp(&pid, arguments[0], &actions, nil, argv, envp)
            }
        }
        close(stdoutPipe[1])
        close(stderrPipe[1])
        defer {
            close(stdoutPipe[0])
            close(stderrPipe[0])
        }
        guard spawnStatus == 0 else {
            throw GitDiffError(.launchFailed, "could not start \(arguments[0]) (errno \(spawnStatus))")
        }

        var output: [UInt8] = []
        var errors: [UInt8] = []
        var openDescriptors = [stdoutPipe[0], stderrPipe[0]]
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var tooLarge = false
        while !openDescriptors.isEmpty && !tooLarge {
            var fds = openDescriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for entry in fds where entry.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    if entry.fd == stdoutPipe[0] {
                        output.append(contentsOf: buffer[0..<count])
                        if output.count > outputLimit { tooLarge = true }
                    } else if errors.count < 64 * 1024 {
                        errors.append(contentsOf: buffer[0..<count])
                    }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    openDescriptors.removeAll { $0 == entry.fd }
                }
            }
        }
        if tooLarge { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if tooLarge {
            throw GitDiffError(.outputTooLarge, "the diff is larger than \(outputLimit) bytes")
        }
        let exitStatus: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return Output(
            status: exitStatus, standardOutput: output, standardError: String(decoding: errors, as: UTF8.self))
    }

    /// Calls `body` with a NULL-terminated array of C strings that stay valid for the whole call.
    static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
