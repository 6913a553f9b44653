import ArgumentParser
import Logging
import PostgresClient
import TaskQueue

#if canImport(Glibc)
    import Glibc
#endif

/// The version printed by `--version`.
public enum AgentQueueVersion {
    /// The version string.
    public static let current = AgentQueueInfo.version
}

/// Exit codes shared by every subcommand (documented in `queuectl --help` and docs/queuectl.md).
enum CLIExit {
    static let failure = ExitCode(1)
    static let usage = ExitCode(2)
    static let notFound = ExitCode(3)
    static let timeout = ExitCode(4)
    /// A review (`review`, `enqueue review --wait`) approved the change with comments (without `--fail-on`).
    static let approvedWithComments = ExitCode(5)
    /// A review requested changes (without `--fail-on`).
    static let changesRequested = ExitCode(6)
    /// A review has a finding at or above the `--fail-on` severity.
    static let findingsAtThreshold = ExitCode(10)
    /// Interrupted (Ctrl-C).
    static let interrupted = ExitCode(130)

    /// The exit-code table printed in the root command's help.
    static let helpText = """
        Exit codes:
          0    success; a review: approved (with --fail-on: nothing at or above it)
          1    failure (database or git error, task dead or cancelled, ...)
          2    usage error: invalid options or input (nothing was done)
          3    not found (unknown task id)
          4    timeout (--wait --timeout passed; the task keeps running)
          5    a review approved the change with comments (without --fail-on)
          6    a review requested changes (without --fail-on)
          10   a review has a finding at or above --fail-on
          130  interrupted (Ctrl-C; a waited-for task keeps running)
        A review is `review` or `enqueue review --wait`.
        """
}

/// Options for reaching the database, shared by every subcommand that needs it.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "PostgreSQL URL or libpq connection string (default: $DATABASE_URL).",
            valueName: "url"
        )
    )
    var databaseURL: String?

    /// The validated configuration, or a usage error naming how to provide one.
    func configuration(applicationName: String = "queuectl") throws -> PostgresConfiguration {
        guard let url = databaseURL ?? environment("DATABASE_URL"), !url.isEmpty else {
            throw CLIFailure(
                "no database given: pass --database-url or set DATABASE_URL "
                    + "(for example postgresql://user@localhost:5432/agentqueue)",
                exitCode: CLIExit.usage
            )
        }
        do {
            return try PostgresConfiguration(connectionString: url, applicationName: applicationName)
        } catch {
            throw CLIFailure(error.description, exitCode: CLIExit.usage)
        }
    }

    /// Connects, runs `body`, and closes the connection; connection failures become one clear line.
    func withConnection<T>(logger: Logger, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let configuration = try configuration()
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, logger: logger)
        } catch let error as PostgresError {
            throw CLIFailure(Self.connectionHint(error), exitCode: CLIExit.failure)
        }
        do {
            let value = try await body(connection)
            await connection.close()
            return value
        } catch {
            await connection.close()
            throw error
        }
    }
}

extension DatabaseOptions {
    /// Opens a small pool, checks that the database answers (so that an unreachable database is reported once,
    /// clearly), runs `body`, and closes the pool.
    func withPool<T>(
        logger: Logger,
        connections: Int = 2,
        _ body: (PostgresConnectionPool) async throws -> T
    ) async throws -> T {
        let pool = PostgresConnectionPool(
            connection: try configuration(),
            pool: .init(maximumConnections: connections, acquireTimeout: .seconds(30)),
            logger: logger
        )
        do {
            do {
                try await pool.withConnection { _ in }
            } catch let error as PostgresError {
                throw CLIFailure(Self.connectionHint(error), exitCode: CLIExit.failure)
            }
            let value = try await body(pool)
            await pool.close()
            return value
        } catch {
            await pool.close()
            throw error
        }
    }

    /// A connection failure with what to do about it.
    static func connectionHint(_ error: PostgresError) -> String {
        "\(error.description); check that PostgreSQL is running and that --database-url or DATABASE_URL points to it"
    }
}

/// A failure reported as one line on stderr with a specific exit code.
struct CLIFailure: Error, CustomStringConvertible {
    let description: String
    let exitCode: ExitCode

    init(_ message: String, exitCode: ExitCode = CLIExit.failure) {
        self.description = message
        self.exitCode = exitCode
    }
}

/// A logger for the command line tools: warnings and errors only, on stderr.
func makeCLILogger() -> Logger {
    var logger = Logger(label: "queuectl") { label in ConsoleLogHandler(label: label) }
    logger.logLevel = environment("LOG_LEVEL").flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .warning
    return logger
}

/// Runs a subcommand body, turning known errors into one clear line and the documented exit code.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as CLIFailure {
        printError("queuectl: error: \(failure.description)")
        throw failure.exitCode
    } catch let error as PostgresError {
        printError("queuectl: error: \(describe(error))")
        throw CLIExit.failure
    } catch let exit as ExitCode {
        throw exit
    } catch is CancellationError {
        throw CLIExit.interrupted
    } catch {
        printError("queuectl: error: \(error)")
        throw CLIExit.failure
    }
}

/// A database error as one line, with what to do for the cases a user can fix.
func describe(_ error: PostgresError) -> String {
    let text = error.description.split(whereSeparator: \.isNewline).joined(separator: " ")
    switch error.sqlState {
    case "42P01", "42883", "3F000":
        return text + " (is the schema migrated? run `queuectl migrate`)"
    case "57014":
        return text + " (the statement was cancelled or timed out)"
    default:
        return error.isTransient ? text + " (a transient error: try again)" : text
    }
}
