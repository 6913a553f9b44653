-- Statistics for `queuectl stats` and `queuectl top` on big tables: the joint distribution of (queue, state).
-- ANALYZE (autovacuum's, with the tasks table's aggressive analyze settings) keeps a most-common-values list of the
-- (queue, state) pairs; reltuples × a pair's frequency estimates its count without scanning the table. The counts of
-- pending and running tasks are never estimated (they come from the partial indexes).
CREATE STATISTICS tasks_queue_state_stats (mcv) ON queue, state FROM tasks;
