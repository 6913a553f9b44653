-- Record a failed attempt, fenced by its lease: back to pending after a backoff, or dead when the attempts are spent
-- or the failure is permanent; cancelled instead of retried when its cancellation was requested. The error joins the
-- task's history. An attempt the infrastructure cut short (`interrupted`: a lost connection, a terminated backend)
-- gives its attempt back while the task has free interruptions left (agentqueue_free_interruptions(), counted in
-- `rescues`). Returns the new state, or no row when the lease was lost.
DROP FUNCTION IF EXISTS fail_task(bigint, uuid, text, boolean, interval, interval);
CREATE OR REPLACE FUNCTION fail_task(task_id bigint, lease_token uuid, message text, permanent boolean,
                                     retry_base interval, retry_max interval, interrupted boolean DEFAULT false)
RETURNS TABLE (state text, run_after timestamptz)
LANGUAGE sql AS $$
    WITH current AS MATERIALIZED (
        SELECT t.id,
               interrupted AND NOT permanent AND t.rescues < agentqueue_free_interruptions() AS free,
               CASE WHEN permanent THEN 'dead'
                    WHEN t.cancel_requested THEN 'cancelled'
                    WHEN interrupted AND t.rescues < agentqueue_free_interruptions() THEN 'pending'
                    WHEN t.attempt >= t.max_attempts THEN 'dead'
                    ELSE 'pending' END AS next_state
        FROM tasks t
        WHERE t.id = fail_task.task_id AND t.lease_token = fail_task.lease_token AND t.state = 'running'
        FOR UPDATE
    ), failed AS (
        UPDATE tasks t
        SET state = c.next_state,
            attempt = CASE WHEN c.free THEN t.attempt - 1 ELSE t.attempt END,
            rescues = CASE WHEN c.free THEN t.rescues + 1 ELSE t.rescues END,
            run_after = CASE WHEN c.next_state <> 'pending' THEN t.run_after
                             WHEN c.free THEN now() + agentqueue_backoff(t.rescues + 1, retry_base, retry_max)
                             ELSE now() + agentqueue_backoff(t.attempt, retry_base, retry_max) END,
            finished_at = CASE WHEN c.next_state <> 'pending' THEN now() END,
            errors = t.errors || jsonb_build_array(jsonb_build_object(
                'attempt', t.attempt, 'at', now(), 'worker', t.lease_owner, 'message', left(message, 4000))),
            lease_token = NULL, lease_expires_at = NULL, updated_at = now()
        FROM current c
        WHERE t.id = c.id
        RETURNING t.id, t.state, t.run_after, t.attempt, t.lease_owner
    ), events AS (
        INSERT INTO task_events (task_id, from_state, to_state, attempt, worker, reason)
        SELECT f.id, 'running', f.state, f.attempt, f.lease_owner, left(message, 4000) FROM failed f
    )
    SELECT f.state, f.run_after FROM failed f
$$;
