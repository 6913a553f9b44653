-- Finish tasks successfully. Returns the ids that were finished; a missing id means its lease was lost and
-- nothing was written for it.
CREATE OR REPLACE FUNCTION complete_tasks(task_ids bigint[], lease_tokens uuid[], results jsonb[])
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
