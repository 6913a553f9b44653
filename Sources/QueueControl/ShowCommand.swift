import ArgumentParser
import PostgresClient
import ReviewAgents
import ReviewStore
import ReviewWorkflow
import TaskQueue

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `queuectl show ID`: one task in full.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a task: its state, attempts and errors, checkpoint timeline, and review verdict and findings.",
        discussion: """
            The payload is printed with an inline diff replaced by its size. For a finished review, the verdict, the \
            summary and every finding are printed. Exits 0 when the task exists (whatever its state or verdict; \
            use `enqueue review --wait` for verdict exit codes), 3 when it does not.

            Examples:
              queuectl show 42
              queuectl show 42 --json | jq .review.verdict_status
            """
    )

    @Argument(help: ArgumentHelp("The task id.", valueName: "id"))
    var id: Int64

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard id > 0 else { throw ValidationError("a task id is a positive number (got \(id))") }
    }

    func run() async throws {
        try await reportingErrors {
            let logger = makeCLILogger()
            try await database.withPool(logger: logger) { pool in
                guard let detail = try await pool.run(FetchTaskDetail(id: id)) else {
                    throw CLIFailure(
                        "task \(id) does not exist (it may have been purged; `queuectl list` shows the tasks there are)",
                        exitCode: CLIExit.notFound
                    )
                }
                let events = try await pool.run(FetchTaskEvents(taskID: id))
                let checkpoints = try await pool.run(ListCheckpoints(taskID: id))
                let analytics = ReviewAnalytics(pool: pool)
                var review: ReviewResult?
                var recorded: ReviewHistoryEntry?
                var findings: [Finding] = []
                var publications: [ListPublications.Publication] = []
                if detail.summary.kind == "review" {
                    publications = try await pool.run(ListPublications(taskID: id))
                    review = detail.result.flatMap { try? PostgresJSON(text: $0).decode(ReviewResult.self) }
                    recorded = try await analytics.review(taskID: id)
                    findings = review?.findings ?? []
                    if findings.isEmpty, recorded != nil { findings = try await analytics.findings(taskID: id) }
                }
                let attempts = Attempt.from(events, errors: detail.errors, now: detail.now)
                if json {
                    try printJSON(
                        ShowOutput(
                            task: detail.summary, rescues: detail.rescues, leaseExpiresAt: detail.leaseExpiresAt,
                            heartbeatAt: detail.heartbeatAt, updatedAt: detail.updatedAt,
                            payload: JSONValue(text: detail.payload), result: detail.result.map(JSONValue.init(text:)),
                            errors: detail.errors, attempts: attempts,
                            events: events.map(EventOutput.init), checkpoints: checkpoints,
                            review: review.map { ReviewOutput(result: $0, recorded: recorded, findings: findings) }
                                ?? recorded.map { ReviewOutput(recorded: $0, findings: findings) },
                            publications: publications
                        )
                    )
                    return
                }
                printText(
                    detail, attempts: attempts, checkpoints: checkpoints, review: review, recorded: recorded,
                    findings: findings)
                printPublications(publications)
            }
        }
    }

    private func printText(
        _ detail: TaskDetail,
        attempts: [Attempt],
        checkpoints: [CheckpointRow],
        review: ReviewResult?,
        recorded: ReviewHistoryEntry?,
        findings: [Finding]
    ) {
        let task = detail.summary
        let now = detail.now
        print(
            "task \(task.id) · \(task.kind) · queue \(task.queue) · \(Palette.paint(task.state))\(task.cancelRequested ? " (cancel requested)" : "")"
        )
        var facts: [(String, String)] = [
            ("priority", String(task.priority)),
            (
                "attempts",
                "\(task.attempt) of \(task.maxAttempts)" + (detail.rescues > 0 ? ", rescued \(detail.rescues)×" : "")
            ),
            (
                "created",
                "\(formatTimestamp(task.createdAt)) (\(formatAge(seconds: now.timeIntervalSince(task.createdAt))) ago)"
            ),
        ]
        if task.state == "pending" {
            let wait = task.runAfter > now ? "in \(formatAge(seconds: task.runAfter.timeIntervalSince(now)))" : "now"
            facts.append(("runs", "\(formatTimestamp(task.runAfter)) (\(wait))"))
        }
        if let started = task.startedAt { facts.append(("started", formatTimestamp(started))) }
        if let finished = task.finishedAt {
            let took =
                task.startedAt.map {
                    " (last attempt took \(formatMilliseconds(finished.timeIntervalSince($0) * 1000)))"
                } ?? ""
            facts.append(("finished", formatTimestamp(finished) + took))
        }
        if task.state == "running" {
            if let worker = task.worker { facts.append(("worker", worker)) }
            if let expiry = detail.leaseExpiresAt {
                facts.append(
                    (
                        "lease",
                        "expires \(formatTimestamp(expiry)) (in \(formatAge(seconds: expiry.timeIntervalSince(now))))"
                    ))
            }
        }
        if let dedupeKey = task.dedupeKey { facts.append(("dedupe key", dedupeKey)) }
        let width = facts.map(\.0.count).max() ?? 0
        for (label, value) in facts { print("  \(label.padding(width))  \(terminalSafe(value))") }

        print("\npayload")
        let payload = detail.payload
        print(
            "  "
                + (payload.count > 2000
                    ? String(payload.prefix(2000))
                        + "… (\(formatCount(payload.utf8.count)) bytes; --json prints it all)" : payload))

        if !attempts.isEmpty {
            print("\nattempts")
            let table = TextTable(
                headers: ["ATTEMPT", "WORKER", "STARTED", "DURATION", "OUTCOME"], rightAligned: [0, 3],
                flexible: [4, 1])
            for attempt in attempts {
                table.add([
                    String(attempt.attempt), attempt.worker ?? "-", formatTimestamp(attempt.startedAt),
                    formatMilliseconds(attempt.durationMilliseconds) + (attempt.endedAt == nil ? "+" : ""),
                    oneLine(attempt.outcome, 70),
                ])
            }
            print(indent(table.render(width: indentedWidth)), terminator: "")
        }

        if !detail.errors.isEmpty {
            print("\nerrors")
            for error in detail.errors {
                // The stored time is PostgreSQL's JSON text (2026-12-04T15:46:09.978653+00:00): shown like every
                // other time on this screen.
                let at = (try? Timestamp.parse(error.at).get()).map(formatTimestamp) ?? terminalSafe(error.at)
                print("  attempt \(error.attempt) · \(at) · \(error.worker ?? "-")")
                print(
                    "    "
                        + error.message.split(whereSeparator: \.isNewline).map { terminalSafe(String($0)) }
                        .joined(separator: "\n    "))
            }
        }

        if !checkpoints.isEmpty {
            print("\ncheckpoints")
            // Bars run from each node's own start to its own end (not to its checkpoint's write, which nodes that
            // finished together share).
            let origin = checkpoints.map(\.startedAt).min() ?? now
            let end = checkpoints.map(\.finishedAt).max() ?? now
            let span = max(end.timeIntervalSince(origin), 0.001)
            // 30 cells for the timeline; 20 on a terminal narrower than 100 columns, so that the table fits 80.
            let columns = (indentedWidth ?? .max) < 98 ? 20 : 30
            let table = TextTable(
                headers: ["NODE", "ATTEMPT", "WORKER", "START", "DURATION", "TIMELINE"], rightAligned: [1, 3, 4],
                flexible: [2])
            for checkpoint in checkpoints {
                let from = Int((checkpoint.startedAt.timeIntervalSince(origin) / span * Double(columns)).rounded(.down))
                let to = max(
                    from + 1, Int((checkpoint.finishedAt.timeIntervalSince(origin) / span * Double(columns)).rounded()))
                let bar =
                    String(repeating: " ", count: min(from, columns - 1))
                    + String(repeating: "█", count: min(to, columns) - min(from, columns - 1))
                table.add([
                    checkpoint.node, String(checkpoint.attempt), checkpoint.worker,
                    "+" + formatMilliseconds(checkpoint.startedAt.timeIntervalSince(origin) * 1000),
                    formatMilliseconds(checkpoint.durationMilliseconds), "|" + bar.padding(columns) + "|",
                ])
            }
            print(indent(table.render(width: indentedWidth)), terminator: "")
        }

        if let review {
            print("\nreview")
            print("  " + reviewHeadline(review, id: task.id))
            if let recorded { print("  recorded as review \(recorded.id) at \(formatTimestamp(recorded.reviewedAt))") }
            // On a terminal the findings table below says it all; the Markdown summary (pipe tables) is for pipes.
            let summary = terminalSafe(review.summary.trimmingTrailingNewlines(), keepingLineBreaks: true)
            if !summary.isEmpty, !Terminal.isTerminal(1) { print(indent(summary + "\n"), terminator: "") }
        } else if let recorded {
            print("\nreview")
            print("  \(recorded.verdictStatus) · \(recorded.total) findings · recorded as review \(recorded.id)")
        } else if task.kind != "review", let result = detail.result {
            print("\nresult")
            print("  " + terminalSafe(result.count > 2000 ? String(result.prefix(2000)) + "…" : result))
        }
        if !findings.isEmpty {
            print("\nfindings")
            let table = TextTable(headers: ["SEVERITY", "AGENT", "RULE", "WHERE", "MESSAGE"], painted: [0])
            let ordered = findings.enumerated().sorted { left, right in
                left.element.severity != right.element.severity
                    ? left.element.severity < right.element.severity : left.offset < right.offset
            }.map(\.element)
            for finding in ordered {
                table.add([
                    finding.severity.rawValue, finding.agent.rawValue, finding.ruleId,
                    finding.path + (finding.line.map { ":\($0)" } ?? ""), oneLine(finding.message, 80),
                ])
            }
            print(indent(table.render(width: indentedWidth)), terminator: "")
        }
    }
}

