import Foundation
import PostgresClient
import ReviewStore
import TestSupport
import Testing

/// One seeded review: its repository, verdict, findings per agent, timing, and how many days before today (UTC)
/// it happened.
struct SeedReview {
    let repo: String
    let pr: Int
    let verdict: String
    /// security, scale, quality, architecture
    let counts: [Int]
    let daysAgo: Int
    let hour: Int
    let milliseconds: Double
    /// Per-agent run times, in the order of ReviewAgentName.all.
    let agentMilliseconds: [Double]
}

/// The seeded reviews; every expectation below is computed from this list, by hand-written Swift.
let seedReviews: [SeedReview] = [
    SeedReview(
        repo: "acme/api", pr: 1, verdict: "approved", counts: [0, 0, 0, 0], daysAgo: 0, hour: 0, milliseconds: 1200,
        agentMilliseconds: [10, 20, 30, 40]),
    SeedReview(
        repo: "acme/api", pr: 2, verdict: "approved_with_comments", counts: [0, 1, 2, 0], daysAgo: 1, hour: 1,
        milliseconds: 3400, agentMilliseconds: [15, 25, 35, 45]),
    SeedReview(
        repo: "acme/api", pr: 3, verdict: "changes_requested", counts: [2, 0, 1, 1], daysAgo: 1, hour: 2,
        milliseconds: 5000, agentMilliseconds: [100, 5, 60, 7]),
    SeedReview(
        repo: "acme/api", pr: 4, verdict: "changes_requested", counts: [1, 0, 0, 0], daysAgo: 3, hour: 0,
        milliseconds: 800, agentMilliseconds: [12, 12, 12, 12]),
    SeedReview(
        repo: "acme/api", pr: 5, verdict: "approved", counts: [0, 0, 3, 0], daysAgo: 40, hour: 0, milliseconds: 900,
        agentMilliseconds: [1000, 1000, 1000, 1000]),
    SeedReview(
        repo: "acme/web", pr: 1, verdict: "approved_with_comments", counts: [0, 0, 3, 0], daysAgo: 0, hour: 0,
        milliseconds: 1000, agentMilliseconds: [11, 21, 31, 41]),
]

/// The rule and file of the n-th finding of an agent in a review: a few rules recur, in a few files.
func seedFinding(_ review: SeedReview, agent: String, index: Int) -> (rule: String, severity: String, path: String) {
    let rule = "\(agent).rule-\(index % 2)"
    let severity = index == 0 ? (agent == "security" ? "critical" : "medium") : "low"
    let path = index == 2 ? "src/other.py" : "src/\(agent).py"
    return (rule, severity, path)
}

/// Writes the seed: review_history rows, their findings, and their agents' runs.
func seedAnalytics(_ fixture: QueueFixture) async throws {
    for (index, review) in seedReviews.enumerated() {
        let reviewedAt =
            "(date_trunc('day', now() AT TIME ZONE 'UTC') - make_interval(days => \(review.daysAgo)) + make_interval(hours => \(review.hour), mins => 1)) AT TIME ZONE 'UTC'"
        let reviewID = try await fixture.scalar(
            Int64.self,
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO review_history (task_id, repo, pr_number, pr_title, pr_author, head_sha, review_verdict,
                        security_findings, scale_findings, code_quality_findings, architecture_findings, verdict_status,
                        reviewed_at, execution_time_ms)
                    VALUES ($1, $2, $3, $4, 'alice', $5, 'summary', $6, $7, $8, $9, $10, \(reviewedAt), $11)
                    RETURNING id
                    """,
                binds: [
                    String(1000 + index), review.repo, String(review.pr), "PR \(review.pr)", "abcdef\(index)",
                    String(review.counts[0]), String(review.counts[1]), String(review.counts[2]),
                    String(review.counts[3]),
                    review.verdict, String(review.milliseconds),
                ]
            )
        )
        for (agentIndex, agent) in ReviewAgentName.all.enumerated() {
            for findingIndex in 0..<review.counts[agentIndex] {
                let finding = seedFinding(review, agent: agent, index: findingIndex)
                try await fixture.pool.execute(
                    PostgresQuery(
                        unsafeSQL: """
                            INSERT INTO findings (review_id, task_id, repo, agent, rule_id, severity, path, line, message,
                                fingerprint, created_at)
                            VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 'message', 'fp', \(reviewedAt))
                            """,
                        binds: [
                            String(reviewID), String(1000 + index), review.repo, agent, finding.rule, finding.severity,
                            finding.path,
                        ]
                    )
                )
            }
            try await fixture.pool.execute(
                PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO agent_performance (review_id, task_id, agent, execution_time_ms, findings_count, executed_at)
                        VALUES ($1, $2, $3, $4, $5, \(reviewedAt))
                        """,
                    binds: [
                        String(reviewID), String(1000 + index), agent, String(review.agentMilliseconds[agentIndex]),
                        String(review.counts[agentIndex]),
                    ]
                )
            )
        }
    }
}

