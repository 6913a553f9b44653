-- Add a worker process to the registry, or mark it running again (the same id registering twice).
CREATE OR REPLACE FUNCTION register_worker(p_id text, p_host text, p_instance text, p_boot_id uuid, p_pid integer,
                                           p_version text, p_queues text[], p_concurrency integer,
                                           p_heartbeat_interval interval)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO workers AS w (id, host, instance, boot_id, pid, version, queues, concurrency, heartbeat_interval)
    VALUES (p_id, p_host, p_instance, p_boot_id, p_pid, p_version, p_queues, p_concurrency, p_heartbeat_interval)
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), state = 'running', stopped_at = NULL
$$;
