-- Hand a task back without spending an attempt (shutdown), fenced by its lease. A task whose cancellation was
-- requested is cancelled instead: the request must not be lost by going back to pending. Returns false when the lease
-- was lost.
CREATE OR REPLACE FUNCTION release_task(task_id bigint, lease_token uuid, reason text)
RETURNS boolean
LANGUAGE sql AS $$
    WITH released AS (
        UPDATE tasks t
        SET state = CASE WHEN t.cancel_requested THEN 'cancelled' ELSE 'pending' END,
            attempt = CASE WHEN t.cancel_requested THEN t.attempt ELSE greatest(t.attempt - 1, 0) END,
            run_after = CASE WHEN t.cancel_requested THEN t.run_after ELSE now() END,
            finished_at = CASE WHEN t.cancel_requested THEN now() END,
            lease_token = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE t.id = release_task.task_id AND t.lease_token = release_task.lease_token AND t.state = 'running'
        RETURNING t.id, t.state, t.attempt, t.lease_owner, t.cancel_requested
    ), events AS (
        INSERT INTO task_events (task_id, from_state, to_state, attempt, worker, reason)
        SELECT r.id, 'running', r.state, r.attempt, r.lease_owner,
               CASE WHEN r.cancel_requested THEN 'cancel requested' ELSE reason END
        FROM released r
    )
    SELECT count(*) = 1 FROM released
$$;
