-- Paused queues (queuectl pause QUEUE): claim_task leaves their pending tasks alone until the queue is resumed.
-- Running tasks of a paused queue finish normally. Pausing is an operator's act, through pause_queue/resume_queue.
CREATE TABLE queue_pauses (
    queue     text PRIMARY KEY,
    paused_at timestamptz NOT NULL DEFAULT now(),
    reason    text
);
