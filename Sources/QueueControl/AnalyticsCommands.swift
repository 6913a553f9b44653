import ArgumentParser
import ReviewAgents
import ReviewStore

/// `--repo` for the analytics reports.
struct RepoFilterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Only this repository, owner/name (default: all).", valueName: "owner/name"))
    var repo: String?

    func validate() throws {
        if let repo, let problem = EnqueueReviewCommand.repoProblem(repo) { throw ValidationError(problem) }
    }

    /// `acme/api` or `all repositories`, for headings and messages.
    var label: String { repo ?? "all repositories" }
}

/// Checks `--days`.
func validateDays(_ days: Int?) throws {
    if let days, !(1...3650).contains(days) { throw ValidationError("--days must be between 1 and 3650 (got \(days))") }
}

/// `queuectl history`: recent reviews.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Recent reviews of a repository: verdict, findings per agent, time.",
        discussion: """
            Examples:
              queuectl history --repo acme/api
              queuectl history --repo acme/api --limit 100 --format csv > reviews.csv
            """
    )

    @OptionGroup var filter: RepoFilterOptions

    @Option(help: ArgumentHelp("At most this many reviews, newest first (1-10000).", valueName: "n"))
    var limit = 20

    @OptionGroup var output: FormatOptions

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard (1...10_000).contains(limit) else {
            throw ValidationError("--limit must be between 1 and 10000 (got \(limit))")
        }
    }

    func run() async throws {
        try await reportingErrors {
            try await database.withPool(logger: makeCLILogger()) { pool in
                let entries = try await ReviewAnalytics(pool: pool).history(repo: filter.repo, limit: limit)
                switch output.effective {
                case .json: try printJSON(entries)
                case .csv:
                    printCSV(
                        headers: [
                            "reviewed_at", "repo", "pr_number", "title", "author", "head_sha", "verdict_status",
                            "security",
                            "scale", "quality", "architecture", "total", "execution_time_ms", "task_id", "review_id",
                        ],
                        rows: entries.map { entry in
                            [
                                isoTimestamp(entry.reviewedAt), entry.repo ?? "", entry.prNumber.map(String.init) ?? "",
                                entry.title ?? "", entry.author ?? "", entry.headSHA ?? "", entry.verdictStatus,
                                String(entry.security), String(entry.scale), String(entry.quality),
                                String(entry.architecture),
                                String(entry.total), String(entry.executionTimeMilliseconds), String(entry.taskID),
                                String(entry.id),
                            ]
                        }
                    )
                case .table:
                    guard !entries.isEmpty else {
                        printError("no reviews recorded for \(filter.label)")
                        return
                    }
                    let table = TextTable(
                        headers: [
                            "REVIEWED", "PR", "TITLE", "AUTHOR", "HEAD", "VERDICT", "SEC", "SCALE", "QUAL", "ARCH",
                            "TOTAL", "TIME", "TASK",
                        ],
                        rightAligned: [6, 7, 8, 9, 10, 11, 12], flexible: [2], optional: [4, 11, 9, 8, 7, 6, 3],
                        painted: [5]
                    )
                    for entry in entries {
                        let number = entry.prNumber.map { "#\($0)" } ?? "-"
                        table.add([
                            formatTimestamp(entry.reviewedAt),
                            filter.repo == nil ? (entry.repo ?? "-") + number : number,
                            oneLine(entry.title ?? "-", 40), entry.author ?? "-",
                            entry.headSHA.map { String($0.prefix(7)) } ?? "-",
                            entry.verdictStatus, String(entry.security), String(entry.scale), String(entry.quality),
                            String(entry.architecture), String(entry.total),
                            formatMilliseconds(entry.executionTimeMilliseconds),
                            String(entry.taskID),
                        ])
                    }
                    print(table.render(), terminator: "")
                }
            }
        }
    }
}

