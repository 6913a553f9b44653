#!/usr/bin/env bash
# AgentQueue's main command: builds it, starts (or reuses) a local PostgreSQL when DATABASE_URL is not set,
# applies the schema, runs two workers, enqueues work, prints what happened, and stops the workers cleanly.
#
#   scripts/demo.sh           run the demo
#   scripts/demo.sh --stop    stop the local PostgreSQL the demo started
#
# Without DATABASE_URL the database lives in $AGENTQUEUE_DATA (default /var/tmp/agentqueue): data, socket, log
# and port file. It keeps running between runs and is reused.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$AQ_ROOT/scripts/lib/postgres.sh"
cd "$AQ_ROOT"

DATA=${AGENTQUEUE_DATA:-/var/tmp/agentqueue}
if [ "${1:-}" = "--stop" ]; then
    pg_stop "$DATA"
    log "stopped the local PostgreSQL in $DATA"
    exit 0
fi

apt_install libpq-dev libsystemd-dev postgresql pkg-config
log "building (swift build)"
swift build >/tmp/aq-demo-build.log 2>&1 || { tail -n 30 /tmp/aq-demo-build.log >&2; die "build failed"; }
BIN=$(swift build --show-bin-path)

if [ -z "${DATABASE_URL:-}" ]; then
    PG_PORT_HINT=54329 pg_start "$DATA"
    log "local PostgreSQL in $DATA on port $PG_PORT (stop it with: scripts/demo.sh --stop)"
else
    log "using DATABASE_URL from the environment"
fi
export DATABASE_URL

"$BIN/queuectl" migrate

workers=()
cleanup() {
    for pid in "${workers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${workers[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
for instance in demo-1 demo-2; do
    WORKER_CONCURRENCY=4 LOG_LEVEL=notice LOG_FORMAT=logfmt "$BIN/queue-worker" --instance "$instance" \
        2>>"/tmp/aq-demo-$instance.log" &
    workers+=("$!")
done
log "started two workers (logs: /tmp/aq-demo-demo-1.log, /tmp/aq-demo-demo-2.log)"

run_id=$(date +%s)
psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -c \
    "SELECT count(*) || ' tasks enqueued' FROM enqueue_tasks((SELECT jsonb_agg(jsonb_build_object(
        'kind', 'noop', 'payload', jsonb_build_object('sleep_ms', 20, 'demo', $run_id)))
     FROM generate_series(1, 200)))"

for _ in $(seq 1 300); do
    left=$(psql "$DATABASE_URL" -qAt -c \
        "SELECT count(*) FROM tasks WHERE payload->>'demo' = '$run_id' AND state IN ('pending', 'running')")
    [ "$left" = 0 ] && break
    sleep 0.2
done
psql "$DATABASE_URL" -q -c \
    "SELECT state, count(*) AS tasks, count(DISTINCT lease_owner) AS workers
     FROM tasks WHERE payload->>'demo' = '$run_id' GROUP BY state ORDER BY state"
cleanup
workers=()
psql "$DATABASE_URL" -q -c "SELECT instance, state, tasks_done, tasks_failed FROM workers
                             WHERE instance LIKE 'demo-%' ORDER BY started_at DESC LIMIT 2"
log "done: both workers drained and stopped"
