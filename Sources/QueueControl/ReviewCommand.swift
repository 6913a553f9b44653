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
            repository (--git PATH --base REV --head REV, compared from their merge base like a pull request). \
            An empty change is refused (exit 2) unless --allow-empty: a CI step whose git diff failed must not pass.

            Configuration comes from --config FILE; otherwise from .agentqueue.yml at the head revision (--git) \
            or in the current directory (--diff), when present.

            --baseline FILE takes an earlier report of this command (--format json or sarif) and leaves out every \
            finding it holds (by fingerprint): only new findings are reported, and only they set the exit status.

            Exit status (the same as enqueue review --wait):
              0   approved; with --fail-on: no finding at or above it
              1   failure: git failed, the --output file could not be written
              2   invalid options or input: an empty, unreadable or invalid diff,
                  configuration or baseline; not a git repository; unknown revision
              5   approved with comments (without --fail-on)
              6   changes requested (without --fail-on)
              10  a finding at or above the --fail-on severity

            Examples:
              git diff origin/main...HEAD | queuectl review --diff -
              queuectl review --git . --base origin/main --head HEAD \\
                --format sarif --output review.sarif --fail-on high
              queuectl review --git . --base origin/main --head HEAD \\
                --baseline accepted.json --fail-on medium
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case markdown, json, sarif

        var reportFormat: ReportFormat {
            switch self {
            case .markdown: .markdown
            case .json: .json
            case .sarif: .sarif
            }
        }
    }

    @Option(
        name: .customLong("diff"),
        help: ArgumentHelp("Unified diff to review; - reads standard input.", valueName: "file|-"),
        completion: .file())
    var diffPath: String?

    @Option(
        help: ArgumentHelp("Local git repository to take the change from.", valueName: "path"), completion: .directory)
    var git: String?

    @Option(help: ArgumentHelp("Base revision of the range (with --git).", valueName: "rev"))
    var base: String?

    @Option(help: ArgumentHelp("Head revision of the range (with --git).", valueName: "rev"))
    var head: String?

    @Option(help: "Output format (default: markdown; on a terminal, a terminal view unless a format is given).")
    var format: Format?

    @Flag(help: "The same as --format json.")
    var json = false

    @Option(
        help: ArgumentHelp(
            "Write the report to this file (replaced atomically) and print a one-line verdict instead.",
            valueName: "file"),
        completion: .file())
    var output: String?

    @Option(
        help: ArgumentHelp("Repository configuration (.agentqueue.yml format).", valueName: "file"), completion: .file()
    )
    var config: String?

    @Option(
        help: ArgumentHelp("Leave out the findings of this earlier JSON or SARIF report.", valueName: "file"),
        completion: .file())
    var baseline: String?

    @Option(name: .customLong("fail-on"), help: FailOnSeverity.help)
    var failOn: FailOnSeverity?

    @Flag(name: .customLong("allow-empty"), help: "Approve an empty change instead of refusing it.")
    var allowEmpty = false

    func validate() throws {
        switch (diffPath, git) {
        case (nil, nil):
            throw ValidationError("give the change to review: --diff FILE|- or --git PATH --base REV --head REV")
        case (.some, .some):
            throw ValidationError("use either --diff or --git, not both")
        case (.some, nil):
            if base != nil || head != nil { throw ValidationError("--base and --head go with --git, not --diff") }
        case (nil, .some):
            if base == nil || head == nil { throw ValidationError("--git needs both --base and --head") }
        }
        if json, let format, format != .json {
            throw ValidationError("--json means --format json: leave out --format \(format.rawValue)")
        }
        if output?.isEmpty == true || output == "-" {
            throw ValidationError("--output needs a file name (without --output, the report goes to standard output)")
        }
    }

    func run() async throws {
        try await reportingErrors {
            // Every input is read and checked before the agents run: a bad baseline costs no review.
            let accepted = try baseline.map(ReviewBaseline.read)
            let (diff, configuration) = try await readChange()
            var findings = try await ReviewAgents.reviewAll(ReviewInput(diff: diff, configuration: configuration))
            if let baseline, let accepted {
                let filtered = accepted.filter(findings)
                findings = filtered.kept
                if filtered.accepted > 0 {
                    printError(
                        "queuectl: note: \(filtered.accepted) finding\(filtered.accepted == 1 ? " is" : "s are") in "
                            + "the baseline \(baseline) and not reported")
                }
            }
            let report = ReviewReport(diff: diff, findings: findings)
            // On a terminal, without an explicit format, a view for the eye instead of Markdown's pipe tables.
            let chosen: Format? = json ? .json : format
            var text =
                if chosen == nil, output == nil, Terminal.isTerminal(1) {
                    Self.terminalView(report)
                } else {
                    try (chosen ?? .markdown).reportFormat.render(report)
                }
            if !text.hasSuffix("\n") { text += "\n" }
            if let output {
                try OutputFile.replace(output, with: text)
                print("\(output): \(Self.headline(report))")
            } else {
                print(text, terminator: "")
            }
            flushStandardOutput()
            if let exit = reviewExitCode(verdict: report.verdict.status, findings: report.findings, failOn: failOn) {
                throw exit
            }
        }
    }

    /// The parsed change and the repository configuration that applies to it.
    private func readChange() async throws -> (ParsedDiff, RepositoryConfiguration) {
        let bytes: [UInt8]
        let configurationText: (text: String, source: String)?
        let origin: String
        if let git, let base, let head {
            // The same checks as enqueue review: a clear "not a git repository" or "not a commit" (exit 2).
            let range = try await GitCheck.resolve(path: git, base: base, head: head)
            let fetched: FetchedDiff
            do {
                fetched = try await DiffSources().fetch(.git(path: range.path, base: range.base, head: range.head))
            } catch {
                throw CLIFailure(error.description)
            }
            bytes = fetched.bytes
            configurationText = fetched.configuration.map { ($0, "\(head):\(RepositoryConfiguration.fileName)") }
            origin = "git diff \(base)...\(head)"
        } else {
            let path = diffPath ?? "-"
            let limit = DiffLimits.default.maxBytes
            bytes = try InputFile.read(path, what: "the diff", limit: limit) { size in
                "the diff is larger than \(InputFile.megabytes(limit)) (read \(InputFile.megabytes(size)) so far)"
            }
            configurationText = try Self.readConfiguration(RepositoryConfiguration.fileName, ifPresent: true).map {
                ($0, RepositoryConfiguration.fileName)
            }
            origin = path == "-" ? "standard input" : path
        }
        let diff: ParsedDiff
        do throws(DiffParseError) {
            diff = try DiffParser.parse(bytes: bytes, rejectingEmpty: !allowEmpty)
        } catch let error where error.code == .emptyDiff {
            throw CLIFailure(
                "the diff from \(origin) is empty: there is nothing to review (--allow-empty approves an empty change)",
                exitCode: CLIExit.usage)
        } catch {
            throw CLIFailure(
                "the diff from \(origin) cannot be reviewed: \(error.description)", exitCode: CLIExit.usage)
        }
        let chosen = try config.map { (text: try Self.readConfiguration($0, ifPresent: false) ?? "", source: $0) }
        guard let chosen = chosen ?? configurationText else { return (diff, .default) }
        do throws(ConfigurationError) {
            return (diff, try RepositoryConfiguration.parse(yaml: chosen.text, source: chosen.source))
        } catch {
            throw CLIFailure(error.description, exitCode: CLIExit.usage)
        }
    }

    /// A configuration file's text; nil when `ifPresent` and the file does not exist.
    private static func readConfiguration(_ path: String, ifPresent: Bool) throws(CLIFailure) -> String? {
        if ifPresent, access(path, F_OK) != 0 { return nil }
        let bytes = try InputFile.read(path, what: "the configuration", limit: 1 << 20) { _ in
            "the configuration '\(path)' is larger than 1 MB"
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The report for a terminal: the headline, findings per agent and severity, then every finding with its
    /// place, rule, message and suggestion; severities and the verdict in colour when colour is on.
    static func terminalView(_ report: ReviewReport) -> String {
        var out = headline(report, painted: true) + "\n"
        guard !report.findings.isEmpty else { return out }
        let table = TextTable(
            headers: ["AGENT"] + Severity.allCases.map { $0.rawValue.uppercased() }, rightAligned: Set(1...5))
        for agent in AgentKind.allCases {
            let counts = report.verdict.byAgent[agent.rawValue] ?? Verdict.Counts()
            table.add([agent.rawValue] + Severity.allCases.map { String(counts[$0]) })
        }
        out += "\n" + table.render() + "\n"
        return out + terminalFindings(report.findings)
    }

    /// `changes requested · 3 findings (1 high, 1 medium, 1 low) · 1 file, +5 −1`.
    static func headline(_ report: ReviewReport, painted: Bool = false) -> String {
        let totals = report.verdict.totals
        let counts = Severity.allCases.filter { totals[$0] > 0 }.map { "\(totals[$0]) \($0.rawValue)" }
        let findings =
            totals.total == 0
            ? "no findings"
            : "\(totals.total) finding\(totals.total == 1 ? "" : "s") (\(counts.joined(separator: ", ")))"
        let files = "\(report.diff.files) file\(report.diff.files == 1 ? "" : "s")"
        let status = painted ? Palette.paint(report.verdict.status.title) : report.verdict.status.title
        return "\(status) · \(findings) · \(files), +\(report.diff.additions) −\(report.diff.deletions)"
    }
}

/// Findings for a terminal, three lines each: severity (in colour), place and rule; the message; the fix.
func terminalFindings(_ findings: [Finding]) -> String {
    let width = findings.map(\.severity.rawValue.count).max() ?? 0
    let indent = String(repeating: " ", count: width + 2)
    var out = ""
    for finding in findings {
        let place = finding.path.isEmpty ? "(whole change)" : finding.path + (finding.line.map { ":\($0)" } ?? "")
        let padding = String(repeating: " ", count: width - finding.severity.rawValue.count)
        out +=
            Palette.paint(finding.severity.rawValue) + padding + "  " + terminalSafe(place) + "  " + finding.ruleId
            + "\n"
        out += indent + terminalSafe(finding.message) + "\n"
        if let suggestion = finding.suggestion { out += indent + "fix: " + terminalSafe(suggestion) + "\n" }
    }
    return out
}

/// Writing a whole output file so that readers never see half of it: a temporary file beside it, renamed over it.
enum OutputFile {
    static func replace(_ path: String, with text: String) throws(CLIFailure) {
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure(path, errno) }
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes {
                write(descriptor, $0.baseAddress! + offset, $0.count - offset)
            }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else {
                let error = errno
                close(descriptor)
                unlink(temporary)
                throw failure(path, error)
            }
            offset += written
        }
        guard fsync(descriptor) == 0, close(descriptor) == 0 else {
            let error = errno
            unlink(temporary)
            throw failure(path, error)
        }
        guard rename(temporary, path) == 0 else {
            let error = errno
            unlink(temporary)
            throw failure(path, error)
        }
    }

    private static func failure(_ path: String, _ error: Int32) -> CLIFailure {
        CLIFailure("cannot write --output '\(path)': \(String(cString: strerror(error)))")
    }
}