/// `queuectl trends`: findings per day per agent.
struct TrendsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trends",
        abstract: "Findings per day and agent over the last days (UTC days, today included).",
        discussion: """
            --chart draws one sparkline per agent (a column per day, blank = no findings) and a bar per day.

            Examples:
              queuectl trends --repo acme/api --days 30
              queuectl trends --repo acme/api --days 14 --chart
              queuectl trends --days 90 --format csv
            """
    )

    @OptionGroup var filter: RepoFilterOptions

    @Option(help: ArgumentHelp("How many days, today included (1-3650).", valueName: "n"))
    var days = 30

    @Flag(help: "Draw sparklines and bars instead of a table.")
    var chart = false

    @OptionGroup var output: FormatOptions

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        try validateDays(days)
        if chart, output.effective != .table {
            throw ValidationError("--chart draws on the terminal: leave out --json/--format")
        }
    }

    func run() async throws {
        try await reportingErrors {
            try await database.withPool(logger: makeCLILogger()) { pool in
                let trend = try await ReviewAnalytics(pool: pool).trends(repo: filter.repo, days: days)
                let agents = ReviewAgentName.all
                switch output.effective {
                case .json: try printJSON(trend)
                case .csv:
                    printCSV(
                        headers: ["day", "reviews"] + agents + ["total"],
                        rows: trend.map { day in
                            [day.day, String(day.reviews)] + agents.map { String(day.count(of: $0)) } + [
                                String(day.total)
                            ]
                        }
                    )
                case .table where chart:
                    print(renderTrendChart(trend, label: filter.label, days: days), terminator: "")
                case .table:
                    let table = TextTable(
                        headers: ["DAY", "REVIEWS"] + agents.map { $0.uppercased() } + ["TOTAL"],
                        rightAligned: Set(1...6))
                    for day in trend {
                        table.add(
                            [day.day, String(day.reviews)] + agents.map { String(day.count(of: $0)) } + [
                                String(day.total)
                            ])
                    }
                    print(table.render(), terminator: "")
                }
            }
        }
    }
}

/// Sparklines per agent and a bar per day.
func renderTrendChart(_ trend: [FindingsTrendDay], label: String, days: Int) -> String {
    let agents = ReviewAgentName.all
    var text = "findings per day · \(label) · last \(days) day\(days == 1 ? "" : "s") (UTC)"
    if let first = trend.first, let last = trend.last { text += " · \(first.day) … \(last.day)" }
    text += "\n\n"
    let rows = agents.map { agent in (agent, trend.map { $0.count(of: agent) }) } + [("total", trend.map(\.total))]
    let width = rows.map(\.0.count).max() ?? 0
    for (name, values) in rows {
        let sum = values.reduce(0, +)
        text +=
            "\(name.padding(width))  \(Chart.sparkline(values))  \(formatCount(sum)) (max \(values.max() ?? 0)/day)\n"
    }
    text += "\n"
    let maximum = Double(trend.map(\.total).max() ?? 0)
    for day in trend {
        let bar = Chart.bar(Double(day.total), maximum: maximum, width: 40)
        text += "\(day.day)  \(bar)\(bar.isEmpty ? "" : " ")\(day.total)\n"
    }
    return text
}

/// `queuectl performance`: per agent timings and findings.
struct PerformanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "performance",
        abstract: "Per agent over the last days: runs, mean, p50, p95 and longest time, findings.",
        discussion: """
            Percentiles are continuous (interpolated between the two nearest runs), as PostgreSQL's \
            percentile_cont computes them.

            Examples:
              queuectl performance --days 30
              queuectl performance --days 7 --repo acme/api --json
            """
    )

    @Option(help: ArgumentHelp("How many days back (1-3650).", valueName: "n"))
    var days = 30

    @OptionGroup var filter: RepoFilterOptions

    @OptionGroup var output: FormatOptions

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        try validateDays(days)
    }

    func run() async throws {
        try await reportingErrors {
            try await database.withPool(logger: makeCLILogger()) { pool in
                let agents = try await ReviewAnalytics(pool: pool).performance(days: days, repo: filter.repo)
                switch output.effective {
                case .json: try printJSON(agents)
                case .csv:
                    printCSV(
                        headers: ["agent", "runs", "mean_ms", "p50_ms", "p95_ms", "max_ms", "findings"],
                        rows: agents.map { agent in
                            [
                                agent.agent, String(agent.runs), String(agent.meanMilliseconds),
                                String(agent.p50Milliseconds),
                                String(agent.p95Milliseconds), String(agent.maxMilliseconds), String(agent.findings),
                            ]
                        }
                    )
                case .table:
                    guard !agents.isEmpty else {
                        printError("no agent runs recorded in the last \(days) days for \(filter.label)")
                        return
                    }
                    let table = TextTable(
                        headers: ["AGENT", "RUNS", "MEAN", "P50", "P95", "MAX", "FINDINGS", "PER RUN"],
                        rightAligned: Set(1...7)
                    )
                    for agent in agents {
                        table.add([
                            agent.agent, formatCount(agent.runs), formatMilliseconds(agent.meanMilliseconds),
                            formatMilliseconds(agent.p50Milliseconds), formatMilliseconds(agent.p95Milliseconds),
                            formatMilliseconds(agent.maxMilliseconds), formatCount(agent.findings),
                            format2(agent.runs == 0 ? 0 : Double(agent.findings) / Double(agent.runs)),
                        ])
                    }
                    print(table.render(), terminator: "")
                }
            }
        }
    }
}

