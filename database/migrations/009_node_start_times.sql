-- Each node's own start, measured by the worker when the node began its work, so that `queuectl show` draws the
-- timeline from when nodes ran rather than from when their checkpoints were written (several nodes share one write).
-- NULL on checkpoints written before this migration.
ALTER TABLE task_checkpoints ADD COLUMN started_at timestamptz;

-- write_checkpoints gains the nodes' start times (database/functions/write_checkpoints.sql, applied right after the
-- migrations); the last argument defaults to NULL, so a worker of the previous version keeps calling it unchanged.
DROP FUNCTION write_checkpoints(bigint, uuid, text[], jsonb[], double precision[]);
