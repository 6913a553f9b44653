-- Least privilege: the one place that says who may do what. The migrator runs this file after every migration and
-- whenever it or a file in functions/ changed (a CREATE OR REPLACE FUNCTION resets SECURITY DEFINER, so the rights are
-- always set again here, never remembered by a migration).
--
-- Three group roles (NOLOGIN); give them to login roles with GRANT:
--   agentqueue_worker    runs tasks: claims, heartbeats, checkpoints, finishes and records results, only through the
--                        fenced functions below (executed with their owner's rights); reads tasks, checkpoints and
--                        the registry. It cannot write or lock any row directly, and cannot write a result for a task
--                        it does not hold the lease of.
--   agentqueue_operator  operates the queue (queuectl): enqueues, cancels, retries and prunes through the queue's
--                        functions, and reads everything.
--   agentqueue_webhook   queue-webhook: records GitHub deliveries and enqueues or cancels reviews, only through the two
--                        functions below; reads nothing but what they return.
--   agentqueue_reader    reads every table (analytics, dashboards); it writes nothing.
-- Roles are cluster-wide: they are created when the migrating role may create roles; otherwise a DBA creates them
-- (CREATE ROLE agentqueue_worker NOLOGIN; … agentqueue_operator …; … agentqueue_reader …) and runs
-- SELECT agentqueue_grant_roles(); in this schema (or `queuectl migrate` again).
CREATE OR REPLACE FUNCTION agentqueue_grant_roles()
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_schema text := current_schema();
    v_can_create boolean;
    v_missing text[] := '{}';
    v_role text;
    v_function text;
    -- What a worker calls. Each writes only about a task whose lease it names (or the worker's own registry row).
    v_worker_functions text[] := ARRAY[
        'claim_task(text, text[], integer, interval)',
        'heartbeat_tasks(bigint[], uuid[], interval)',
        'complete_tasks(bigint[], uuid[], jsonb[])',
        'fail_task(bigint, uuid, text, boolean, interval, interval, boolean)',
        'release_task(bigint, uuid, text)',
        'finish_cancelled_task(bigint, uuid)',
        'rescue_tasks(integer, interval, interval, text, text)',
        'write_checkpoints(bigint, uuid, text[], jsonb[], double precision[], timestamptz[])',
        'lock_task_lease(bigint, uuid)',
        'record_review(bigint, uuid, jsonb)',
        'register_worker(text, text, text, uuid, integer, text, text[], integer, interval)',
        'update_worker(text, text, bigint, bigint, text[], integer)'
    ];
    -- What an operator calls.
    v_operator_functions text[] := ARRAY[
        'enqueue_task(text, jsonb, text, smallint, timestamptz, integer, text)',
        'enqueue_tasks(jsonb)',
        'cancel_task(bigint)',
        'retry_task(bigint)',
        'cancel_tasks_matching(text, text, text[], timestamptz, boolean)',
        'retry_tasks_matching(text, text, text[], timestamptz, boolean)',
        'pause_queue(text, text)',
        'resume_queue(text)',
        'lock_task_states(bigint[])',
        'prune_tasks(interval, text[], integer)'
    ];
    -- What queue-webhook calls.
    v_webhook_functions text[] := ARRAY[
        'accept_review_request(text, text, text, text, integer, text, jsonb, text, smallint, text, boolean)',
        'cancel_pull_request_reviews(text, text, text, text, integer)'
    ];
    -- What every role may call (read-only counts).
    v_shared_functions text[] := ARRAY['queuectl_state_estimates()'];
BEGIN
    -- Every function above runs with its owner's rights and a pinned search_path (this schema, then pg_temp last, so
    -- that nobody can shadow a table or function of this schema); nobody else may execute any function here.
    FOREACH v_function IN ARRAY v_worker_functions || v_operator_functions || v_webhook_functions || v_shared_functions
    LOOP
        EXECUTE format('ALTER FUNCTION %I.%s SECURITY DEFINER SET search_path = %I, pg_temp',
                       v_schema, v_function, v_schema);
    END LOOP;
    EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %I FROM PUBLIC', v_schema);
    -- Read-only counts, for every role that may use this schema (a dashboard's own role included).
    FOREACH v_function IN ARRAY v_shared_functions LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %I.%s TO PUBLIC', v_schema, v_function);
    END LOOP;

    SELECT r.rolsuper OR r.rolcreaterole INTO v_can_create FROM pg_roles r WHERE r.rolname = current_user;
    FOREACH v_role IN ARRAY ARRAY['agentqueue_worker', 'agentqueue_operator', 'agentqueue_webhook', 'agentqueue_reader']
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role) THEN
            IF NOT v_can_create THEN
                v_missing := v_missing || v_role;
                CONTINUE;
            END IF;
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created concurrently by another schema's migration
            END;
        END IF;
        -- Start from nothing, so that a right taken away here is taken away in every database.
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', v_schema, v_role);
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', v_schema, v_role);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', v_schema, v_role);
        EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %I FROM %I', v_schema, v_role);
    END LOOP;
    IF cardinality(v_missing) > 0 THEN
        RAISE NOTICE 'roles % do not exist and % may not create roles: ask a DBA to create them (NOLOGIN), then run SELECT agentqueue_grant_roles()',
            array_to_string(v_missing, ', '), current_user;
        RETURN 'roles missing: ' || array_to_string(v_missing, ', ');
    END IF;

    FOREACH v_function IN ARRAY v_worker_functions LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %I.%s TO agentqueue_worker', v_schema, v_function);
    END LOOP;
    EXECUTE format('GRANT SELECT ON %I.tasks, %I.task_checkpoints, %I.workers, %I.workers_status, '
                   '%I.schema_migrations, %I.schema_functions TO agentqueue_worker',
                   v_schema, v_schema, v_schema, v_schema, v_schema, v_schema);
    -- What the publish step reads about earlier reviews of a pull request (findings fixed or still open, comments
    -- already posted).
    EXECUTE format('GRANT SELECT ON %I.review_history, %I.findings, %I.publications TO agentqueue_worker',
                   v_schema, v_schema, v_schema);

    FOREACH v_function IN ARRAY v_operator_functions LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %I.%s TO agentqueue_operator', v_schema, v_function);
    END LOOP;
    FOREACH v_function IN ARRAY v_webhook_functions LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %I.%s TO agentqueue_webhook', v_schema, v_function);
    END LOOP;
    -- queue-webhook checks the schema version before it answers /readyz.
    EXECUTE format('GRANT SELECT ON %I.schema_migrations, %I.schema_functions TO agentqueue_webhook',
                   v_schema, v_schema);

    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO agentqueue_operator, agentqueue_reader', v_schema);
    RETURN 'granted';
END
$$;

SELECT agentqueue_grant_roles();
