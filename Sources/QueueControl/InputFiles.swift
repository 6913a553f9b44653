import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

/// Reading whole input files (or standard input for `-`) with a size limit, and running short helper processes.
enum InputFile {
    /// Reads `path` (`-` is standard input). Refuses more than `limit` bytes with `tooLarge(size)` as the message.
    static func read(
        _ path: String,
        what: String,
        limit: Int,
        tooLarge: (Int) -> String
    ) throws(CLIFailure) -> [UInt8] {
        let standardInput = Console.current.inputDescriptor
        let descriptor: Int32 = path == "-" ? standardInput : open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            throw CLIFailure("cannot read \(what) '\(path)': \(reason) (check the path)", exitCode: CLIExit.usage)
        }
        defer { if descriptor != standardInput { close(descriptor) } }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                throw CLIFailure("cannot read \(what) '\(path)': \(reason)", exitCode: CLIExit.usage)
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
            if result.count > limit { throw CLIFailure(tooLarge(result.count), exitCode: CLIExit.usage) }
        }
        return result
    }

    /// Bytes as megabytes with one decimal, for messages.
    static func megabytes(_ bytes: Int) -> String {
        format1(Double(bytes) / 1_048_576) + " MB"
    }
}

/// The outcome of a helper process.
struct ProcessOutput: Sendable {
    let status: Int32
    let standardOutput: String
    let standardError: String

    /// The first line of standard error, trimmed (git's `fatal: …` line), for messages.
    var errorLine: String {
        standardError.split(whereSeparator: \.isNewline).first.map(String.init) ?? "exit status \(status)"
    }
}

/// Runs a program found on `PATH` with arguments (no shell), standard input from /dev/null, and captures its
/// output. Runs on a dispatch thread: it blocks while the program runs.
func runProgram(_ program: String, _ arguments: [String]) async throws(CLIFailure) -> ProcessOutput {
    let result: Result<ProcessOutput, CLIFailure> = await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(
                returning: Result { () throws(CLIFailure) in try runProgramBlocking(program, arguments) })
        }
    }
    return try result.get()
}

private func runProgramBlocking(_ program: String, _ arguments: [String]) throws(CLIFailure) -> ProcessOutput {
    var outputPipe: [Int32] = [-1, -1]
    var errorPipe: [Int32] = [-1, -1]
    guard pipe(&outputPipe) == 0 else { throw CLIFailure("cannot create a pipe to run \(program)") }
    guard pipe(&errorPipe) == 0 else {
        close(outputPipe[0])
        close(outputPipe[1])
        throw CLIFailure("cannot create a pipe to run \(program)")
    }
    // The child gets its copies through dup2 below; the originals must not leak into it.
    for descriptor in outputPipe + errorPipe { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, errorPipe[1], 2)
    let argv: [UnsafeMutablePointer<CChar>?] = ([program] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let spawned = argv.withUnsafeBufferPointer { buffer in
        posix_spawnp(&pid, program, &actions, nil, UnsafeMutablePointer(mutating: buffer.baseAddress!), environ)
    }
    close(outputPipe[1])
    close(errorPipe[1])
    guard spawned == 0 else {
        close(outputPipe[0])
        close(errorPipe[0])
        let reason = String(cString: strerror(spawned))
        throw CLIFailure("cannot run \(program): \(reason) (is \(program) installed and on PATH?)")
    }
    var output: [UInt8] = []
    var errors: [UInt8] = []
    var open = [outputPipe[0], errorPipe[0]]
    var chunk = [UInt8](repeating: 0, count: 1 << 14)
    while !open.isEmpty {
        var descriptors = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let ready = poll(&descriptors, nfds_t(descriptors.count), -1)
        if ready < 0 {
            if errno == EINTR { continue }
            break
        }
        for descriptor in descriptors where descriptor.revents != 0 {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor.fd, $0.baseAddress, $0.count) }
            if count > 0 {
                if descriptor.fd == outputPipe[0] {
                    output.append(contentsOf: chunk[0..<count])
                } else {
                    errors.append(contentsOf: chunk[0..<count])
                }
            } else if count == 0 || errno != EINTR {
                close(descriptor.fd)
                open.removeAll { $0 == descriptor.fd }
            }
        }
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0, errno == EINTR {}
    let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return ProcessOutput(
        status: exitStatus,
        standardOutput: String(decoding: output, as: UTF8.self),
        standardError: String(decoding: errors, as: UTF8.self)
    )
}
