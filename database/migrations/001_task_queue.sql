-- AgentQueue task queue: tasks, their events, the worker registry, and the SQL functions that any client may
-- call to enqueue and claim. Every write about a running task is fenced by (id, lease_token, state = 'running').

CREATE TABLE tasks (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             text        NOT NULL,
    queue            text        NOT NULL DEFAULT 'default',
    payload          jsonb       NOT NULL DEFAULT '{}',
    state            text        NOT NULL DEFAULT 'pending',
    priority         smallint    NOT NULL DEFAULT 0,
    run_after        timestamptz NOT NULL DEFAULT now(),
    attempt          integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL DEFAULT 3,
    rescues          integer     NOT NULL DEFAULT 0,
    lease_owner      text,
    lease_token      uuid,
    lease_expires_at timestamptz,
    heartbeat_at     timestamptz,
    dedupe_key       text,
    cancel_requested boolean     NOT NULL DEFAULT false,
    errors           jsonb       NOT NULL DEFAULT '[]',
    result           jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tasks_state_check CHECK (state IN ('pending', 'running', 'succeeded', 'dead', 'cancelled')),
    CONSTRAINT tasks_kind_check CHECK (kind ~ '^[a-z][a-z0-9_.-]{0,63}$'),
    CONSTRAINT tasks_queue_check CHECK (queue ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    CONSTRAINT tasks_max_attempts_check CHECK (max_attempts BETWEEN 1 AND 1000),
    CONSTRAINT tasks_attempt_check CHECK (attempt >= 0),
    CONSTRAINT tasks_dedupe_key_check CHECK (dedupe_key IS NULL OR length(dedupe_key) BETWEEN 1 AND 512),
    CONSTRAINT tasks_payload_object_check CHECK (jsonb_typeof(payload) = 'object'),
    CONSTRAINT tasks_lease_check CHECK (state <> 'running' OR (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL))
) WITH (
    -- A hot queue table: leave room for HOT updates and vacuum it early and often.
    fillfactor = 85,
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_threshold = 50,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_limit = 2000,
    autovacuum_vacuum_cost_delay = 1
);

-- The claim's index: exactly its predicate (state = 'pending') and its order (priority, run_after, id).
-- Terminal rows are not in it, so the claim stays fast however many finished rows the table holds.
CREATE INDEX tasks_claim_idx ON tasks (priority, run_after, id) WHERE state = 'pending';
-- Rescue finds expired leases without touching other rows.
CREATE INDEX tasks_lease_idx ON tasks (lease_expires_at) WHERE state = 'running';
-- Dedupe: at most one live task per key. Enqueueing a duplicate returns the live task.
CREATE UNIQUE INDEX tasks_dedupe_idx ON tasks (dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('pending', 'running');
-- Retention prunes finished rows oldest first.
CREATE INDEX tasks_finished_idx ON tasks (finished_at) WHERE state IN ('succeeded', 'dead', 'cancelled');

-- An append-only record of state transitions. No foreign key: it is written in the same statement as the
-- transition and pruned with its task.
CREATE TABLE task_events (
    task_id    bigint      NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    from_state text,
    to_state   text        NOT NULL,
    attempt    integer     NOT NULL,
    worker     text,
    reason     text
) WITH (autovacuum_vacuum_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.05);
CREATE INDEX task_events_task_idx ON task_events (task_id, at);

-- One row per worker process: id = host/instance/boot-id.
CREATE TABLE workers (
    id                 text PRIMARY KEY,
    host               text        NOT NULL,
    instance           text        NOT NULL,
    boot_id            uuid        NOT NULL,
    pid                integer     NOT NULL,
    version            text        NOT NULL,
    queues             text[]      NOT NULL,
    concurrency        integer     NOT NULL,
    heartbeat_interval interval    NOT NULL,
    state              text        NOT NULL DEFAULT 'running',
    tasks_done         bigint      NOT NULL DEFAULT 0,
    tasks_failed       bigint      NOT NULL DEFAULT 0,
    started_at         timestamptz NOT NULL DEFAULT now(),
    heartbeat_at       timestamptz NOT NULL DEFAULT now(),
    stopped_at         timestamptz,
    CONSTRAINT workers_state_check CHECK (state IN ('starting', 'running', 'draining', 'stopped'))
);

-- Workers as operators see them: a worker that stopped heart-beating for three intervals is stale.
CREATE VIEW workers_status AS
SELECT w.*,
       (w.state <> 'stopped' AND w.heartbeat_at < now() - 3 * w.heartbeat_interval) AS stale
FROM workers w;

-- Why a task description cannot be stored, or NULL when it can. Shared by the enqueue functions so that bad
-- input gets one clear message before anything is stored.
CREATE FUNCTION agentqueue_task_problem(p_kind text, p_queue text, p_payload jsonb, p_max_attempts integer,
                                        p_dedupe_key text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_kind IS NULL THEN 'a task needs a kind'
        WHEN p_kind !~ '^[a-z][a-z0-9_.-]{0,63}$' THEN
            format('invalid task kind %s: use 1-64 characters, a lowercase letter first, then lowercase letters, '
                   'digits, _ . -', quote_literal(left(p_kind, 80)))
        WHEN p_queue IS NULL OR p_queue !~ '^[a-z0-9][a-z0-9_.-]{0,63}$' THEN
            format('invalid queue name %s: use 1-64 characters from lowercase letters, digits, _ . - '
                   '(a letter or digit first)', coalesce(quote_literal(left(p_queue, 80)), 'NULL'))
        WHEN p_payload IS NULL OR jsonb_typeof(p_payload) <> 'object' THEN
            format('a task payload must be a JSON object (got %s)', coalesce(jsonb_typeof(p_payload), 'NULL'))
        WHEN p_max_attempts IS NULL OR p_max_attempts NOT BETWEEN 1 AND 1000 THEN
            format('max_attempts must be between 1 and 1000 (got %s)', coalesce(p_max_attempts::text, 'NULL'))
        WHEN p_dedupe_key IS NOT NULL AND length(p_dedupe_key) NOT BETWEEN 1 AND 512 THEN
            'a dedupe key must be 1-512 characters'
    END
$$;

-- Exponential backoff with ±25 % jitter: base · 2^(attempt-1), at most max.
CREATE FUNCTION agentqueue_backoff(p_attempt integer, p_base interval, p_max interval)
RETURNS interval
LANGUAGE sql VOLATILE AS $$
    SELECT least(p_base * power(2, least(greatest(p_attempt, 1) - 1, 30)), p_max) * (0.75 + random() * 0.5)
$$;

-- Enqueue one task. Returns its id and whether an existing live task with the same dedupe key was returned
-- instead of a new one. Call it inside your own transaction: the task exists when that transaction commits.
-- One notification per queue per transaction reaches the workers (PostgreSQL folds identical notifications).
CREATE FUNCTION enqueue_task(
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

-- Enqueue many tasks in one call from a JSON array of objects with the keys kind (required), payload, queue,
-- priority, run_after, max_attempts and dedupe_key. All or nothing: one invalid element refuses the whole batch
-- with a message naming it. Returns one row per element, in order.
CREATE FUNCTION enqueue_tasks(p_tasks jsonb)
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

-- Claim up to max_tasks ready tasks of the given queues for a worker: one statement, a materialized CTE that
-- locks ready rows in priority order with SKIP LOCKED, then marks them running with attempt + 1, a fresh lease
-- token and a lease expiry. The only way tasks become running.
CREATE FUNCTION claim_task(worker_id text, queues text[], max_tasks integer, lease interval)
RETURNS SETOF tasks
LANGUAGE sql AS $$
    WITH picked AS MATERIALIZED (
        SELECT t.id FROM tasks t
        WHERE t.state = 'pending' AND t.run_after <= now() AND t.queue = ANY (queues)
        ORDER BY t.priority, t.run_after, t.id
        LIMIT max_tasks
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE tasks t
        SET state = 'running', attempt = t.attempt + 1, lease_owner = worker_id, lease_token = gen_random_uuid(),
            lease_expires_at = now() + lease, heartbeat_at = now(), started_at = now(), updated_at = now()
        FROM picked
        WHERE t.id = picked.id
        RETURNING t.*
    ), events AS (
        INSERT INTO task_events (task_id, from_state, to_state, attempt, worker, reason)
        SELECT c.id, 'pending', 'running', c.attempt, worker_id, 'claimed' FROM claimed c
    )
    SELECT * FROM claimed
$$;

-- Extend the leases of tasks a worker still holds. Returns the tasks whose lease was extended, with their
-- cancel flag; a task missing from the result is no longer held (its lease was lost).
CREATE FUNCTION heartbeat_tasks(task_ids bigint[], lease_tokens uuid[], lease interval)
RETURNS TABLE (id bigint, cancel_requested boolean)
LANGUAGE sql AS $$
    UPDATE tasks t
    SET lease_expires_at = now() + lease, heartbeat_at = now()
    FROM unnest(task_ids, lease_tokens) AS held(id, token)
    WHERE t.id = held.id AND t.lease_token = held.token AND t.state = 'running'
    RETURNING t.id, t.cancel_requested
$$;

-- Finish tasks successfully. Returns the ids that were finished; a missing id means its lease was lost and
-- nothing was written for it.
CREATE FUNCTION complete_tasks(task_ids bigint[], lease_tokens uuid[], results jsonb[])
RETURNS SETOF bigint
LANGUAGE sql AS $$
    WITH done AS (
        UPDATE tasks t
        SET state = 'succeeded', result = held.result, finished_at = now(), updated_at = now(),
            lease_token = NULL, lease_expires_at = NULL
        FROM unnest(task_ids, lease_tokens, results) AS held(id, token, result)
        WHERE t.id = held.id AND t.lease_token = held.token AND t.state = 'running'
        RETURNING t.id, t.attempt, t.lease_owner
    ), events AS (
        INSERT INTO task_events (task_id, from_state, to_state, attempt, worker, reason)
        SELECT d.id, 'running', 'succeeded', d.attempt, d.lease_owner, NULL FROM done d
    )
    SELECT d.id FROM done d
$$;

-- Record a failed attempt: back to pending after a backoff, or dead when the attempts are spent or the failure
-- is permanent. The error joins the task's history. Returns the new state, or no row when the lease was lost.
CREATE FUNCTION fail_task(task_id bigint, lease_token uuid, message text, permanent boolean,
                          retry_base interval, retry_max interval)
RETURNS TABLE (state text, run_after timestamptz)
LANGUAGE sql AS $$
    WITH failed AS (
        UPDATE tasks t
        SET state = CASE WHEN permanent OR t.attempt >= t.max_attempts THEN 'dead' ELSE 'pending' END,
            run_after = CASE WHEN permanent OR t.attempt >= t.max_attempts THEN t.run_after
                             ELSE now() + agentqueue_backoff(t.attempt, retry_base, retry_max) END,
            finished_at = CASE WHEN permanent OR t.attempt >= t.max_attempts THEN now() END,
            errors = t.errors || jsonb_build_array(jsonb_build_object(
                'attempt', t.attempt, 'at', now(), 'worker', t.lease_owner, 'message', left(message, 4000))),
            lease_token = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE t.id = fail_task.task_id AND t.lease_token = fail_task.lease_token AND t.state = 'running'
        RETURNING t.id, t.state, t.run_after, t.attempt, t.lease_owner
    ), events AS (
        INSERT INTO task_events (task_id, from_state, to_state, attempt, worker, reason)
        SELECT f.id, 'running', f.state, f.attempt, f.lease_owner, left(message, 4000) FROM failed f
    )
    SELECT f.state, f.run_after FROM failed f
$$;

-- Hand a task back without spending an attempt (shutdown). Returns false when the lease was lost.
CREATE FUNCTION release_task(task_id bigint, lease_token uuid, reason text)
RETURNS boolean
LANGUAGE sql AS $$
    WITH released AS (
        UPDATE tasks t
        SET state = 'pending', attempt = greatest(t.attempt - 1, 0), run_after = now(),
            lease_token = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE t.id = release_task.task_id AND t.lease_token = release_task.lease_token AND t.state = 'running'
        RETURNING t.id, t.attempt, t.lease_owner
    ), events AS (
        INSERT INTO task_events (task_id, from_state, to_state, attempt, worker, reason)
        SELECT r.id, 'running', 'pending', r.attempt, r.lease_owner, reason FROM released r
    )
    SELECT count(*) = 1 FROM released
$$;

-- Stop a running task whose cancellation was requested (at a node boundary). False when the lease was lost.
CREATE FUNCTION finish_cancelled_task(task_id bigint, lease_token uuid)
RETURNS boolean
LANGUAGE sql AS $$
    WITH stopped AS (
        UPDATE tasks t
        SET state = 'cancelled', finished_at = now(), lease_token = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE t.id = finish_cancelled_task.task_id AND t.lease_token = finish_cancelled_task.lease_token
          AND t.state = 'running'
        RETURNING t.id, t.attempt, t.lease_owner
    ), events AS (
        INSERT INTO task_events (task_id, from_state, to_state, attempt, worker, reason)
        SELECT s.id, 'running', 'cancelled', s.attempt, s.lease_owner, 'cancel requested' FROM stopped s
    )
    SELECT count(*) = 1 FROM stopped
$$;

-- Rescue running tasks whose lease expired (their worker died or stalled), or, with owner_prefix, every running
-- task held by earlier boots of a restarted worker. Back to pending after a backoff, or dead when the attempts are
-- spent. Idempotent and SKIP LOCKED: any number of workers may run it at once.
CREATE FUNCTION rescue_tasks(max_tasks integer, retry_base interval, retry_max interval,
                             owner_prefix text DEFAULT NULL, current_owner text DEFAULT NULL)
RETURNS TABLE (id bigint, state text, lease_owner text)
LANGUAGE sql AS $$
    WITH expired AS MATERIALIZED (
        SELECT t.id FROM tasks t
        WHERE t.state = 'running'
          AND CASE WHEN owner_prefix IS NULL THEN t.lease_expires_at < now()
                   ELSE left(t.lease_owner, length(owner_prefix)) = owner_prefix
                        AND t.lease_owner IS DISTINCT FROM current_owner END
        ORDER BY t.lease_expires_at
        LIMIT max_tasks
        FOR UPDATE SKIP LOCKED
    ), rescued AS (
        UPDATE tasks t
        SET state = CASE WHEN t.attempt >= t.max_attempts THEN 'dead' ELSE 'pending' END,
            run_after = CASE WHEN t.attempt >= t.max_attempts THEN t.run_after
                             ELSE now() + agentqueue_backoff(t.rescues + 1, retry_base, retry_max) END,
            finished_at = CASE WHEN t.attempt >= t.max_attempts THEN now() END,
            rescues = t.rescues + 1,
            errors = t.errors || jsonb_build_array(jsonb_build_object(
                'attempt', t.attempt, 'at', now(), 'worker', t.lease_owner,
                'message', CASE WHEN owner_prefix IS NULL THEN 'lease expired: the worker stopped heart-beating'
                                ELSE 'the worker restarted while running the task' END)),
            lease_token = NULL, lease_expires_at = NULL, updated_at = now()
        FROM expired e
        WHERE t.id = e.id AND t.state = 'running'
        RETURNING t.id, t.state, t.attempt, t.lease_owner
    ), events AS (
        INSERT INTO task_events (task_id, from_state, to_state, attempt, worker, reason)
        SELECT r.id, 'running', r.state, r.attempt, r.lease_owner, 'rescued' FROM rescued r
    )
    SELECT r.id, r.state, r.lease_owner FROM rescued r
$$;

-- Cancel a task: a pending task is cancelled at once; a running task is flagged and stops at its next node
-- boundary. Returns the resulting state ('cancelled', 'cancel_requested', or the unchanged terminal state), or
-- no row when the task does not exist.
CREATE FUNCTION cancel_task(task_id bigint)
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

-- Put a dead or cancelled task back to pending with a fresh set of attempts. Returns the resulting state, or no
-- row when the task does not exist.
CREATE FUNCTION retry_task(task_id bigint)
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

-- Delete up to batch_size finished tasks (and their events) that finished before now() - older_than, oldest first.
-- Short statements with SKIP LOCKED: call it repeatedly until it returns 0.
CREATE FUNCTION prune_tasks(older_than interval, states text[], batch_size integer)
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