/// `queuectl verdicts`: the distribution of verdicts.
struct VerdictsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verdicts",
        abstract: "How many reviews approved, approved with comments, or requested changes.",
        discussion: """
            Examples:
              queuectl verdicts --repo acme/api
              queuectl verdicts --repo acme/api --days 30 --chart
            """
    )

    @OptionGroup var filter: RepoFilterOptions

    @Option(help: ArgumentHelp("Only the last n days (default: all time).", valueName: "n"))
    var days: Int?

    @Flag(help: "Draw bars instead of a table.")
    var chart = false

    @OptionGroup var output: FormatOptions

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        try validateDays(days)
        if chart, output.effective != .table {
            throw ValidationError("--chart draws on the terminal: leave out --json/--format")
        }
    }

    func run() async throws {
        try await reportingErrors {
            try await database.withPool(logger: makeCLILogger()) { pool in
                let verdicts = try await ReviewAnalytics(pool: pool).verdicts(repo: filter.repo, days: days)
                let total = verdicts.reduce(0) { $0 + $1.reviews }
                switch output.effective {
                case .json: try printJSON(verdicts)
                case .csv:
                    printCSV(
                        headers: ["verdict_status", "reviews", "percent"],
                        rows: verdicts.map { [$0.verdictStatus, String($0.reviews), String($0.percent)] }
                    )
                case .table where chart:
                    let width = verdicts.map(\.verdictStatus.count).max() ?? 0
                    let maximum = Double(verdicts.map(\.reviews).max() ?? 0)
                    print(
                        "verdicts · \(filter.label) · \(days.map { "last \($0) days" } ?? "all time") · \(formatCount(total)) reviews\n"
                    )
                    for verdict in verdicts {
                        let bar = Chart.bar(Double(verdict.reviews), maximum: maximum, width: 40)
                        print(
                            "\(verdict.verdictStatus.padding(width))  \(bar)\(bar.isEmpty ? "" : " ")\(verdict.reviews) (\(format1(verdict.percent))%)"
                        )
                    }
                case .table:
                    let table = TextTable(
                        headers: ["VERDICT", "REVIEWS", "PERCENT"], rightAligned: [1, 2], painted: [0])
                    for verdict in verdicts {
                        table.add([verdict.verdictStatus, formatCount(verdict.reviews), format1(verdict.percent) + "%"])
                    }
                    table.add(["total", formatCount(total), total == 0 ? "-" : "100.0%"])
                    print(table.render(), terminator: "")
                }
            }
        }
    }
}

/// `queuectl findings`: the most frequent rules and where they fire.
struct FindingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "findings",
        abstract: "The rules that fire most often, and the files where they fire.",
        discussion: """
            WHERE lists the three files with the most findings of the rule, with their counts.

            Examples:
              queuectl findings --repo acme/api --limit 10
              queuectl findings --repo acme/api --days 30 --json
            """
    )

    @OptionGroup var filter: RepoFilterOptions

    @Option(help: ArgumentHelp("How many rules (1-1000).", valueName: "n"))
    var limit = 10

    @Option(help: ArgumentHelp("Only the last n days (default: all time).", valueName: "n"))
    var days: Int?

    @OptionGroup var output: FormatOptions

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        try validateDays(days)
        guard (1...1000).contains(limit) else {
            throw ValidationError("--limit must be between 1 and 1000 (got \(limit))")
        }
    }

    func run() async throws {
        try await reportingErrors {
            try await database.withPool(logger: makeCLILogger()) { pool in
                let rules = try await ReviewAnalytics(pool: pool).topFindings(
                    repo: filter.repo, days: days, limit: limit)
                func locations(_ rule: RuleFrequency, separator: String) -> String {
                    rule.locations.map { "\($0.path) (\($0.count))" }.joined(separator: separator)
                }
                switch output.effective {
                case .json: try printJSON(rules)
                case .csv:
                    printCSV(
                        headers: ["rule_id", "agent", "severity", "occurrences", "reviews", "files", "top_locations"],
                        rows: rules.map { rule in
                            [
                                rule.ruleID, rule.agent, rule.severity, String(rule.occurrences), String(rule.reviews),
                                String(rule.files), locations(rule, separator: "; "),
                            ]
                        }
                    )
                case .table:
                    guard !rules.isEmpty else {
                        printError("no findings recorded for \(filter.label)")
                        return
                    }
                    let table = TextTable(
                        headers: ["RULE", "AGENT", "SEVERITY", "COUNT", "REVIEWS", "FILES", "WHERE"],
                        rightAligned: [3, 4, 5], painted: [2]
                    )
                    for rule in rules {
                        table.add([
                            rule.ruleID, rule.agent, rule.severity, formatCount(rule.occurrences),
                            formatCount(rule.reviews),
                            formatCount(rule.files), locations(rule, separator: ", "),
                        ])
                    }
                    print(table.render(), terminator: "")
                }
            }
        }
    }
}
