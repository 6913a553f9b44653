-- From here on, the current body of every SQL function lives in database/functions/ (one file each) and the rights in
-- database/grants.sql; the migrator applies them after the migrations whenever they change. This migration only
-- removes what no longer has a caller and fixes how the registry shows workers that died.

-- 002's single-node write_checkpoint, which 006 kept for workers of the previous version during a rolling deploy.
DROP FUNCTION IF EXISTS write_checkpoint(bigint, uuid, text, jsonb, double precision);

-- Workers as operators see them. A worker that stopped heart-beating for three intervals without stopping (killed, or
-- its host is gone) is `lost`, not `running` forever; `stale` stays for scripts. Earlier boots of a restarted worker
-- are marked stopped when it rescues their tasks (rescue_tasks).
CREATE OR REPLACE VIEW workers_status AS
SELECT w.id, w.host, w.instance, w.boot_id, w.pid, w.version, w.queues, w.concurrency, w.heartbeat_interval,
       CASE WHEN w.state <> 'stopped' AND w.heartbeat_at < now() - 3 * w.heartbeat_interval THEN 'lost'
            ELSE w.state END AS state,
       w.tasks_done, w.tasks_failed, w.started_at, w.heartbeat_at, w.stopped_at,
       (w.state <> 'stopped' AND w.heartbeat_at < now() - 3 * w.heartbeat_interval) AS stale
FROM workers w;
