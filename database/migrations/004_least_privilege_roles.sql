-- Least privilege. Two group roles (NOLOGIN); give them to login roles with GRANT:
--   agentqueue_worker  claims, heartbeats, checkpoints and records results through the queue's functions and
--                      a few table grants; it cannot DROP, ALTER, TRUNCATE, DELETE or rewrite tasks.
--   agentqueue_reader  reads every table (analytics, dashboards); it cannot write anything.
-- The functions that write about running tasks run with their owner's rights (SECURITY DEFINER, pinned
-- search_path) and only agentqueue_worker may execute them.
--
-- Roles are cluster-wide: they are created when the migrating role may create roles; otherwise a DBA creates them
-- (CREATE ROLE agentqueue_worker NOLOGIN; CREATE ROLE agentqueue_reader NOLOGIN) and runs
-- SELECT agentqueue_grant_roles(); in this schema. Later migrations call it again to cover new objects.

CREATE FUNCTION agentqueue_grant_roles()
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
        'write_checkpoint(bigint, uuid, text, jsonb, double precision)'
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

REVOKE ALL ON FUNCTION agentqueue_grant_roles() FROM PUBLIC;
SELECT agentqueue_grant_roles();
