-- Check, inside the caller's transaction, that a lease is still held, and lock the task row until that transaction
-- ends: the first statement of every finish transaction, so that no rescue or cancel can slip in between the results
-- the transaction writes and the task's completion. Returns false when the lease was lost. The worker role cannot
-- lock task rows any other way.
CREATE OR REPLACE FUNCTION lock_task_lease(task_id bigint, lease_token uuid)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM tasks t
    WHERE t.id = lock_task_lease.task_id AND t.lease_token = lock_task_lease.lease_token AND t.state = 'running'
    FOR UPDATE;
    RETURN FOUND;
END
$$;
