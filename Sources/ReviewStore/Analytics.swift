public import PostgresClient
public import ReviewAgents

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The analytics reports over `review_history`, `findings` and `agent_performance`.
///
/// Every query is read-only. Days are UTC days. A `repo` of `nil` means every repository.
public struct ReviewAnalytics: Sendable {
    /// The pool the queries run on.
    public let pool: PostgresConnectionPool

    /// Creates the reports over a pool.
    public init(pool: PostgresConnectionPool) {
        self.pool = pool
    }

    /// The most recent reviews, newest first.
    public func history(repo: String?, limit: Int) async throws -> [ReviewHistoryEntry] {
        let rows = try await pool.query(
            """
            SELECT id, task_id, reviewed_at, repo, pr_number, pr_title, pr_author, head_sha, pr_url, verdict_status,
                   security_findings, scale_findings, code_quality_findings, architecture_findings, total_findings,
                   execution_time_ms
            FROM review_history
            WHERE (\(repo)::text IS NULL OR repo = \(repo)::text)
            ORDER BY reviewed_at DESC, id DESC
            LIMIT \(limit)::integer
            """
        )
        return try rows.map(Self.entry)
    }

    private static func entry(_ row: PostgresRow) throws -> ReviewHistoryEntry {
        ReviewHistoryEntry(
            id: try row.decode(Int64.self, "id"),
            taskID: try row.decode(Int64.self, "task_id"),
            reviewedAt: try row.decode(Date.self, "reviewed_at"),
            repo: try row.decode(String?.self, "repo"),
            prNumber: try row.decode(Int?.self, "pr_number"),
            title: try row.decode(String?.self, "pr_title"),
            author: try row.decode(String?.self, "pr_author"),
            headSHA: try row.decode(String?.self, "head_sha"),
            prURL: try row.decode(String?.self, "pr_url"),
            verdictStatus: try row.decode(String.self, "verdict_status"),
            security: try row.decode(Int.self, "security_findings"),
            scale: try row.decode(Int.self, "scale_findings"),
            quality: try row.decode(Int.self, "code_quality_findings"),
            architecture: try row.decode(Int.self, "architecture_findings"),
            total: try row.decode(Int.self, "total_findings"),
            executionTimeMilliseconds: try row.decode(Double.self, "execution_time_ms")
        )
    }

    /// The review recorded for a task, if any.
    public func review(taskID: Int64) async throws -> ReviewHistoryEntry? {
        let rows = try await pool.query(
            """
            SELECT id, task_id, reviewed_at, repo, pr_number, pr_title, pr_author, head_sha, pr_url, verdict_status,
                   security_findings, scale_findings, code_quality_findings, architecture_findings, total_findings,
                   execution_time_ms
            FROM review_history WHERE task_id = \(taskID)
            """
        )
        return try rows.single.map(Self.entry)
    }

    /// The findings recorded for a task's review, most severe first.
    public func findings(taskID: Int64) async throws -> [Finding] {
        let rows = try await pool.query(
            """
            SELECT f.agent, f.rule_id, f.severity, f.path, f.line, f.message, f.suggestion, f.fingerprint, f.source
            FROM findings f JOIN review_history r ON r.id = f.review_id
            WHERE r.task_id = \(taskID)
            ORDER BY array_position(ARRAY['critical', 'high', 'medium', 'low', 'info'], f.severity), f.path, f.line, f.id
            """
        )
        return try rows.map { row in
            let agent = try row.decode(String.self, "agent")
            let severity = try row.decode(String.self, "severity")
            guard let agentKind = AgentKind(rawValue: agent), let level = Severity(rawValue: severity) else {
                throw PostgresError.unexpectedResult(
                    "a finding has an unknown agent '\(agent)' or severity '\(severity)'")
            }
            return Finding(
                agent: agentKind,
                ruleId: try row.decode(String.self, "rule_id"),
                severity: level,
                path: try row.decode(String.self, "path"),
                line: try row.decode(Int?.self, "line"),
                message: try row.decode(String.self, "message"),
                suggestion: try row.decode(String?.self, "suggestion"),
                fingerprint: try row.decode(String.self, "fingerprint"),
                source: try row.decode(String.self, "source")
            )
        }
    }

    /// Findings per UTC day and agent over the last `days` days (today included), one entry per day, oldest first;
    /// days without reviews are present with zeros.
    public func trends(repo: String?, days: Int) async throws -> [FindingsTrendDay] {
        let rows = try await pool.query(
            """
            WITH bounds AS (
                SELECT (now() AT TIME ZONE 'UTC')::date AS today, \(days)::integer AS days
            ), calendar AS (
                SELECT (b.today - n)::date AS day FROM bounds b, generate_series(0, b.days - 1) AS n
            ), reviews AS (
                SELECT (r.reviewed_at AT TIME ZONE 'UTC')::date AS day, r.security_findings, r.scale_findings,
                       r.code_quality_findings, r.architecture_findings
                FROM review_history r, bounds b
                WHERE (\(repo)::text IS NULL OR r.repo = \(repo)::text)
                  AND r.reviewed_at >= ((b.today - (b.days - 1)) AT TIME ZONE 'UTC')
                  AND r.reviewed_at < ((b.today + 1) AT TIME ZONE 'UTC')
            )
            SELECT to_char(c.day, 'YYYY-MM-DD') AS day, count(r.day) AS reviews,
                   coalesce(sum(r.security_findings), 0) AS security, coalesce(sum(r.scale_findings), 0) AS scale,
                   coalesce(sum(r.code_quality_findings), 0) AS quality,
                   coalesce(sum(r.architecture_findings), 0) AS architecture
            FROM calendar c LEFT JOIN reviews r ON r.day = c.day
            GROUP BY c.day
            ORDER BY c.day
            """
        )
        return try rows.map { row in
            FindingsTrendDay(
                day: try row.decode(String.self, "day"),
                reviews: try row.decode(Int.self, "reviews"),
                security: try row.decode(Int.self, "security"),
                scale: try row.decode(Int.self, "scale"),
                quality: try row.decode(Int.self, "quality"),
                architecture: try row.decode(Int.self, "architecture")
            )
        }
    }

