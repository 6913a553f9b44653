-- Resume a paused queue and wake the workers that listen (they claim at once, not at their next poll). Returns
-- true when the queue was paused.
CREATE OR REPLACE FUNCTION resume_queue(p_queue text)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM queue_pauses WHERE queue = p_queue;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM pg_notify('agentqueue', p_queue);
    RETURN true;
END
$$;
