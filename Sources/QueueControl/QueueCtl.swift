public import ArgumentParser
import PostgresClient
import ReviewAgents

#if canImport(Glibc)
    import Glibc
#endif

/// `queuectl`: enqueue work, inspect and operate the queue, run one-shot reviews, and report analytics.
///
/// The executable only calls ``run(_:)``; tests call it too, in-process, with a console of their own
/// (``Console/current``).
public struct QueueCtl: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "queuectl",
        abstract: "Operate AgentQueue: enqueue reviews and tasks, inspect and manage the queue, read analytics.",
        discussion: """
            The database comes from --database-url or the DATABASE_URL environment variable \
            (a postgresql:// URL or a libpq connection string). Every command takes --json for machine-readable \
            output; errors are one line on standard error, starting with "queuectl: error:". On a terminal, \
            states, verdicts and severities are coloured: --color auto|always|never (any command; auto honours \
            NO_COLOR).

            \(CLIExit.helpText)

            Shell completions: queuectl --generate-completion-script bash|zsh|fish (see docs/queuectl.md).

            Examples:
              queuectl migrate
              queuectl enqueue review --pr-url https://github.com/acme/api/pull/12 --wait
              queuectl list --state dead
              queuectl show 42
              queuectl top
              queuectl trends --repo acme/api --days 30 --chart
            """,
        version: AgentQueueVersion.current,
        subcommands: queueSubcommands,
        groupedSubcommands: [
            CommandGroup(
                name: "Analytics",
                subcommands: [
                    HistoryCommand.self, TrendsCommand.self, PerformanceCommand.self, VerdictsCommand.self,
                    FindingsCommand.self,
                ]
            )
        ]
    )

    /// The queue's commands and the one-shot `review`.
    static var queueSubcommands: [any ParsableCommand.Type] {
        var commands: [any ParsableCommand.Type] = [
            EnqueueCommand.self, ListCommand.self, ShowCommand.self, TopCommand.self, CancelCommand.self,
            RetryCommand.self, PauseCommand.self, ResumeCommand.self, PurgeCommand.self, StatsCommand.self,
            WorkersCommand.self, MigrateCommand.self,
        ]
        commands.append(ReviewCommand.self)
        return commands
    }

    public init() {}

    /// Runs queuectl with `arguments` (without the program name) on ``Console/current`` and returns the exit status.
    ///
    /// Usage errors of the argument parser (its exit status 64) become one line on standard error and exit status 2,
    /// like every other usage error of queuectl; `--help` and `--version` print to standard output.
    public static func run(_ arguments: [String]) async -> Int32 {
        switch ColorChoice.extract(from: arguments) {
        case .failure(let failure):
            printError("queuectl: error: \(failure.description)")
            return CLIExit.usage.rawValue
        case .success(let (choice, rest)):
            return await ColorChoice.$current.withValue(choice ?? .auto) { await runParsed(rest) }
        }
    }

    private static func runParsed(_ arguments: [String]) async -> Int32 {
        do {
            var command = try await asyncParseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return 0
        } catch {
            let code = exitCode(for: error)
            guard code == .validationFailure else {
                let text = fullMessage(for: error)
                if !text.isEmpty {
                    if code == .success { print(text) } else { printError(text) }
                }
                return code.rawValue
            }
            let message = message(for: error)
                .split(whereSeparator: \.isNewline)
                .map { line in
                    // Drop the indentation and "- " of the parser's lists of valid values.
                    let text = line.trimmingPrefix(while: { $0 == " " })
                    return text.hasPrefix("- ") ? text.dropFirst(2) : text
                }
                .joined(separator: " ")
            let helpCommand = fullMessage(for: error).split(whereSeparator: \.isNewline)
                .compactMap { line -> Substring? in
                    guard let start = line.firstRange(of: "See '")?.upperBound,
                        let end = line[start...].firstIndex(of: "'")
                    else { return nil }
                    return line[start..<end]
                }.first
            printError("queuectl: error: \(message)" + (helpCommand.map { " (see `\($0)`)" } ?? ""))
            return CLIExit.usage.rawValue
        }
    }
}
