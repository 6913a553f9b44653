-- Faster claims and checkpoints (measured in BENCHMARKS.md).
--
-- The claim, planned for any queue size.
--
-- 001's claim joined its materialized CTE back to tasks (`FROM picked WHERE t.id = picked.id`). PostgreSQL (15 and
-- earlier) plans the body of a function without knowing max_tasks, so it assumed the CTE returns a large share of
-- the table and joined it with a hash join over a sequential scan of every task: 2 ms per claim with 10,000 tasks
-- in the table, 40 ms with 200,000 (measured on the benchmark machine; BENCHMARKS.md). This claim picks and locks
-- the ready rows exactly as before (the same materialized CTE: priority order, LIMIT, FOR UPDATE SKIP LOCKED, so
-- never more rows than asked for) and updates them through the primary key: `id = ANY (ARRAY(SELECT … FROM
-- picked))` is evaluated once as an InitPlan and is an index scan whatever the estimate. PL/pgSQL keeps the
-- parsed statement between calls (a LANGUAGE sql body is parsed again on every call); the benchmark measured it
-- 2–7 % faster. Same signature, result and events as before; the lease is still drawn in the same statement.
CREATE OR REPLACE FUNCTION claim_task(worker_id text, queues text[], max_tasks integer, lease interval)
RETURNS SETOF tasks
LANGUAGE plpgsql AS $$
BEGIN
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

-- Whether a task has checkpoints, on the task row: claim_task returns it with the task, so a worker loads
-- checkpoints only for a task that has some (a first attempt, nearly every task, skips that round trip). Set by the
-- first checkpoint write; checkpoints live as long as their task, so it is never cleared. Adding a column with a
-- constant default rewrites nothing; the UPDATE marks the tasks that already have checkpoints and may run again.
ALTER TABLE tasks ADD COLUMN checkpointed boolean NOT NULL DEFAULT false;
UPDATE tasks t SET checkpointed = true
WHERE t.state <> 'succeeded' AND EXISTS (SELECT 1 FROM task_checkpoints c WHERE c.task_id = t.id);

-- The checkpoints of nodes that finished together (the four agents of a review), written in one statement under the
-- same fence as write_checkpoint: the task row is locked FOR SHARE while the lease is checked, each node's row is
-- inserted if absent, and the task is marked checkpointed on its first write. Returns, per node, 'written',
-- 'exists' (an earlier attempt wrote it; the first result stays) or 'lease_lost' (nothing was written).
-- PL/pgSQL, so that its statements are planned once per session.
CREATE FUNCTION write_checkpoints(task_id bigint, lease_token uuid, nodes text[], outputs jsonb[],
                                  durations_ms double precision[])
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
        INSERT INTO task_checkpoints AS c (task_id, node, output, attempt, worker, duration_ms)
        SELECT write_checkpoints.task_id, i.node, i.output, v_attempt, v_owner, i.duration_ms
        FROM unnest(nodes, outputs, durations_ms) AS i(node, output, duration_ms)
        ON CONFLICT ON CONSTRAINT task_checkpoints_pkey DO NOTHING
        RETURNING c.node
    )
    SELECT n.node, CASE WHEN n.node IN (SELECT ins.node FROM inserted ins) THEN 'written' ELSE 'exists' END
    FROM unnest(nodes) AS n(node);
END
$$;

-- 002's single-node write, kept for workers of the previous version during a rolling deploy: now the same write
-- (so that it marks the task too).
CREATE OR REPLACE FUNCTION write_checkpoint(task_id bigint, lease_token uuid, node text, output jsonb,
                                            duration_ms double precision)
RETURNS text
LANGUAGE sql AS $$
    SELECT w.outcome FROM write_checkpoints(write_checkpoint.task_id, write_checkpoint.lease_token,
        ARRAY[write_checkpoint.node], ARRAY[write_checkpoint.output], ARRAY[write_checkpoint.duration_ms]) AS w
$$;

-- 004's grants, with write_checkpoints among the worker's functions.
CREATE OR REPLACE FUNCTION agentqueue_grant_roles()
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_schema text := current_schema();
    v_can_create boolean;
    v_role text;
    v_function text;
BEGIN
    SELECT r.rolsuper OR r.rolcreaterole INTO v_can_create FROM pg_roles r WHERE r.rolname = current_user;
    FOREACH v_role IN ARRAY ARRAY['agentqueue_worker', 'agentqueue_reader'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role) THEN
            IF NOT v_can_create THEN
                RAISE NOTICE 'role % does not exist and % may not create roles: ask a DBA to create it, then run SELECT agentqueue_grant_roles()',
                    v_role, current_user;
                RETURN 'roles missing: grants skipped';
            END IF;
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created concurrently by another schema's migration
            END;
        END IF;
    END LOOP;

    EXECUTE format('GRANT USAGE ON SCHEMA %I TO agentqueue_worker, agentqueue_reader', v_schema);

    -- The worker's writes about running tasks: fenced functions, executed with the owner's rights.
    FOREACH v_function IN ARRAY ARRAY[
        'claim_task(text, text[], integer, interval)',
        'heartbeat_tasks(bigint[], uuid[], interval)',
        'complete_tasks(bigint[], uuid[], jsonb[])',
        'fail_task(bigint, uuid, text, boolean, interval, interval)',
        'release_task(bigint, uuid, text)',
        'finish_cancelled_task(bigint, uuid)',
        'rescue_tasks(integer, interval, interval, text, text)',
        'write_checkpoint(bigint, uuid, text, jsonb, double precision)',
        'write_checkpoints(bigint, uuid, text[], jsonb[], double precision[])'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %I.%s SECURITY DEFINER SET search_path = %I, pg_temp', v_schema, v_function, v_schema);
        EXECUTE format('REVOKE ALL ON FUNCTION %I.%s FROM PUBLIC', v_schema, v_function);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %I.%s TO agentqueue_worker', v_schema, v_function);
    END LOOP;

    -- What the worker reads and writes directly.
    EXECUTE format('GRANT SELECT ON %I.tasks, %I.task_checkpoints, %I.schema_migrations TO agentqueue_worker',
                   v_schema, v_schema, v_schema);
    -- Only for SELECT … FOR UPDATE, which locks a task while its review is recorded (fenced by the lease).
    EXECUTE format('GRANT UPDATE (updated_at) ON %I.tasks TO agentqueue_worker', v_schema);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %I.workers TO agentqueue_worker', v_schema);
    EXECUTE format('GRANT SELECT ON %I.workers_status TO agentqueue_worker', v_schema);
    EXECUTE format('GRANT SELECT, INSERT ON %I.review_history, %I.findings, %I.agent_performance TO agentqueue_worker',
                   v_schema, v_schema, v_schema);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %I.pull_requests TO agentqueue_worker', v_schema);

    -- Analytics: read everything, write nothing.
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO agentqueue_reader', v_schema);
    RETURN 'granted';
END
$$;


-- CREATE OR REPLACE reset the SECURITY DEFINER and pinned search_path of claim_task and write_checkpoint (privileges
-- are kept); this sets them again and covers write_checkpoints.
SELECT agentqueue_grant_roles();
