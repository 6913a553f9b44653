-- Why a lease duration is refused, or NULL: a lease must be positive and at most a day (a longer one would keep a
-- dead worker's task from being rescued for that long).
CREATE OR REPLACE FUNCTION agentqueue_lease_problem(p_lease interval)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_lease IS NULL THEN 'a lease duration is required'
        WHEN p_lease <= interval '0' THEN format('a lease must be longer than zero (got %s)', p_lease)
        WHEN p_lease > interval '1 day' THEN format('a lease must be at most 1 day (got %s)', p_lease)
    END
$$;
