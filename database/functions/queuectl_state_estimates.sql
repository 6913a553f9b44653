-- Estimated task counts per (queue, state) for `queuectl stats` and `queuectl top` on big tables, for every role that
-- may use this schema (agentqueue_reader included). PostgreSQL shows extended statistics (pg_stats_ext) only to the
-- table's owner, so this function reads them with its owner's rights (SECURITY DEFINER, search_path pinned to this
-- schema, set by database/grants.sql) and returns nothing but counts: reltuples × the frequency of each (queue, state) pair in
-- tasks_queue_state_stats (migration 003). No rows until ANALYZE has run.
CREATE OR REPLACE FUNCTION queuectl_state_estimates()
RETURNS TABLE (queue text, state text, estimate double precision, table_rows double precision)
LANGUAGE sql STABLE AS $$
    SELECT s.most_common_vals[i][1], s.most_common_vals[i][2], s.most_common_freqs[i] * c.reltuples, c.reltuples
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_stats_ext s ON s.schemaname = n.nspname AND s.tablename = c.relname
    CROSS JOIN LATERAL pg_catalog.generate_subscripts(s.most_common_vals, 1) AS i
    WHERE c.oid = 'tasks'::regclass AND s.statistics_name = 'tasks_queue_state_stats' AND c.reltuples > 0
      AND s.most_common_vals IS NOT NULL
$$;
