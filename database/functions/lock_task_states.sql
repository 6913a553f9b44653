-- Lock tasks in id order (so that concurrent callers cannot deadlock) until the transaction ends and return their
-- states; a task that does not exist is missing from the result. queuectl cancel and retry call it first, so that
-- they act on every task or on none, as a role that may not lock the table itself (agentqueue_operator).
CREATE OR REPLACE FUNCTION lock_task_states(p_ids bigint[])
RETURNS TABLE (id bigint, state text)
LANGUAGE sql AS $$
    SELECT t.id, t.state FROM tasks t WHERE t.id = ANY (p_ids) ORDER BY t.id FOR UPDATE
$$;
