-- Pause a queue: from the next claim on, no worker takes its pending tasks; running ones finish. Returns true when
-- the queue was not paused yet (a second pause keeps the first time and reason and returns false).
CREATE OR REPLACE FUNCTION pause_queue(p_queue text, p_reason text)
RETURNS boolean
LANGUAGE sql AS $$
    WITH paused AS (
        INSERT INTO queue_pauses (queue, reason) VALUES (p_queue, p_reason)
        ON CONFLICT (queue) DO NOTHING
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM paused)
$$;
