-- Why a task description cannot be stored, or NULL when it can. Shared by the enqueue functions so that bad
-- input gets one clear message before anything is stored.
CREATE OR REPLACE FUNCTION agentqueue_task_problem(p_kind text, p_queue text, p_payload jsonb, p_max_attempts integer,
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
        WHEN p_dedupe_key ~ '[\x01-\x1f\x7f-\x9f]' THEN
            'a dedupe key cannot contain control characters'
    END
$$;
