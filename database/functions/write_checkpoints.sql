-- The checkpoints of nodes that finished together (the four agents of a review), written in one statement under the
-- lease fence: the task row is locked FOR SHARE while the lease is checked, each node's row is
-- inserted if absent, and the task is marked checkpointed on its first write. Returns, per node, 'written',
-- 'exists' (an earlier attempt wrote it; the first result stays) or 'lease_lost' (nothing was written). `started_at`
-- is when each node began (NULL from a worker older than migration 009).
-- PL/pgSQL, so that its statements are planned once per session.
CREATE OR REPLACE FUNCTION write_checkpoints(task_id bigint, lease_token uuid, nodes text[], outputs jsonb[],
                                             durations_ms double precision[], started_at timestamptz[] DEFAULT NULL)
RETURNS TABLE (node text, outcome text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_attempt integer;
    v_owner text;
    v_checkpointed boolean;
BEGIN
    SELECT t.attempt, t.lease_owner, t.checkpointed INTO v_attempt, v_owner, v_checkpointed FROM tasks t
    WHERE t.id = write_checkpoints.task_id AND t.lease_token = write_checkpoints.lease_token AND t.state = 'running'
    FOR SHARE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT n.node, 'lease_lost'::text FROM unnest(nodes) AS n(node);
        RETURN;
    END IF;
    IF NOT v_checkpointed THEN
        UPDATE tasks t SET checkpointed = true
        WHERE t.id = write_checkpoints.task_id AND t.lease_token = write_checkpoints.lease_token AND t.state = 'running';
    END IF;
    RETURN QUERY
    WITH inserted AS (
        INSERT INTO task_checkpoints AS c (task_id, node, output, attempt, worker, duration_ms, started_at)
        SELECT write_checkpoints.task_id, i.node, i.output, v_attempt, v_owner, i.duration_ms, i.started_at
        FROM unnest(nodes, outputs, durations_ms, coalesce(write_checkpoints.started_at, '{}'::timestamptz[]))
            AS i(node, output, duration_ms, started_at)
        ON CONFLICT ON CONSTRAINT task_checkpoints_pkey DO NOTHING
        RETURNING c.node
    )
    SELECT n.node, CASE WHEN n.node IN (SELECT ins.node FROM inserted ins) THEN 'written' ELSE 'exists' END
    FROM unnest(nodes) AS n(node);
END
$$;
