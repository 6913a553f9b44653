-- Record a GitHub delivery that closes a pull request and cancel its live reviews (pending ones at once, running
-- ones at their workers' next heartbeat), in one transaction. A redelivery changes nothing. Returns the outcome
-- ('cancelled' or 'redelivery') and how many reviews were cancelled.
CREATE OR REPLACE FUNCTION cancel_pull_request_reviews(p_delivery text, p_event text, p_action text, p_repo text,
                                                       p_pr_number integer)
RETURNS TABLE (outcome text, cancelled integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    INSERT INTO webhook_deliveries (delivery_id, event, action, repo, pr_number, outcome)
    VALUES (p_delivery, p_event, p_action, p_repo, p_pr_number, 'cancelled')
    ON CONFLICT (delivery_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'redelivery'::text, 0;
        RETURN;
    END IF;
    SELECT count(*) INTO v_count FROM (
        SELECT cancel_task(t.id) FROM tasks t
        WHERE t.kind = 'review' AND t.state IN ('pending', 'running')
          AND t.payload ->> 'repo' = p_repo AND t.payload ->> 'pr_number' = p_pr_number::text
        ORDER BY t.id
    ) AS done;
    RETURN QUERY SELECT 'cancelled'::text, v_count;
END
$$;