/// Today's UTC date as the database sees it, and the day `offset` days before it, as `YYYY-MM-DD`.
func utcDay(_ today: Date, minus offset: Int) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let day = calendar.date(byAdding: .day, value: -offset, to: today)!
    let parts = calendar.dateComponents([.year, .month, .day], from: day)
    return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
}

@Suite("queuectl analytics", .serialized)
struct AnalyticsTests {
    @Test("history: a repository's reviews, newest first, with verdict, counts and time")
    func history() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            try await seedAnalytics(fixture)
            let entries = try await cli.json(
                [ReviewHistoryEntry].self, ["history", "--repo", "acme/api", "--limit", "3"])
            let expected = seedReviews.filter { $0.repo == "acme/api" }
                .sorted { ($0.daysAgo, -$0.hour) < ($1.daysAgo, -$1.hour) }
                .prefix(3)
            #expect(entries.map(\.prNumber) == expected.map(\.pr))
            #expect(entries.map(\.verdictStatus) == expected.map(\.verdict))
            #expect(entries.map(\.security) == expected.map { $0.counts[0] })
            #expect(entries.map(\.quality) == expected.map { $0.counts[2] })
            #expect(entries.map(\.total) == expected.map { $0.counts.reduce(0, +) })
            #expect(entries.map(\.executionTimeMilliseconds) == expected.map(\.milliseconds))
            #expect(entries.allSatisfy { $0.repo == "acme/api" && $0.author == "alice" })

            let all = try await cli.json([ReviewHistoryEntry].self, ["history"])
            #expect(all.count == seedReviews.count)

