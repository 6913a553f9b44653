import ArgumentParser

#if canImport(Glibc)
    import Glibc
#endif

/// `queuectl`: enqueue work, inspect and operate the queue, run one-shot reviews, and report analytics.
@main
struct QueueCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queuectl",
        abstract: "Operate AgentQueue: enqueue reviews and tasks, inspect and manage the queue, read analytics.",
        discussion: """
            The database comes from --database-url or the DATABASE_URL environment variable \
            (a postgresql:// URL or a libpq connection string). Every command takes --json for machine-readable \
            output; errors are one line on standard error, starting with "queuectl: error:".

            \(CLIExit.helpText)

            Shell completions: queuectl --generate-completion-script bash|zsh|fish (see the README, "Shell completions").

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
            RetryCommand.self, PurgeCommand.self, StatsCommand.self, WorkersCommand.self, MigrateCommand.self,
        ]
        commands.append(ReviewCommand.self)
        return commands
    }

    /// Runs the command; usage errors of the argument parser (its exit status 64) become one line on standard
    /// error and exit status 2, like every other usage error of queuectl.
    static func main() async {
        do {
            var command = try await asyncParseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
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
            terminate(CLIExit.usage.rawValue)
        }
    }
}

/// Ends the process with a status (outside the command type, whose `exit(withError:)` would shadow `exit`).
private func terminate(_ status: Int32) -> Never {
    exit(status)
}
