-- Delete up to batch_size finished tasks (and their events) that finished before now() - older_than, oldest first.
-- Short statements with SKIP LOCKED: call it repeatedly until it returns 0.
CREATE OR REPLACE FUNCTION prune_tasks(older_than interval, states text[], batch_size integer)
RETURNS integer
LANGUAGE sql AS $$
    WITH doomed AS MATERIALIZED (
        SELECT t.id FROM tasks t
        WHERE t.state IN ('succeeded', 'dead', 'cancelled') AND t.state = ANY (states)
          AND t.finished_at < now() - older_than
        ORDER BY t.finished_at
        LIMIT batch_size
        FOR UPDATE SKIP LOCKED
    ), events AS (
        DELETE FROM task_events e USING doomed d WHERE e.task_id = d.id
    ), deleted AS (
        DELETE FROM tasks t USING doomed d WHERE t.id = d.id RETURNING t.id
    )
    SELECT count(*)::integer FROM deleted
$$;