    /// Per agent that ran in the last `days` days: runs, mean, p50, p95 and longest wall time, and findings.
    /// With a `repo`, only runs of that repository's reviews.
    public func performance(days: Int, repo: String?) async throws -> [AgentPerformanceSummary] {
        let rows = try await pool.query(
            """
            SELECT p.agent, count(*) AS runs, avg(p.execution_time_ms) AS mean_ms,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY p.execution_time_ms) AS p50_ms,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY p.execution_time_ms) AS p95_ms,
                   max(p.execution_time_ms) AS max_ms, sum(p.findings_count) AS findings
            FROM agent_performance p
            LEFT JOIN review_history r ON r.id = p.review_id
            WHERE p.executed_at >= now() - make_interval(days => \(days)::integer)
              AND (\(repo)::text IS NULL OR r.repo = \(repo)::text)
            GROUP BY p.agent
            ORDER BY array_position(ARRAY['security', 'scale', 'quality', 'architecture'], p.agent), p.agent
            """
        )
        return try rows.map { row in
            AgentPerformanceSummary(
                agent: try row.decode(String.self, "agent"),
                runs: try row.decode(Int.self, "runs"),
                meanMilliseconds: try row.decode(Double.self, "mean_ms"),
                p50Milliseconds: try row.decode(Double.self, "p50_ms"),
                p95Milliseconds: try row.decode(Double.self, "p95_ms"),
                maxMilliseconds: try row.decode(Double.self, "max_ms"),
                findings: try row.decode(Int.self, "findings")
            )
        }
    }

    /// How many reviews ended with each verdict (all three, zeros included), optionally over the last `days` days.
    public func verdicts(repo: String?, days: Int?) async throws -> [VerdictCount] {
        let rows = try await pool.query(
            """
            SELECT v.status AS verdict_status, count(r.id) AS reviews
            FROM unnest(ARRAY['approved', 'approved_with_comments', 'changes_requested']) WITH ORDINALITY AS v(status, n)
            LEFT JOIN review_history r ON r.verdict_status = v.status
                AND (\(repo)::text IS NULL OR r.repo = \(repo)::text)
                AND (\(days)::integer IS NULL OR r.reviewed_at >= now() - make_interval(days => \(days)::integer))
            GROUP BY v.status, v.n
            ORDER BY v.n
            """
        )
        let counts = try rows.map { row in
            (status: try row.decode(String.self, "verdict_status"), reviews: try row.decode(Int.self, "reviews"))
        }
        let total = counts.reduce(0) { $0 + $1.reviews }
        return counts.map { count in
            VerdictCount(
                verdictStatus: count.status, reviews: count.reviews,
                percent: total == 0 ? 0 : Double(count.reviews) * 100 / Double(total)
            )
        }
    }

    /// The rules that fired most often, with where they fired (the three files with the most findings of the
    /// rule), optionally over the last `days` days. Ties are broken by rule id.
    public func topFindings(repo: String?, days: Int?, limit: Int) async throws -> [RuleFrequency] {
        let rows = try await pool.query(
            """
            WITH f AS MATERIALIZED (
                SELECT rule_id, agent, severity, path, review_id FROM findings
                WHERE (\(repo)::text IS NULL OR repo = \(repo)::text)
                  AND (\(days)::integer IS NULL OR created_at >= now() - make_interval(days => \(days)::integer))
            ), rules AS (
                SELECT rule_id, agent, count(*) AS occurrences, count(DISTINCT review_id) AS reviews,
                       count(DISTINCT path) AS files,
                       min(array_position(ARRAY['critical', 'high', 'medium', 'low', 'info'], severity)) AS worst
                FROM f
                GROUP BY rule_id, agent
                ORDER BY count(*) DESC, rule_id, agent
                LIMIT \(limit)::integer
            )
            SELECT r.rule_id, r.agent, r.occurrences, r.reviews, r.files,
                   coalesce((ARRAY['critical', 'high', 'medium', 'low', 'info'])[r.worst], 'info') AS severity,
                   (SELECT coalesce(array_agg(l.path ORDER BY l.n DESC, l.path), '{}')
                    FROM (SELECT path, count(*) AS n FROM f WHERE f.rule_id = r.rule_id AND f.agent = r.agent
                          GROUP BY path ORDER BY count(*) DESC, path LIMIT 3) l) AS paths,
                   (SELECT coalesce(array_agg(l.n ORDER BY l.n DESC, l.path), '{}')
                    FROM (SELECT path, count(*) AS n FROM f WHERE f.rule_id = r.rule_id AND f.agent = r.agent
                          GROUP BY path ORDER BY count(*) DESC, path LIMIT 3) l) AS path_counts
            FROM rules r
            ORDER BY r.occurrences DESC, r.rule_id, r.agent
            """
        )
        return try rows.map { row in
            let paths = try row.decode([String].self, "paths")
            let counts = try row.decode([Int64].self, "path_counts")
            return RuleFrequency(
                ruleID: try row.decode(String.self, "rule_id"),
                agent: try row.decode(String.self, "agent"),
                severity: try row.decode(String.self, "severity"),
                occurrences: try row.decode(Int.self, "occurrences"),
                reviews: try row.decode(Int.self, "reviews"),
                files: try row.decode(Int.self, "files"),
                locations: zip(paths, counts).map { RuleLocation(path: $0, count: Int($1)) }
            )
        }
    }
}
