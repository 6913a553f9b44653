-- Claim up to max_tasks ready tasks of the given queues for a worker: the only way tasks become running.
--
-- One statement: a materialized CTE picks and locks the ready rows in priority order with FOR UPDATE SKIP LOCKED
-- (never more rows than asked for), then they are marked running with attempt + 1, a fresh lease token and a lease
-- expiry, and updated through the primary key: `id = ANY (ARRAY(SELECT … FROM picked))` is evaluated once as an
-- InitPlan and is an index scan whatever the planner estimates (joining the CTE back to tasks made PostgreSQL 15 plan
-- a hash join over a sequential scan of every task; BENCHMARKS.md). PL/pgSQL keeps the parsed statement between calls.
-- Tasks of paused queues (queue_pauses) are not claimed.
-- Returns the claimed rows (with `checkpointed`: whether an earlier attempt wrote checkpoints).
CREATE OR REPLACE FUNCTION claim_task(worker_id text, queues text[], max_tasks integer, lease interval)
RETURNS SETOF tasks
LANGUAGE plpgsql AS $$
DECLARE
    v_problem text := agentqueue_lease_problem(lease);
BEGIN
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION '%', v_problem USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Paused queues (pause_queue) are left out; their pending tasks stay as they are. The table is empty unless an
    -- operator paused something, so the common case costs one look at an empty table.
    IF EXISTS (SELECT 1 FROM queue_pauses) THEN
        queues := ARRAY(SELECT q FROM unnest(queues) q WHERE NOT EXISTS (SELECT 1 FROM queue_pauses p WHERE p.queue = q));
    END IF;
    RETURN QUERY
    WITH picked AS MATERIALIZED (
        SELECT p.id FROM tasks p
        WHERE p.state = 'pending' AND p.run_after <= now() AND p.queue = ANY (queues)
        ORDER BY p.priority, p.run_after, p.id
        LIMIT max_tasks
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE tasks t
        SET state = 'running', attempt = t.attempt + 1, lease_owner = worker_id, lease_token = gen_random_uuid(),
            lease_expires_at = now() + lease, heartbeat_at = now(), started_at = now(), updated_at = now()
        WHERE t.id = ANY (ARRAY(SELECT picked.id FROM picked))
          AND t.state = 'pending'
        RETURNING t.*
    ), events AS (
        INSERT INTO task_events (task_id, from_state, to_state, attempt, worker, reason)
        SELECT c.id, 'pending', 'running', c.attempt, worker_id, 'claimed' FROM claimed c
    )
    SELECT * FROM claimed;
END
$$;