/// What a review posted to its pull request, with links: the check run (or commit status), the summary comment,
/// the review and how many inline comments it has, and what GitHub refused.
func printPublications(_ publications: [ListPublications.Publication]) {
    guard !publications.isEmpty else { return }
    print("\npublished to the pull request")
    let inline = publications.filter { $0.kind == "review_comment" }.count
    let labels = [
        "check_run": "check run", "commit_status": "commit status", "summary_comment": "summary comment",
        "review": "review", "error": "not posted",
    ]
    for publication in publications where publication.kind != "review_comment" {
        var text: String
        switch publication.kind {
        case "error": text = publication.detail ?? "-"
        case "commit_status": text = publication.detail ?? "-"
        default: text = publication.url ?? publication.githubID.map { "id \($0)" } ?? "-"
        }
        if publication.kind == "review" { text += " (\(inline) inline comment\(inline == 1 ? "" : "s"))" }
        print("  \((labels[publication.kind] ?? publication.kind).padding(15))  \(terminalSafe(text))")
    }
}

/// One attempt, reconstructed from the task's events.
struct Attempt: Encodable {
    let attempt: Int
    let worker: String?
    let startedAt: Date
    let endedAt: Date?
    let durationMilliseconds: Double
    /// `succeeded`, `running`, `failed: …`, `dead: …`, `rescued`, `released: …`, `cancelled`.
    let outcome: String

