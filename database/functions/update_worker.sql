-- Refresh a worker's registry row: its heartbeat, state (running, draining, stopped), counters and reloadable
-- settings. A worker that stopped stays stopped.
CREATE OR REPLACE FUNCTION update_worker(p_id text, p_state text, p_done bigint, p_failed bigint, p_queues text[],
                                         p_concurrency integer)
RETURNS void
LANGUAGE sql AS $$
    UPDATE workers w
    SET heartbeat_at = now(), state = p_state, tasks_done = p_done, tasks_failed = p_failed, queues = p_queues,
        concurrency = p_concurrency, stopped_at = CASE WHEN p_state = 'stopped' THEN now() END
    WHERE w.id = p_id AND w.state <> 'stopped'
$$;