            let table = try await cli.run(["history", "--repo", "acme/api", "--limit", "3"])
            let lines = table.standardOutput.split(separator: "\n")
            #expect(lines.count == 4)
            #expect(lines[0].hasPrefix("REVIEWED"))
            #expect(lines[1].contains("#1") && lines[1].contains("approved") && lines[1].contains("1.20s"))
            #expect(lines[2].contains("#3") && lines[2].contains("changes_requested"))
            // At 80 columns: the title gives way, then HEAD, TIME, the counts per agent and AUTHOR are left out.
            let narrow = try await cli.run(["history"], environment: ["COLUMNS": "80"], terminal: true)
            let visible = narrow.standardOutput.replacing(/\x1B\[[0-9;]*m/, with: "").split(separator: "\n")
            #expect(visible.allSatisfy { $0.count <= 80 }, "\(visible.map(\.count)) \(narrow.standardOutput)")
            #expect(visible.dropFirst().allSatisfy { $0.contains("approved") || $0.contains("changes_requested") })

            let csv = try await cli.run(["history", "--repo", "acme/web", "--format", "csv"])
            let csvLines = csv.standardOutput.split(separator: "\n")
            #expect(csvLines.count == 2)
            #expect(
                csvLines[0]
                    == "reviewed_at,repo,pr_number,title,author,head_sha,verdict_status,security,scale,quality,architecture,total,execution_time_ms,task_id,review_id"
            )
            #expect(
                csvLines[1].contains(",acme/web,1,PR 1,alice,abcdef5,approved_with_comments,0,0,3,0,3,1000.0,1005,"))

            let none = try await cli.run(["history", "--repo", "acme/none"])
            #expect(none.status == 0)
            #expect(none.standardError.contains("no reviews recorded for acme/none"))
        }
    }

    @Test("trends: findings per UTC day and agent, zero days included, as table, JSON, CSV and chart")
    func trends() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            try await seedAnalytics(fixture)
            let today = try await fixture.scalar(
                Date.self, "SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'")
            let days = try await cli.json([FindingsTrendDay].self, ["trends", "--repo", "acme/api", "--days", "7"])
            #expect(days.count == 7)
            #expect(days.map(\.day) == (0..<7).reversed().map { utcDay(today, minus: $0) })
            for (offset, day) in zip((0..<7).reversed(), days) {
                let reviews = seedReviews.filter { $0.repo == "acme/api" && $0.daysAgo == offset }
                let expected = FindingsTrendDay(
                    day: utcDay(today, minus: offset), reviews: reviews.count,
                    security: reviews.reduce(0) { $0 + $1.counts[0] }, scale: reviews.reduce(0) { $0 + $1.counts[1] },
                    quality: reviews.reduce(0) { $0 + $1.counts[2] },
                    architecture: reviews.reduce(0) { $0 + $1.counts[3] }
                )
                #expect(day == expected)
            }
            // Yesterday: PR 2 and PR 3.
            #expect(days[5].total == 7)
            #expect(days[5].reviews == 2)

            // 30 days leave out the review from 40 days ago; all repositories add acme/web's three findings today.
            let all = try await cli.json([FindingsTrendDay].self, ["trends", "--days", "30"])
            #expect(all.count == 30)
            #expect(
                all.reduce(0) { $0 + $1.total }
                    == seedReviews.filter { $0.daysAgo < 30 }.reduce(0) { $0 + $1.counts.reduce(0, +) })
            #expect(all.last?.quality == 3)

            let csv = try await cli.run(["trends", "--repo", "acme/api", "--days", "2", "--format", "csv"])
            #expect(
                csv.standardOutput == """
                    day,reviews,security,scale,quality,architecture,total
                    \(utcDay(today, minus: 1)),2,2,1,3,1,7
                    \(utcDay(today, minus: 0)),1,0,0,0,0,0

                    """)

            let chart = try await cli.run(["trends", "--repo", "acme/api", "--days", "7", "--chart"])
            #expect(chart.status == 0)
            let lines = chart.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(
                lines[0].hasPrefix(
                    "findings per day · acme/api · last 7 days (UTC) · \(utcDay(today, minus: 6)) … \(utcDay(today, minus: 0))"
                ))
            // security: 1 three days ago, 2 yesterday -> the largest is a full block, the smaller a lower one.
            let security = try #require(lines.first { $0.hasPrefix("security") })
            #expect(security.contains("   ▅ █ ") || security.contains("   ▄ █ "), "\(security)")
            #expect(security.hasSuffix("3 (max 2/day)"))
            let yesterday = try #require(lines.first { $0.hasPrefix(utcDay(today, minus: 1)) })
            #expect(yesterday == "\(utcDay(today, minus: 1))  " + String(repeating: "█", count: 40) + " 7")
            let threeDaysAgo = try #require(lines.first { $0.hasPrefix(utcDay(today, minus: 3)) })
            #expect(threeDaysAgo.hasSuffix("█████▋ 1"), "1/7 of 40 cells is 5.7: \(threeDaysAgo)")

            expectError(
                try await cli.run(["trends", "--days", "0"]), status: 2, containing: "--days must be between 1 and 3650"
            )
            expectError(
                try await cli.run(["trends", "--chart", "--json"]), status: 2,
                containing: "--chart draws on the terminal")
            expectError(try await cli.run(["trends", "--repo", "not-a-repo"]), status: 2, containing: "OWNER/NAME")
        }
    }

    @Test("performance: per agent runs, mean, continuous p50 and p95, longest, findings over the window")
    func performance() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            try await seedAnalytics(fixture)
            for (arguments, included) in [
                (["--days", "30"], seedReviews.filter { $0.daysAgo < 30 }),
                (["--days", "60"], seedReviews),
                (
                    ["--days", "30", "--repo", "acme/api"],
                    seedReviews.filter { $0.daysAgo < 30 && $0.repo == "acme/api" }
                ),
            ] {
                let agents = try await cli.json([AgentPerformanceSummary].self, ["performance"] + arguments)
                #expect(agents.map(\.agent) == ReviewAgentName.all)
                for (index, agent) in agents.enumerated() {
                    let times = included.map { $0.agentMilliseconds[index] }
                    #expect(agent.runs == times.count, "\(arguments) \(agent.agent)")
                    #expect(abs(agent.meanMilliseconds - times.reduce(0, +) / Double(times.count)) < 1e-9)
                    #expect(
                        abs(agent.p50Milliseconds - percentileCont(times, 0.5)) < 1e-9, "\(arguments) \(agent.agent)")
                    #expect(
                        abs(agent.p95Milliseconds - percentileCont(times, 0.95)) < 1e-9, "\(arguments) \(agent.agent)")
                    #expect(agent.maxMilliseconds == times.max())
                    #expect(agent.findings == included.reduce(0) { $0 + $1.counts[index] })
                }
            }
            // Spot-check by hand: security over 30 days ran 10, 15, 100, 12, 11 ms -> sorted 10 11 12 15 100.
            let security = try #require(
                try await cli.json([AgentPerformanceSummary].self, ["performance", "--days", "30"]).first)
            #expect(security.p50Milliseconds == 12)
            #expect(abs(security.p95Milliseconds - 83) < 1e-9)  // 15 + 0.8 · (100 - 15)
            #expect(security.meanMilliseconds == 29.6)

            let table = try await cli.run(["performance", "--days", "30"])
            let securityRow = try #require(
                table.standardOutput.split(separator: "\n").first { $0.hasPrefix("security") })
            #expect(
                securityRow.split(separator: " ") == [
                    "security", "5", "29.6ms", "12.0ms", "83.0ms", "100ms", "3", "0.60",
                ])
            let csv = try await cli.run(["performance", "--days", "30", "--format", "csv"])
            let csvLines = csv.standardOutput.split(separator: "\n")
            #expect(csvLines.first == "agent,runs,mean_ms,p50_ms,p95_ms,max_ms,findings")
            let fields = try #require(csvLines.dropFirst().first).split(separator: ",")
            #expect(fields.count == 7)
            #expect(fields[0] == "security" && fields[1] == "5" && fields[6] == "3")
            #expect(
                zip(fields[2...5].compactMap { Double($0) }, [29.6, 12, 83, 100]).allSatisfy { abs($0 - $1) < 1e-9 })
            let empty = try await cli.run(["performance", "--repo", "acme/none"])
            #expect(empty.standardError.contains("no agent runs recorded"))
        }
    }

    @Test("verdicts: the distribution with shares, over all time or the last days; --chart draws bars")
    func verdicts() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            try await seedAnalytics(fixture)
            for (arguments, included) in [
                (["--repo", "acme/api"], seedReviews.filter { $0.repo == "acme/api" }),
                (
                    ["--repo", "acme/api", "--days", "30"],
                    seedReviews.filter { $0.repo == "acme/api" && $0.daysAgo < 30 }
                ),
                ([], seedReviews),
            ] {
                let counts = try await cli.json([VerdictCount].self, ["verdicts"] + arguments)
                #expect(counts.map(\.verdictStatus) == ["approved", "approved_with_comments", "changes_requested"])
                for count in counts {
                    let reviews = included.filter { $0.verdict == count.verdictStatus }.count
                    #expect(count.reviews == reviews, "\(arguments) \(count.verdictStatus)")
                    #expect(abs(count.percent - Double(reviews) * 100 / Double(included.count)) < 1e-9)
                }
            }
            let table = try await cli.run(["verdicts", "--repo", "acme/api"])
            #expect(
                table.standardOutput == """
                    VERDICT                 REVIEWS  PERCENT
                    approved                      2    40.0%
                    approved_with_comments        1    20.0%
                    changes_requested             2    40.0%
                    total                         5   100.0%

                    """)
            let chart = try await cli.run(["verdicts", "--repo", "acme/api", "--chart"])
            #expect(chart.standardOutput.contains("verdicts · acme/api · all time · 5 reviews"))
            #expect(
                chart.standardOutput.contains(
                    "approved_with_comments  " + String(repeating: "█", count: 20) + " 1 (20.0%)"))
            #expect(
                chart.standardOutput.contains(
                    "changes_requested       " + String(repeating: "█", count: 40) + " 2 (40.0%)"))
        }
    }

    @Test("findings: the most frequent rules with their worst severity, reviews, files and top locations")
    func findings() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            try await seedAnalytics(fixture)
            // Expected, from the seed: every finding of acme/api, grouped by (rule, agent).
            struct Occurrence {
                let rule: String
                let agent: String
                let severity: String
                let path: String
                let review: Int
            }
            var occurrences: [Occurrence] = []
            for (reviewIndex, review) in seedReviews.enumerated() where review.repo == "acme/api" {
                for (agentIndex, agent) in ReviewAgentName.all.enumerated() {
                    for index in 0..<review.counts[agentIndex] {
                        let finding = seedFinding(review, agent: agent, index: index)
                        occurrences.append(
                            Occurrence(
                                rule: finding.rule, agent: agent, severity: finding.severity, path: finding.path,
                                review: reviewIndex))
                    }
                }
            }
            let severityRank = ["critical", "high", "medium", "low", "info"]
            let grouped = Dictionary(grouping: occurrences) { "\($0.rule)|\($0.agent)" }
            let expected = grouped.values.map { group -> RuleFrequency in
                let paths = Dictionary(grouping: group, by: \.path).mapValues(\.count)
                let top = paths.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.prefix(3)
                return RuleFrequency(
                    ruleID: group[0].rule, agent: group[0].agent,
                    severity: group.map(\.severity).min {
                        severityRank.firstIndex(of: $0)! < severityRank.firstIndex(of: $1)!
                    }!,
                    occurrences: group.count, reviews: Set(group.map(\.review)).count, files: paths.count,
                    locations: top.map { RuleLocation(path: $0.key, count: $0.value) }
                )
            }.sorted { ($1.occurrences, $0.ruleID) < ($0.occurrences, $1.ruleID) }

            let top = try await cli.json([RuleFrequency].self, ["findings", "--repo", "acme/api", "--limit", "3"])
            #expect(top == Array(expected.prefix(3)))
            // By hand: quality.rule-0 fired once in PRs 2 and 3 and twice in PR 5 (once in src/other.py); the two
            // rules with two findings tie and are ordered by id.
            #expect(top.map(\.ruleID) == ["quality.rule-0", "quality.rule-1", "security.rule-0"])
            #expect(top.first?.occurrences == 4)
            #expect(top.first?.reviews == 3)
            #expect(top.first?.files == 2)
            #expect(
                top.first?.locations == [
                    RuleLocation(path: "src/quality.py", count: 3), RuleLocation(path: "src/other.py", count: 1),
                ])
            #expect(top.last?.severity == "critical")

            let recent = try await cli.json(
                [RuleFrequency].self, ["findings", "--repo", "acme/api", "--days", "30", "--limit", "50"])
            #expect(
                recent.reduce(0) { $0 + $1.occurrences }
                    == seedReviews.filter { $0.repo == "acme/api" && $0.daysAgo < 30 }.reduce(0) {
                        $0 + $1.counts.reduce(0, +)
                    })

            let table = try await cli.run(["findings", "--repo", "acme/api", "--limit", "3"])
            let lines = table.standardOutput.split(separator: "\n")
            #expect(lines.count == 4)
            #expect(lines[1].hasPrefix("quality.rule-0") && lines[1].hasSuffix("src/quality.py (3), src/other.py (1)"))
            let csv = try await cli.run(["findings", "--repo", "acme/api", "--limit", "1", "--format", "csv"])
            #expect(
                csv.standardOutput
                    == "rule_id,agent,severity,occurrences,reviews,files,top_locations\nquality.rule-0,quality,medium,4,3,2,src/quality.py (3); src/other.py (1)\n"
            )
            expectError(
                try await cli.run(["findings", "--limit", "0"]), status: 2,
                containing: "--limit must be between 1 and 1000")
        }
    }
}
