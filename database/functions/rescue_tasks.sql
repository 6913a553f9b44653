-- Rescue running tasks whose lease expired (their worker died or stalled), or, with owner_prefix, every running
-- task held by earlier boots of a restarted worker (whose registry rows are then marked stopped). A rescued task goes
-- back to pending after a backoff without spending its attempt while it has free interruptions left
-- (agentqueue_free_interruptions()); after that each rescue spends one, and a task out of attempts is dead. A task
-- whose cancellation was requested is cancelled. Idempotent and SKIP LOCKED: any number of workers may run it at once.
CREATE OR REPLACE FUNCTION rescue_tasks(max_tasks integer, retry_base interval, retry_max interval,
                                        owner_prefix text DEFAULT NULL, current_owner text DEFAULT NULL)
RETURNS TABLE (id bigint, state text, lease_owner text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    IF owner_prefix IS NOT NULL THEN
        UPDATE workers w SET state = 'stopped', stopped_at = coalesce(w.stopped_at, now())
        WHERE left(w.id, length(owner_prefix)) = owner_prefix AND w.id IS DISTINCT FROM current_owner
          AND w.state <> 'stopped';
    END IF;
    RETURN QUERY
    WITH expired AS MATERIALIZED (
        SELECT t.id, t.rescues < agentqueue_free_interruptions() AS free FROM tasks t
        WHERE t.state = 'running'
          AND CASE WHEN owner_prefix IS NULL THEN t.lease_expires_at < now()
                   ELSE left(t.lease_owner, length(owner_prefix)) = owner_prefix
                        AND t.lease_owner IS DISTINCT FROM current_owner END
        ORDER BY t.lease_expires_at
        LIMIT max_tasks
        FOR UPDATE SKIP LOCKED
    ), decided AS (
        SELECT e.id, e.free,
               CASE WHEN t.cancel_requested THEN 'cancelled'
                    WHEN NOT e.free AND t.attempt >= t.max_attempts THEN 'dead'
                    ELSE 'pending' END AS next_state
        FROM expired e JOIN tasks t ON t.id = e.id
    ), rescued AS (
        UPDATE tasks t
        SET state = d.next_state,
            attempt = CASE WHEN d.free AND d.next_state = 'pending' THEN t.attempt - 1 ELSE t.attempt END,
            run_after = CASE WHEN d.next_state = 'pending'
                             THEN now() + agentqueue_backoff(t.rescues + 1, retry_base, retry_max)
                             ELSE t.run_after END,
            finished_at = CASE WHEN d.next_state <> 'pending' THEN now() END,
            rescues = t.rescues + 1,
            errors = t.errors || jsonb_build_array(jsonb_build_object(
                'attempt', t.attempt, 'at', now(), 'worker', t.lease_owner,
                'message', CASE WHEN owner_prefix IS NULL THEN 'lease expired: the worker stopped heart-beating'
                                ELSE 'the worker restarted while running the task' END)),
            lease_token = NULL, lease_expires_at = NULL, updated_at = now()
        FROM decided d
        WHERE t.id = d.id AND t.state = 'running'
        RETURNING t.id, t.state, t.attempt, t.lease_owner
    ), events AS (
        INSERT INTO task_events (task_id, from_state, to_state, attempt, worker, reason)
        SELECT r.id, 'running', r.state, r.attempt, r.lease_owner, 'rescued' FROM rescued r
    )
    SELECT r.id, r.state, r.lease_owner FROM rescued r;
END
$$;
