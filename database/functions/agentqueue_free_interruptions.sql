-- How many times a task may be handed back by the infrastructure without spending an attempt: a rescue after its
-- worker stopped heart-beating (the worker died, hung, or lost the database), or an attempt cut short by a lost
-- connection. An outage then does not push healthy tasks to their last attempt, while a task that keeps killing its
-- worker still ends dead: after this many free hand-backs, each one spends an attempt as a failure does.
CREATE OR REPLACE FUNCTION agentqueue_free_interruptions()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 5
$$;
