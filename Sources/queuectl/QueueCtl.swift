import ArgumentParser

/// `queuectl`: enqueue work, inspect and operate the queue, run one-shot reviews, and report analytics.
@main
struct QueueCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queuectl",
        abstract: "Operate AgentQueue: enqueue reviews and tasks, inspect and manage the queue, read analytics.",
        discussion: """
            The database comes from --database-url or the DATABASE_URL environment variable \
            (a postgresql:// URL or a libpq connection string).

            Exit codes: 0 success, 1 failure, 2 usage error, 3 not found, 4 timeout.
            """,
        version: AgentQueueVersion.current,
        subcommands: [
            MigrateCommand.self,
        ]
    )
}
