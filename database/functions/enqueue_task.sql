-- Enqueue one task. Returns its id and whether an existing live task with the same dedupe key was returned
-- instead of a new one. Call it inside your own transaction: the task exists when that transaction commits.
-- One notification per queue per transaction reaches the workers (PostgreSQL folds identical notifications).
CREATE OR REPLACE FUNCTION enqueue_task(
    p_kind         text,
    p_payload      jsonb       DEFAULT '{}',
    p_queue        text        DEFAULT 'default',
    p_priority     smallint    DEFAULT 0,
    p_run_after    timestamptz DEFAULT NULL,
    p_max_attempts integer     DEFAULT 3,
    p_dedupe_key   text        DEFAULT NULL
) RETURNS TABLE (id bigint, deduplicated boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_problem text := agentqueue_task_problem(p_kind, p_queue, p_payload, p_max_attempts, p_dedupe_key);
    v_id bigint;
BEGIN
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION '%', v_problem USING ERRCODE = 'invalid_parameter_value';
    END IF;
    LOOP
        INSERT INTO tasks AS t (kind, queue, payload, priority, run_after, max_attempts, dedupe_key)
        VALUES (p_kind, p_queue, p_payload, coalesce(p_priority, 0), coalesce(p_run_after, now()), p_max_attempts,
                p_dedupe_key)
        ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('pending', 'running') DO NOTHING
        RETURNING t.id INTO v_id;
        IF v_id IS NOT NULL THEN
            INSERT INTO task_events (task_id, from_state, to_state, attempt, reason)
            VALUES (v_id, NULL, 'pending', 0, 'enqueued');
            PERFORM pg_notify('agentqueue', p_queue);
            RETURN QUERY SELECT v_id, false;
            RETURN;
        END IF;
        SELECT t.id INTO v_id FROM tasks t
        WHERE t.dedupe_key = p_dedupe_key AND t.state IN ('pending', 'running');
        IF v_id IS NOT NULL THEN
            RETURN QUERY SELECT v_id, true;
            RETURN;
        END IF;
        -- The live duplicate finished between the two statements: insert again.
    END LOOP;
END
$$;
