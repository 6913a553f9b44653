import ArgumentParser
import DiffSources
import ReviewAgents

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `queuectl review`: runs the four review agents on a diff in-process, without a database.
struct ReviewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Review a diff with the security, scale, quality and architecture agents (no database needed).",
        discussion: """
            Input is a unified diff (--diff FILE, or --diff - for standard input) or a range of a local git \
            repository (--git PATH --base REV --head REV, compared from their merge base like a pull request).

            Configuration comes from --config FILE; otherwise from .agentqueue.yml at the head revision (--git) \
            or in the current directory (--diff), when present.

            Exit status:
              0   nothing at or above --fail-on (always 0 without it)
              1   unusable input: unreadable file, invalid diff or
                  configuration, git failure
              2   missing, conflicting or invalid options
              10  a finding at or above the --fail-on severity
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case markdown, json, sarif
    }

    enum Threshold: String, ExpressibleByArgument, CaseIterable {
        case critical, high, medium, low

        var severity: Severity {
            switch self {
            case .critical: .critical
            case .high: .high
            case .medium: .medium
            case .low: .low
            }
        }
    }

    /// The exit status when a finding reaches the --fail-on severity.
    static let findingsExitCode: Int32 = 10
    /// The exit status of an invalid combination of options.
    static let usageExitCode: Int32 = 2

    @Option(
        name: .customLong("diff"),
        help: ArgumentHelp("Unified diff to review; - reads standard input.", valueName: "file|-"))
    var diffPath: String?

    @Option(help: ArgumentHelp("Local git repository to take the change from.", valueName: "path"))
    var git: String?

    @Option(help: ArgumentHelp("Base revision of the range (with --git).", valueName: "rev"))
    var base: String?

    @Option(help: ArgumentHelp("Head revision of the range (with --git).", valueName: "rev"))
    var head: String?

    @Option(help: "Output format.")
    var format: Format = .markdown

    @Option(help: ArgumentHelp("Repository configuration (.agentqueue.yml format).", valueName: "file"))
    var config: String?

    @Option(name: .customLong("fail-on"), help: "Exit with status 10 when a finding is at least this severe.")
    var failOn: Threshold?

    /// The problem with the combination of options, if any. Checked in `run()` rather than `validate()` so
    /// the message is printed once and the exit status is the suite's usage status, 2.
    var optionProblem: String? {
        switch (diffPath, git) {
        case (nil, nil):
            "give the change to review: --diff FILE|- or --git PATH --base REV --head REV"
        case (.some, .some):
            "use either --diff or --git, not both"
        case (.some, nil):
            base != nil || head != nil ? "--base and --head go with --git, not --diff" : nil
        case (nil, .some):
            base == nil || head == nil ? "--git needs both --base and --head" : nil
        }
    }

    private func usageError(_ message: String) -> ExitCode {
        Self.write("queuectl review: error: \(message)\n\(Self.usageString())\n", to: 2)
        return ExitCode(Self.usageExitCode)
    }

    func run() async throws {
        if let problem = optionProblem { throw usageError(problem) }
        let report: ReviewReport
        do {
            let diff: ParsedDiff
            let configurationText: (text: String, source: String)?
            if let git, let base, let head {
                let range = GitRange(path: git, base: base, head: head)
                diff = try await GitDiff.diff(range, rejectingEmpty: true)
                if let config {
                    configurationText = (try Self.readText(config), config)
                } else {
                    configurationText = try GitDiff.configurationText(range).map { ($0, "\(head):.agentqueue.yml") }
                }
            } else {
                let bytes = try Self.readBytes(diffPath ?? "-", limit: DiffLimits.default.maxBytes)
                // An empty diff is an error, not an approval: a CI pipe whose `git diff` failed must not pass.
                diff = try DiffParser.parse(bytes: bytes, rejectingEmpty: true)
                if let config {
                    configurationText = (try Self.readText(config), config)
                } else if let local = try? Self.readText(RepositoryConfiguration.fileName) {
                    configurationText = (local, RepositoryConfiguration.fileName)
                } else {
                    configurationText = nil
                }
            }
            let configuration =
                try configurationText.map {
                    try RepositoryConfiguration.parse(yaml: $0.text, source: $0.source)
                } ?? .default
            let findings = try await ReviewAgents.reviewAll(ReviewInput(diff: diff, configuration: configuration))
            report = ReviewReport(diff: diff, findings: findings)
        } catch let error as DiffParseError {
            throw Self.fail(error.description)
        } catch let error as GitDiffError {
            throw Self.fail(error.description)
        } catch let error as ConfigurationError {
            throw Self.fail(error.description)
        } catch let error as InputError {
            throw Self.fail(error.message)
        }

        var output = try format.reportFormat.render(report)
        if !output.hasSuffix("\n") { output += "\n" }
        Self.write(output, to: 1)
        if let failOn, report.findings.contains(where: { $0.severity <= failOn.severity }) {
            throw ExitCode(Self.findingsExitCode)
        }
    }

    // MARK: Input and output (through the console)

    struct InputError: Error {
        let message: String
    }

    /// Reports unusable input and gives the exit status to throw.
    static func fail(_ message: String) -> ExitCode {
        write("queuectl review: error: \(message)\n", to: 2)
        return ExitCode(1)
    }

    static func write(_ text: String, to descriptor: Int32) {
        if descriptor == 2 { writeStandardError(text) } else { print(text, terminator: "") }
    }

    static func readText(_ path: String) throws(InputError) -> String {
        String(decoding: try readBytes(path, limit: 1 << 20), as: UTF8.self)
    }

    /// Reads a whole file (or standard input for "-"), refusing more than `limit` bytes.
    static func readBytes(_ path: String, limit: Int) throws(InputError) -> [UInt8] {
        let standardInput = Console.current.inputDescriptor
        let descriptor: Int32 = path == "-" ? standardInput : open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw InputError(message: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { if descriptor != standardInput { close(descriptor) } }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw InputError(message: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
            if result.count > limit {
                throw InputError(message: "\(path) is larger than the limit of \(limit) bytes")
            }
        }
        return result
    }
}

extension ReviewCommand.Format {
    var reportFormat: ReportFormat {
        switch self {
        case .markdown: .markdown
        case .json: .json
        case .sarif: .sarif
        }
    }
}
