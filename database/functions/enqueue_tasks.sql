-- Enqueue many tasks in one call from a JSON array of objects with the keys kind (required), payload, queue,
-- priority, run_after, max_attempts and dedupe_key. All or nothing: one invalid element refuses the whole batch
-- with a message naming it. Returns one row per element, in order.
CREATE OR REPLACE FUNCTION enqueue_tasks(p_tasks jsonb)
RETURNS TABLE (ordinal integer, id bigint, deduplicated boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_bad record;
    v_ordinals integer[];
    v_ids bigint[];
    v_new boolean[];
    v_keys text[];
    v_id bigint;
BEGIN
    IF p_tasks IS NULL OR jsonb_typeof(p_tasks) <> 'array' THEN
        RAISE EXCEPTION 'enqueue_tasks expects a JSON array of task objects' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT e.ordinality AS n, CASE
            WHEN jsonb_typeof(e.value) <> 'object' THEN 'an element must be a JSON object'
            WHEN jsonb_typeof(e.value->'kind') IS DISTINCT FROM 'string' THEN 'kind must be a string'
            WHEN e.value ? 'queue' AND jsonb_typeof(e.value->'queue') <> 'string' THEN 'queue must be a string'
            WHEN e.value ? 'priority' AND (jsonb_typeof(e.value->'priority') <> 'number'
                 OR (e.value->>'priority') !~ '^-?[0-9]{1,5}$'
                 OR (e.value->>'priority')::integer NOT BETWEEN -32768 AND 32767)
                THEN 'priority must be a whole number between -32768 and 32767'
            WHEN e.value ? 'max_attempts' AND (jsonb_typeof(e.value->'max_attempts') <> 'number'
                 OR (e.value->>'max_attempts') !~ '^-?[0-9]{1,9}$') THEN 'max_attempts must be a whole number'
            WHEN e.value ? 'run_after' AND jsonb_typeof(e.value->'run_after') <> 'string'
                THEN 'run_after must be a timestamp string'
            WHEN e.value ? 'dedupe_key' AND jsonb_typeof(e.value->'dedupe_key') NOT IN ('string', 'null')
                THEN 'dedupe_key must be a string'
            ELSE agentqueue_task_problem(e.value->>'kind', coalesce(e.value->>'queue', 'default'),
                                         coalesce(e.value->'payload', '{}'::jsonb),
                                         coalesce((e.value->>'max_attempts')::integer, 3), e.value->>'dedupe_key')
        END AS problem
    INTO v_bad
    FROM jsonb_array_elements(p_tasks) WITH ORDINALITY AS e(value, ordinality)
    WHERE (CASE
            WHEN jsonb_typeof(e.value) <> 'object' THEN true
            WHEN jsonb_typeof(e.value->'kind') IS DISTINCT FROM 'string' THEN true
            WHEN e.value ? 'queue' AND jsonb_typeof(e.value->'queue') <> 'string' THEN true
            WHEN e.value ? 'priority' AND (jsonb_typeof(e.value->'priority') <> 'number'
                 OR (e.value->>'priority') !~ '^-?[0-9]{1,5}$'
                 OR (e.value->>'priority')::integer NOT BETWEEN -32768 AND 32767) THEN true
            WHEN e.value ? 'max_attempts' AND (jsonb_typeof(e.value->'max_attempts') <> 'number'
                 OR (e.value->>'max_attempts') !~ '^-?[0-9]{1,9}$') THEN true
            WHEN e.value ? 'run_after' AND jsonb_typeof(e.value->'run_after') <> 'string' THEN true
            WHEN e.value ? 'dedupe_key' AND jsonb_typeof(e.value->'dedupe_key') NOT IN ('string', 'null') THEN true
            ELSE agentqueue_task_problem(e.value->>'kind', coalesce(e.value->>'queue', 'default'),
                                         coalesce(e.value->'payload', '{}'::jsonb),
                                         coalesce((e.value->>'max_attempts')::integer, 3),
                                         e.value->>'dedupe_key') IS NOT NULL
        END)
    ORDER BY e.ordinality
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'task % of the batch: %', v_bad.n, v_bad.problem USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Ids are drawn before inserting so that every element keeps its own id through ON CONFLICT DO NOTHING.
    WITH input AS MATERIALIZED (
        SELECT e.ordinality::integer AS n,
               nextval(pg_get_serial_sequence('tasks', 'id')) AS new_id,
               e.value->>'kind' AS kind,
               coalesce(e.value->>'queue', 'default') AS queue,
               coalesce(e.value->'payload', '{}'::jsonb) AS payload,
               coalesce((e.value->>'priority')::smallint, 0) AS priority,
               coalesce((e.value->>'run_after')::timestamptz, now()) AS run_after,
               coalesce((e.value->>'max_attempts')::integer, 3) AS max_attempts,
               e.value->>'dedupe_key' AS dedupe_key
        FROM jsonb_array_elements(p_tasks) WITH ORDINALITY AS e(value, ordinality)
    ), inserted AS (
        INSERT INTO tasks AS t (id, kind, queue, payload, priority, run_after, max_attempts, dedupe_key)
        OVERRIDING SYSTEM VALUE
        SELECT new_id, kind, queue, payload, priority, run_after, max_attempts, dedupe_key FROM input ORDER BY n
        ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('pending', 'running') DO NOTHING
        RETURNING t.id
    ), events AS (
        INSERT INTO task_events (task_id, from_state, to_state, attempt, reason)
        SELECT inserted.id, NULL, 'pending', 0, 'enqueued' FROM inserted
    ), resolved AS (
        SELECT i.n, i.dedupe_key, ins.id AS inserted_id,
               -- a duplicate of an earlier element of this batch, or of a live task stored before
               coalesce(ins.id,
                        (SELECT i2.new_id FROM input i2 JOIN inserted ins2 ON ins2.id = i2.new_id
                         WHERE i2.dedupe_key = i.dedupe_key LIMIT 1),
                        (SELECT t.id FROM tasks t
                         WHERE t.dedupe_key = i.dedupe_key AND t.state IN ('pending', 'running'))) AS id
        FROM input i LEFT JOIN inserted ins ON ins.id = i.new_id
    )
    SELECT array_agg(r.n ORDER BY r.n), array_agg(r.id ORDER BY r.n), array_agg(r.inserted_id IS NOT NULL ORDER BY r.n),
           array_agg(r.dedupe_key ORDER BY r.n)
    INTO v_ordinals, v_ids, v_new, v_keys
    FROM resolved r;

    PERFORM pg_notify('agentqueue', q.queue)
    FROM (SELECT DISTINCT coalesce(e.value->>'queue', 'default') AS queue
          FROM jsonb_array_elements(p_tasks) AS e(value)) q;

    FOR i IN 1 .. coalesce(array_length(v_ordinals, 1), 0) LOOP
        v_id := v_ids[i];
        IF v_id IS NULL THEN
            -- The live duplicate committed after this statement's snapshot: look again with a new snapshot.
            SELECT t.id INTO v_id FROM tasks t WHERE t.dedupe_key = v_keys[i] AND t.state IN ('pending', 'running');
            IF v_id IS NULL THEN
                RAISE EXCEPTION 'task % of the batch: its duplicate finished concurrently; retry', v_ordinals[i]
                    USING ERRCODE = 'serialization_failure';
            END IF;
        END IF;
        ordinal := v_ordinals[i];
        id := v_id;
        deduplicated := NOT v_new[i];
        RETURN NEXT;
    END LOOP;
END
$$;