    enum CodingKeys: String, CodingKey {
        case attempt, worker, outcome
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case durationMilliseconds = "duration_ms"
    }

    /// Pairs every claim (pending → running) with the transition that ended it.
    static func from(_ events: [TaskEvent], errors: [TaskErrorEntry], now: Date) -> [Attempt] {
        var attempts: [Attempt] = []
        var open: TaskEvent?
        func close(_ end: TaskEvent?) {
            guard let start = open else { return }
            let endedAt = end?.at
            let outcome: String
            if let end {
                let reason = end.reason.map { ": \($0)" } ?? ""
                switch end.toState {
                case "succeeded": outcome = "succeeded"
                case "dead":
                    outcome = end.reason == "rescued" ? "dead (lease expired, no attempts left)" : "dead" + reason
                case "pending":
                    if end.reason == "rescued" {
                        outcome = "rescued (lease expired); retried"
                    } else if errors.contains(where: { $0.attempt == start.attempt && $0.message == end.reason }) {
                        outcome = "failed, retried" + reason
                    } else {
                        outcome = "handed back" + reason
                    }
                case "cancelled": outcome = "cancelled"
                default: outcome = end.toState + reason
                }
            } else {
                outcome = "running"
            }
            attempts.append(
                Attempt(
                    attempt: start.attempt, worker: start.worker, startedAt: start.at, endedAt: endedAt,
                    durationMilliseconds: (endedAt ?? now).timeIntervalSince(start.at) * 1000, outcome: outcome
                )
            )
            open = nil
        }
        for event in events {
            if event.toState == "running" {
                close(nil)
                open = event
            } else if event.fromState == "running" {
                close(event)
            }
        }
        close(nil)
        return attempts
    }
}

