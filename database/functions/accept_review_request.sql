-- Record a GitHub delivery that asks for a review and enqueue the review, in one short transaction (queue-webhook
-- answers GitHub within its 10-second limit and never waits for the review).
--
-- A redelivery (the delivery id is already recorded) changes nothing and answers 'redelivery' with the task of the
-- first delivery. With p_supersede (a push: opened, synchronize, …) the latest push wins: the pull request's pending
-- reviews of other head commits are cancelled and its running ones flagged (their workers stop them at their next heartbeat). The
-- review is enqueued with the dedupe key p_dedupe_key: a live review of the same key is returned instead
-- ('deduplicated'). Returns the outcome ('enqueued', 'deduplicated', 'redelivery') and the task.
CREATE OR REPLACE FUNCTION accept_review_request(p_delivery text, p_event text, p_action text, p_repo text,
                                                 p_pr_number integer, p_head_sha text, p_payload jsonb,
                                                 p_queue text, p_priority smallint, p_dedupe_key text,
                                                 p_supersede boolean)
RETURNS TABLE (outcome text, task_id bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_first bigint;
    v_id bigint;
    v_deduplicated boolean;
    v_superseded integer := 0;
BEGIN
    INSERT INTO webhook_deliveries (delivery_id, event, action, repo, pr_number, head_sha, outcome)
    VALUES (p_delivery, p_event, p_action, p_repo, p_pr_number, p_head_sha, 'enqueued')
    ON CONFLICT (delivery_id) DO NOTHING;
    IF NOT FOUND THEN
        SELECT d.task_id INTO v_first FROM webhook_deliveries d WHERE d.delivery_id = p_delivery;
        RETURN QUERY SELECT 'redelivery'::text, v_first;
        RETURN;
    END IF;
    IF p_supersede THEN
        SELECT count(*) INTO v_superseded FROM (
            SELECT cancel_task(t.id) FROM tasks t
            WHERE t.kind = 'review' AND t.state IN ('pending', 'running')
              AND t.payload ->> 'repo' = p_repo AND t.payload ->> 'pr_number' = p_pr_number::text
              AND (t.payload ->> 'head_sha') IS DISTINCT FROM p_head_sha
            ORDER BY t.id
        ) AS cancelled;
    END IF;
    SELECT e.id, e.deduplicated INTO v_id, v_deduplicated
    FROM enqueue_task('review', p_payload, p_queue, p_priority, NULL, 3, p_dedupe_key) AS e;
    UPDATE webhook_deliveries d
    SET task_id = v_id,
        outcome = CASE WHEN v_deduplicated THEN 'deduplicated' WHEN v_superseded > 0 THEN 'superseded'
                       ELSE 'enqueued' END
    WHERE d.delivery_id = p_delivery;
    RETURN QUERY SELECT CASE WHEN v_deduplicated THEN 'deduplicated' ELSE 'enqueued' END, v_id;
END
$$;
