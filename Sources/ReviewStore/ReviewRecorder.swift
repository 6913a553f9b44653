public import PostgresClient
public import TaskQueue

/// Records a finished review exactly once: `review_history`, its findings, the per-agent metrics, the pull
/// request's last reviewed head, and the task's completion, in one transaction fenced by the task's lease.
public enum ReviewRecorder {
    /// What recording did.
    public enum Outcome: Sendable, Equatable {
        /// Everything was written and the task is succeeded; the review's id when analytics are on.
        case recorded(reviewID: Int64?)
        /// The lease was lost: nothing was written.
        case leaseLost
    }

    /// Writes the review and completes the task in one transaction.
    ///
    /// The task row is locked first (`FOR UPDATE`, fenced by the lease), so no rescue can slip in between the
    /// results and the completion; if the lease is gone, the transaction is rolled back and nothing is written.
    /// With `analytics` off, the result is stored on the task only.
    public static func record(
        _ result: ReviewResult,
        request: ReviewRequest,
        lease: Lease,
        analytics: Bool,
        pool: PostgresConnectionPool
    ) async throws -> Outcome {
        try await pool.withTransaction { connection -> Outcome in
            guard try await QueueClient.lockLease(lease, on: connection) == .written else { return .leaseLost }
            var stored = result
            if analytics {
                stored.reviewID = try await insertReview(result, request: request, taskID: lease.taskID, on: connection)
            }
            let completion = try await QueueClient.complete(
                lease, result: try PostgresJSON(encoding: stored), on: connection)
            guard completion == .written else {
                // Cannot happen while the row is locked; treat it as a lost lease and roll everything back.
                throw LeaseLostDuringRecording()
            }
            return .recorded(reviewID: stored.reviewID)
        }
    }

    struct LeaseLostDuringRecording: Error, CustomStringConvertible {
        var description: String { "the lease was lost while recording the review" }
    }

    private static func insertReview(
        _ result: ReviewResult,
        request: ReviewRequest,
        taskID: Int64,
        on connection: PostgresConnection
    ) async throws -> Int64 {
        let counts = result.counts
        let rows = try await connection.query(
            """
            INSERT INTO review_history (task_id, pr_url, repo, pr_number, pr_title, pr_author, head_sha, review_verdict,
                security_findings, scale_findings, code_quality_findings, architecture_findings, verdict_status,
                execution_time_ms)
            VALUES (\(taskID), \(request.prURL), \(request.repo), \(request.prNumber), \(request.title), \(request.author),
                \(request.headSHA), \(result.summary), \(counts["security"] ?? 0), \(counts["scale"] ?? 0),
                \(counts["quality"] ?? 0), \(counts["architecture"] ?? 0), \(result.verdictStatus.rawValue),
                \(result.executionTimeMilliseconds))
            RETURNING id
            """
        )
        guard let reviewID = try rows.single?.decode(Int64.self, "id") else {
            throw PostgresError.unexpectedResult("review_history insert returned no id")
        }
        let findings = result.findings
        if !findings.isEmpty {
            try await connection.execute(
                """
                INSERT INTO findings (review_id, task_id, repo, agent, rule_id, severity, path, line, message, suggestion,
                    fingerprint, source)
                SELECT \(reviewID), \(taskID), \(request.repo), f.agent, f.rule_id, f.severity, f.path, f.line, f.message,
                    f.suggestion, f.fingerprint, f.source
                FROM unnest(\(findings.map(\.agent))::text[], \(findings.map(\.ruleID))::text[],
                    \(findings.map(\.severity))::text[], \(findings.map(\.path))::text[], \(findings.map(\.line))::integer[],
                    \(findings.map(\.message))::text[], \(findings.map(\.suggestion))::text[],
                    \(findings.map(\.fingerprint))::text[], \(findings.map(\.source))::text[])
                    AS f(agent, rule_id, severity, path, line, message, suggestion, fingerprint, source)
                """
            )
        }
        let agents = result.agents
        if !agents.isEmpty {
            try await connection.execute(
                """
                INSERT INTO agent_performance (review_id, task_id, agent, execution_time_ms, findings_count, model,
                    prompt_tokens, completion_tokens, model_calls, model_latency_ms)
                SELECT \(reviewID), \(taskID), a.agent, a.ms, a.n, a.model, a.prompt, a.completion, a.calls, a.latency
                FROM unnest(\(agents.map(\.agent))::text[], \(agents.map(\.executionTimeMilliseconds))::float8[],
                    \(agents.map(\.findingsCount))::integer[], \(agents.map(\.model))::text[],
                    \(agents.map(\.promptTokens))::integer[], \(agents.map(\.completionTokens))::integer[],
                    \(agents.map(\.modelCalls))::integer[], \(agents.map(\.modelLatencyMilliseconds))::float8[])
                    AS a(agent, ms, n, model, prompt, completion, calls, latency)
                """
            )
        }
        if let repo = request.repo, let number = request.prNumber {
            try await connection.execute(
                """
                INSERT INTO pull_requests AS p (repo, number, url, title, author, last_head_sha, last_task_id,
                    last_reviewed_at)
                VALUES (\(repo), \(number), \(request.prURL), \(request.title), \(request.author), \(request.headSHA),
                    \(taskID), now())
                ON CONFLICT (repo, number) DO UPDATE SET
                    url = coalesce(EXCLUDED.url, p.url), title = coalesce(EXCLUDED.title, p.title),
                    author = coalesce(EXCLUDED.author, p.author), last_head_sha = EXCLUDED.last_head_sha,
                    last_task_id = EXCLUDED.last_task_id, last_reviewed_at = EXCLUDED.last_reviewed_at,
                    updated_at = now()
                """
            )
        }
        return reviewID
    }
}
