-- Cancel every task that matches a filter, in one statement: pending ones at once (each with its task event),
-- running ones flagged for their workers (as cancel_task does one by one). A NULL filter matches everything; states
-- may hold 'pending' and 'running' (other states are never cancelled). With dry_run nothing changes and the counts
-- say what would. Returns (cancelled, cancel_requested).
CREATE OR REPLACE FUNCTION cancel_tasks_matching(
    p_queue text, p_kind text, p_states text[], p_created_before timestamptz, p_dry_run boolean
)
RETURNS TABLE (cancelled bigint, cancel_requested bigint)
LANGUAGE plpgsql AS $$
BEGIN
    IF p_dry_run THEN
        RETURN QUERY
        SELECT count(*) FILTER (WHERE t.state = 'pending'), count(*) FILTER (WHERE t.state = 'running')
        FROM tasks t
        WHERE t.state IN ('pending', 'running') AND (p_states IS NULL OR t.state = ANY (p_states))
          AND (p_queue IS NULL OR t.queue = p_queue) AND (p_kind IS NULL OR t.kind = p_kind)
          AND (p_created_before IS NULL OR t.created_at < p_created_before)
          AND NOT (t.state = 'running' AND t.cancel_requested);
        RETURN;
    END IF;
    RETURN QUERY
    WITH matching AS MATERIALIZED (
        SELECT t.id, t.state FROM tasks t
        WHERE t.state IN ('pending', 'running') AND (p_states IS NULL OR t.state = ANY (p_states))
          AND (p_queue IS NULL OR t.queue = p_queue) AND (p_kind IS NULL OR t.kind = p_kind)
          AND (p_created_before IS NULL OR t.created_at < p_created_before)
          AND NOT (t.state = 'running' AND t.cancel_requested)
        ORDER BY t.id
        FOR UPDATE
    ), stopped AS (
        UPDATE tasks t SET state = 'cancelled', finished_at = now(), updated_at = now()
        FROM matching m WHERE t.id = m.id AND m.state = 'pending'
        RETURNING t.id, t.attempt
    ), events AS (
        INSERT INTO task_events (task_id, from_state, to_state, attempt, reason)
        SELECT s.id, 'pending', 'cancelled', s.attempt, 'cancelled by request' FROM stopped s
    ), flagged AS (
        UPDATE tasks t SET cancel_requested = true, updated_at = now()
        FROM matching m WHERE t.id = m.id AND m.state = 'running'
        RETURNING t.id
    )
    SELECT (SELECT count(*) FROM stopped), (SELECT count(*) FROM flagged);
END
$$;
