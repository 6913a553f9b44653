-- Put a dead or cancelled task back to pending with a fresh set of attempts. Returns the resulting state, or no
-- row when the task does not exist.
CREATE OR REPLACE FUNCTION retry_task(task_id bigint)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
BEGIN
    SELECT t.state INTO v_state FROM tasks t WHERE t.id = task_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    ELSIF v_state IN ('dead', 'cancelled') THEN
        BEGIN
            UPDATE tasks t
            SET state = 'pending', attempt = 0, rescues = 0, run_after = now(), finished_at = NULL,
                cancel_requested = false, result = NULL, updated_at = now()
            WHERE t.id = task_id;
        EXCEPTION WHEN unique_violation THEN
            RAISE EXCEPTION 'task % cannot be retried: another live task has the same dedupe key', task_id
                USING ERRCODE = 'unique_violation';
        END;
        INSERT INTO task_events (task_id, from_state, to_state, attempt, reason)
        VALUES (task_id, v_state, 'pending', 0, 'retried by request');
        PERFORM pg_notify('agentqueue', (SELECT t.queue FROM tasks t WHERE t.id = task_id));
        RETURN 'pending';
    END IF;
    RETURN v_state;
END
$$;
