-- Cancel a task: a pending task is cancelled at once; a running task is flagged, and its worker, which learns it at
-- its next heartbeat, stops the work and finishes it as cancelled. Returns the resulting state ('cancelled', 'cancel_requested', or the unchanged terminal state), or
-- no row when the task does not exist.
CREATE OR REPLACE FUNCTION cancel_task(task_id bigint)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
BEGIN
    SELECT t.state INTO v_state FROM tasks t WHERE t.id = task_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    ELSIF v_state = 'pending' THEN
        UPDATE tasks t SET state = 'cancelled', finished_at = now(), updated_at = now() WHERE t.id = task_id;
        INSERT INTO task_events (task_id, from_state, to_state, attempt, reason)
        SELECT t.id, 'pending', 'cancelled', t.attempt, 'cancelled by request' FROM tasks t WHERE t.id = task_id;
        RETURN 'cancelled';
    ELSIF v_state = 'running' THEN
        UPDATE tasks t SET cancel_requested = true, updated_at = now() WHERE t.id = task_id;
        RETURN 'cancel_requested';
    END IF;
    RETURN v_state;
END
$$;
