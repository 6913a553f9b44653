-- Stop a running task whose cancellation was requested (at a node boundary). False when the lease was lost.
CREATE OR REPLACE FUNCTION finish_cancelled_task(task_id bigint, lease_token uuid)
RETURNS boolean
LANGUAGE sql AS $$
    WITH stopped AS (
        UPDATE tasks t
        SET state = 'cancelled', finished_at = now(), lease_token = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE t.id = finish_cancelled_task.task_id AND t.lease_token = finish_cancelled_task.lease_token
          AND t.state = 'running'
        RETURNING t.id, t.attempt, t.lease_owner
    ), events AS (
        INSERT INTO task_events (task_id, from_state, to_state, attempt, worker, reason)
        SELECT s.id, 'running', 'cancelled', s.attempt, s.lease_owner, 'cancel requested' FROM stopped s
    )
    SELECT count(*) = 1 FROM stopped
$$;