/// A task event as `--json` prints it.
struct EventOutput: Encodable {
    let at: Date
    let from: String?
    let to: String
    let attempt: Int
    let worker: String?
    let reason: String?

    init(_ event: TaskEvent) {
        at = event.at
        from = event.fromState
        to = event.toState
        attempt = event.attempt
        worker = event.worker
        reason = event.reason
    }
}

/// The review part of `show --json`.
struct ReviewOutput: Encodable {
    let verdictStatus: String
    let summary: String?
    let counts: [String: Int]
    let executionTimeMilliseconds: Double
    let reviewID: Int64?
    let reviewedAt: Date?
    let findings: [Finding]

    enum CodingKeys: String, CodingKey {
        case summary, counts, findings
        case verdictStatus = "verdict_status"
        case executionTimeMilliseconds = "execution_time_ms"
        case reviewID = "review_id"
        case reviewedAt = "reviewed_at"
    }

    init(result: ReviewResult, recorded: ReviewHistoryEntry?, findings: [Finding]) {
        verdictStatus = result.verdictStatus.rawValue
        summary = result.summary
        counts = result.counts
        executionTimeMilliseconds = result.executionTimeMilliseconds
        reviewID = recorded?.id ?? result.reviewID
        reviewedAt = recorded?.reviewedAt
        self.findings = findings
    }

    init(recorded: ReviewHistoryEntry, findings: [Finding]) {
        verdictStatus = recorded.verdictStatus
        summary = nil
        counts = [
            "security": recorded.security, "scale": recorded.scale, "quality": recorded.quality,
            "architecture": recorded.architecture,
        ]
        executionTimeMilliseconds = recorded.executionTimeMilliseconds
        reviewID = recorded.id
        reviewedAt = recorded.reviewedAt
        self.findings = findings
    }
}

/// `show --json`.
struct ShowOutput: Encodable {
    let task: TaskSummary
    let rescues: Int
    let leaseExpiresAt: Date?
    let heartbeatAt: Date?
    let updatedAt: Date
    let payload: JSONValue
    let result: JSONValue?
    let errors: [TaskErrorEntry]
    let attempts: [Attempt]
    let events: [EventOutput]
    let checkpoints: [CheckpointRow]
    let review: ReviewOutput?
    let publications: [ListPublications.Publication]

    enum CodingKeys: String, CodingKey {
        case task, rescues, payload, result, errors, attempts, events, checkpoints, review, publications
        case leaseExpiresAt = "lease_expires_at"
        case heartbeatAt = "heartbeat_at"
        case updatedAt = "updated_at"
    }
}

/// Indents every line by two spaces.
/// The width an indented table may take: the terminal's, less the indentation; nil when piped.
var indentedWidth: Int? { Terminal.isTerminal(1) ? Terminal.columns(1) - 2 : nil }

func indent(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }.joined(
        separator: "\n")
}

extension String {
    /// The string padded with spaces to `width` characters.
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
