import ArgumentParser
import PostgresClient
import TaskQueue

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `queuectl enqueue`: submit reviews and other tasks.
struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Enqueue a pull request review or a generic task (one, or many from a JSONL file).",
        discussion: """
            Each subcommand prints the id of the task it enqueued (one per line with --from), or JSON with --json.

            Examples:
              queuectl enqueue review --pr-url https://github.com/acme/api/pull/12
              queuectl enqueue task --kind noop --payload '{"sleep_ms": 100}'
              queuectl enqueue task --from tasks.jsonl
            """,
        subcommands: [EnqueueReviewCommand.self, EnqueueTaskCommand.self]
    )
}

/// `queuectl enqueue task`: a generic task, or many from a JSONL file.
struct EnqueueTaskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task",
        abstract: "Enqueue a task of any kind, or many from a JSONL file.",
        discussion: """
            With --from, every non-blank line is a JSON object with the keys kind, payload, queue, priority, \
            run_after (a delay such as "10m" or a time), max_attempts and dedupe_key; keys a line leaves out take \
            the command-line values (--kind, --queue, --priority, --run-after, --max-attempts). The whole file is \
            checked first: an invalid line stores nothing and names its line number. Tasks are then stored in \
            batches of --batch-size, each batch all or nothing; if the database fails part-way, the message says \
            which lines were stored and how to resume with --skip.

            Examples:
              queuectl enqueue task --kind noop
              queuectl enqueue task --kind noop --payload @payload.json \\
                --queue bulk --priority 5 --run-after 10m
              queuectl enqueue task --kind noop --payload '{"fail": "boom"}' \\
                --max-attempts 1 --wait --timeout 30s
              queuectl enqueue task --from tasks.jsonl --batch-size 500
              printf '{"kind":"noop"}\\n{"kind":"noop","priority":-1}\\n' |
                queuectl enqueue task --from -
            """
    )

    @Option(help: ArgumentHelp("The task kind (selects the handler, e.g. noop, review).", valueName: "kind"))
    var kind: String?

    @Option(
        help: ArgumentHelp(
            "The payload: a JSON object, or @FILE to read it from a file (@- for standard input). Default {}.",
            valueName: "json|@file"
        )
    )
    var payload: String?

    @OptionGroup var placement: TaskPlacementOptions

    @Option(
        name: .customLong("dedupe-key"),
        help: ArgumentHelp(
            "At most one pending or running task per key: a duplicate returns the live task's id.", valueName: "key")
    )
    var dedupeKey: String?

    @Option(
        help: ArgumentHelp("Enqueue every line of a JSONL file (- for standard input).", valueName: "file"),
        completion: .file()
    )
    var from: String?

    @OptionGroup var batch: BatchOptions

    @OptionGroup var waiting: WaitOptions

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if let kind, let problem = TaskValidation.kindProblem(kind) { throw ValidationError(problem) }
        if let dedupeKey, !(1...512).contains(dedupeKey.count) {
            throw ValidationError("--dedupe-key must be 1-512 characters")
        }
        if let dedupeKey, let problem = TaskValidation.controlCharacterProblem(dedupeKey, name: "--dedupe-key") {
            throw ValidationError(problem)
        }
        if from != nil {
            if payload != nil { throw ValidationError("--from reads payloads from the file: leave out --payload") }
            if dedupeKey != nil {
                throw ValidationError("--from takes dedupe keys from the file (dedupe_key): leave out --dedupe-key")
            }
            if waiting.wait { throw ValidationError("--wait waits for one task: it cannot be used with --from") }
        } else if kind == nil {
            throw ValidationError("give the task kind with --kind (or a file of tasks with --from)")
        }
    }

    func run() async throws {
        try await reportingErrors {
            let logger = makeCLILogger()
            if let from {
                let lines = try parseLines(from)
                try await database.withPool(logger: logger) { pool in
                    let now = try await pool.run(DatabaseNow())
                    let tasks = lines.map { line in
                        var task = line.task
                        task.runAfter = line.runAfter?.resolve(now: now) ?? task.runAfter
                        return NumberedTask(line: line.number, task: task)
                    }
                    try await enqueueBatches(
                        tasks, pool: pool, options: batch, json: json)
                }
                return
            }
            let payloadText = try readPayload()
            var task = NewTask(
                kind: kind ?? "", payload: PostgresJSON(text: payloadText), queue: placement.queue,
                priority: placement.priority, maxAttempts: placement.maxAttempts, dedupeKey: dedupeKey
            )
            do throws(TaskValidationError) {
                try task.validate()
            } catch {
                throw CLIFailure(error.description, exitCode: CLIExit.usage)
            }
            try await database.withPool(logger: logger) { pool in
                if let runAfter = placement.runAfter {
                    task.runAfter = runAfter.resolve(now: try await pool.run(DatabaseNow()))
                }
                try await enqueueOne(task, pool: pool, json: json, waiting: waiting)
            }
        }
    }

    /// The payload text: inline JSON, or a file's contents with `@FILE`; checked to be a storable JSON object.
    private func readPayload() throws(CLIFailure) -> String {
        guard let payload else { return "{}" }
        let text: String
        if payload.hasPrefix("@") {
            let path = String(payload.dropFirst())
            let bytes = try InputFile.read(path, what: "the payload file", limit: TaskValidation.maximumPayloadBytes) {
                size in
                "the payload file '\(path)' is larger than the limit of "
                    + "\(InputFile.megabytes(TaskValidation.maximumPayloadBytes)) (read \(InputFile.megabytes(size)) so far)"
            }
            guard let decoded = String(validating: bytes, as: UTF8.self) else {
                throw CLIFailure("the payload file '\(path)' is not UTF-8 text", exitCode: CLIExit.usage)
            }
            text = decoded
        } else {
            text = payload
        }
        if let problem = JSONText.objectProblem(text) {
            throw CLIFailure(
                "--payload is not a valid JSON object: \(problem) (quote it in the shell: --payload '{\"key\": 1}')",
                exitCode: CLIExit.usage
            )
        }
        return text
    }

    /// A task from one line, before its run-after delay is resolved against the database's clock.
    struct ParsedLine {
        let number: Int
        let task: NewTask
        let runAfter: RunAfter?
    }

    /// Reads and checks every line of the file; the first problem stops everything with its line number.
    func parseLines(_ path: String) throws(CLIFailure) -> [ParsedLine] {
        let limit = 2 * 1024 * 1024 * 1024
        let bytes = try InputFile.read(path, what: "the task file", limit: limit) { _ in
            "the task file '\(path)' is larger than 2 GB: split it into smaller files"
        }
        var parsed: [ParsedLine] = []
        for line in try numberedLines(bytes, skip: batch.skip) {
            do throws(CLIFailure) {
                parsed.append(try parseLine(line.text, number: line.number))
            } catch {
                throw CLIFailure(
                    "\(path == "-" ? "standard input" : path) line \(line.number): \(error.description)",
                    exitCode: CLIExit.usage)
            }
        }
        return parsed
    }

    private func parseLine(_ text: String, number: Int) throws(CLIFailure) -> ParsedLine {
        if let problem = JSONText.objectProblem(text) { throw CLIFailure(problem) }
        var kind = self.kind
        var payload = "{}"
        var queue = placement.queue
        var priority = placement.priority
        var runAfter = placement.runAfter
        var maxAttempts = placement.maxAttempts
        var dedupeKey: String?
        var seen = Set<String>()
        for member in JSONText.members(of: text) {
            guard seen.insert(member.key).inserted else { throw CLIFailure("the key '\(member.key)' appears twice") }
            let value = member.value
            func string() throws(CLIFailure) -> String {
                guard JSONText.isString(value) else { throw CLIFailure("\(member.key) must be a string") }
                return JSONText.unescape(value)
            }
            func integer(_ range: ClosedRange<Int>) throws(CLIFailure) -> Int {
                guard let number = JSONText.integer(value), range.contains(number) else {
                    throw CLIFailure(
                        "\(member.key) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
                }
                return number
            }
            switch member.key {
            case "kind": kind = try string()
            case "payload":
                guard JSONText.isObject(value) else { throw CLIFailure("payload must be a JSON object") }
                payload = String(value)
            case "queue": queue = try string()
            case "priority": priority = Int16(try integer(Int(Int16.min)...Int(Int16.max)))
            case "run_after":
                do throws(CLIFailure) {
                    runAfter = try RunAfter.parse(try string())
                } catch {
                    throw CLIFailure("run_after: \(error.description)")
                }
            case "max_attempts": maxAttempts = try integer(1...1000)
            case "dedupe_key": dedupeKey = JSONText.isNull(value) ? nil : try string()
            default:
                throw CLIFailure(
                    "unknown key '\(member.key)': a line may have kind, payload, queue, priority, run_after, "
                        + "max_attempts and dedupe_key"
                )
            }
        }
        guard let kind else { throw CLIFailure("no kind: add \"kind\" to the line or pass --kind") }
        let task = NewTask(
            kind: kind, payload: PostgresJSON(text: payload), queue: queue, priority: priority,
            maxAttempts: maxAttempts, dedupeKey: dedupeKey
        )
        do {
            try task.validate()
        } catch {
            throw CLIFailure(error.description)
        }
        return ParsedLine(number: number, task: task, runAfter: runAfter)
    }
}
