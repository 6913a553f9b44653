-- Record a finished review (ReviewStore): its review_history row, its findings, each agent's performance, and the pull
-- request's last reviewed head, fenced by the task's lease. Called inside the queue's finish transaction, after
-- lock_task_lease and before complete_tasks, so that the review and the task's completion commit together: a review
-- is recorded exactly once. Returns the review's id, or NULL (nothing written) when the lease is not held.
--
-- The review document: {"pr_url", "repo", "pr_number", "title", "author", "head_sha", "summary", "verdict_status",
-- "counts": {"security", "scale", "quality", "architecture"}, "execution_time_ms",
-- "findings": [{"agent", "rule_id", "severity", "path", "line", "message", "suggestion", "fingerprint", "source"}],
-- "agents": [{"agent", "execution_time_ms", "findings_count", "model", "prompt_tokens", "completion_tokens",
-- "model_calls", "model_latency_ms"}], "publications": [{"kind", "github_id", "url", "fingerprint", "detail"}]}
-- (publications: what the review posted to its pull request). A value the tables refuse (a pull request number out of range, an unknown
-- severity) fails the statement with its SQLSTATE (class 22 or 23): retrying cannot fix it.
CREATE OR REPLACE FUNCTION record_review(task_id bigint, lease_token uuid, review jsonb)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_review_id bigint;
    v_repo text := review->>'repo';
    v_number integer := (review->>'pr_number')::integer;
BEGIN
    PERFORM 1 FROM tasks t
    WHERE t.id = record_review.task_id AND t.lease_token = record_review.lease_token AND t.state = 'running'
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    INSERT INTO review_history (task_id, pr_url, repo, pr_number, pr_title, pr_author, head_sha, review_verdict,
        security_findings, scale_findings, code_quality_findings, architecture_findings, verdict_status,
        execution_time_ms)
    VALUES (record_review.task_id, review->>'pr_url', v_repo, v_number, review->>'title', review->>'author',
        review->>'head_sha', review->>'summary',
        coalesce((review->'counts'->>'security')::integer, 0), coalesce((review->'counts'->>'scale')::integer, 0),
        coalesce((review->'counts'->>'quality')::integer, 0), coalesce((review->'counts'->>'architecture')::integer, 0),
        review->>'verdict_status', (review->>'execution_time_ms')::double precision)
    RETURNING id INTO v_review_id;

    INSERT INTO findings (review_id, task_id, repo, agent, rule_id, severity, path, line, message, suggestion,
        fingerprint, source)
    SELECT v_review_id, record_review.task_id, v_repo, f.agent, f.rule_id, f.severity, f.path, f.line, f.message,
           f.suggestion, f.fingerprint, coalesce(f.source, 'rules')
    FROM jsonb_to_recordset(coalesce(review->'findings', '[]')) AS f(agent text, rule_id text, severity text,
        path text, line integer, message text, suggestion text, fingerprint text, source text);

    INSERT INTO agent_performance (review_id, task_id, agent, execution_time_ms, findings_count, model, prompt_tokens,
        completion_tokens, model_calls, model_latency_ms)
    SELECT v_review_id, record_review.task_id, a.agent, a.execution_time_ms, a.findings_count, a.model,
           a.prompt_tokens, a.completion_tokens, a.model_calls, a.model_latency_ms
    FROM jsonb_to_recordset(coalesce(review->'agents', '[]')) AS a(agent text, execution_time_ms double precision,
        findings_count integer, model text, prompt_tokens integer, completion_tokens integer, model_calls integer,
        model_latency_ms double precision);

    INSERT INTO publications (review_id, task_id, repo, pr_number, head_sha, kind, github_id, url, fingerprint, detail)
    SELECT v_review_id, record_review.task_id, v_repo, v_number, review->>'head_sha', p.kind, p.github_id, p.url,
           p.fingerprint, p.detail
    FROM jsonb_to_recordset(coalesce(review->'publications', '[]')) AS p(kind text, github_id bigint, url text,
        fingerprint text, detail text);

    IF v_repo IS NOT NULL AND v_number IS NOT NULL THEN
        INSERT INTO pull_requests AS p (repo, number, url, title, author, last_head_sha, last_task_id,
            last_reviewed_at)
        VALUES (v_repo, v_number, review->>'pr_url', review->>'title', review->>'author', review->>'head_sha',
            record_review.task_id, now())
        ON CONFLICT (repo, number) DO UPDATE SET
            url = coalesce(EXCLUDED.url, p.url), title = coalesce(EXCLUDED.title, p.title),
            author = coalesce(EXCLUDED.author, p.author), last_head_sha = EXCLUDED.last_head_sha,
            last_task_id = EXCLUDED.last_task_id, last_reviewed_at = EXCLUDED.last_reviewed_at,
            updated_at = now();
    END IF;
    RETURN v_review_id;
END
$$;
