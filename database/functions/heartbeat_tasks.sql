-- Extend the leases of tasks a worker still holds. Returns each lease that was extended (its task and token), with the
-- task's cancel flag; a lease missing from the result is no longer held (it was lost). PL/pgSQL, so that the statement
-- is planned once per session.
DROP FUNCTION IF EXISTS heartbeat_tasks(bigint[], uuid[], interval);
CREATE FUNCTION heartbeat_tasks(task_ids bigint[], lease_tokens uuid[], lease interval)
RETURNS TABLE (id bigint, lease_token uuid, cancel_requested boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_problem text := agentqueue_lease_problem(lease);
BEGIN
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION '%', v_problem USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    UPDATE tasks t
    SET lease_expires_at = now() + lease, heartbeat_at = now()
    FROM unnest(task_ids, lease_tokens) AS held(id, token)
    WHERE t.id = held.id AND t.lease_token = held.token AND t.state = 'running'
    RETURNING t.id, t.lease_token, t.cancel_requested;
END
$$;
