-- Put every dead or cancelled task that matches a filter back to pending with fresh attempts, in one statement (as
-- retry_task does one by one). A NULL filter matches everything; states may hold 'dead' and 'cancelled'. A task
-- whose dedupe key a live task holds, or that shares it with a newer matching task, is left as it is and counted as
-- skipped. With dry_run nothing changes and the counts say what would. Returns (retried, skipped).
CREATE OR REPLACE FUNCTION retry_tasks_matching(
    p_queue text, p_kind text, p_states text[], p_created_before timestamptz, p_dry_run boolean
)
RETURNS TABLE (retried bigint, skipped bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_retried bigint;
    v_skipped bigint;
    v_queues text[];
BEGIN
    WITH locked AS MATERIALIZED (
        SELECT t.id, t.queue, t.state, t.dedupe_key FROM tasks t
        WHERE t.state IN ('dead', 'cancelled') AND (p_states IS NULL OR t.state = ANY (p_states))
          AND (p_queue IS NULL OR t.queue = p_queue) AND (p_kind IS NULL OR t.kind = p_kind)
          AND (p_created_before IS NULL OR t.created_at < p_created_before)
        ORDER BY t.id
        FOR UPDATE
    ), candidates AS MATERIALIZED (
        SELECT l.id, l.queue, l.state,
               l.dedupe_key IS NULL
               OR (row_number() OVER (PARTITION BY l.dedupe_key ORDER BY l.id DESC) = 1
                   AND NOT EXISTS (SELECT 1 FROM tasks live
                                   WHERE live.dedupe_key = l.dedupe_key AND live.state IN ('pending', 'running')))
               AS ok
        FROM locked l
    ), retried AS (
        UPDATE tasks t
        SET state = 'pending', attempt = 0, rescues = 0, run_after = now(), finished_at = NULL,
            cancel_requested = false, result = NULL, updated_at = now()
        FROM candidates c
        WHERE t.id = c.id AND c.ok AND NOT p_dry_run
        RETURNING t.id, c.state AS before
    ), events AS (
        INSERT INTO task_events (task_id, from_state, to_state, attempt, reason)
        SELECT r.id, r.before, 'pending', 0, 'retried by request' FROM retried r
    )
    SELECT count(*) FILTER (WHERE c.ok), count(*) FILTER (WHERE NOT c.ok),
           array_agg(DISTINCT c.queue) FILTER (WHERE c.ok)
    INTO v_retried, v_skipped, v_queues
    FROM candidates c;
    IF NOT p_dry_run THEN
        PERFORM pg_notify('agentqueue', q) FROM unnest(v_queues) q;
    END IF;
    RETURN QUERY SELECT v_retried, v_skipped;
END
$$;
