#!/usr/bin/env bash
# Chaos run: 4 workers review tasks while workers are killed with SIGKILL (and restarted), backends are
# terminated with pg_terminate_backend, and PostgreSQL is restarted once in fast mode and once in immediate mode.
# At the end it verifies that every task is terminal, no review was recorded twice, no checkpoint or result was
# written under a lease that did not exist, and some tasks resumed from checkpoints.
#
#   scripts/chaos.sh [--short|--long] [--tasks N] [--seconds S]
#     --short   200 tasks, the variant CI runs (about a minute)
#     --long    2000 tasks, as documented in docs/operating.md
# Builds if needed (AGENTQUEUE_BIN_DIR to use existing binaries). Starts its own PostgreSQL (default settings,
# fsync on) and always stops it. Last line: chaos: tasks=N succeeded=N dead=N duplicates=0 lost=0 resumed=N
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$AQ_ROOT/scripts/lib/postgres.sh"
cd "$AQ_ROOT"

tasks=200
limit=240
while [ $# -gt 0 ]; do
    case $1 in
        --short) tasks=200; limit=240 ;;
        --long) tasks=2000; limit=900 ;;
        --tasks) tasks=$2; shift ;;
        --seconds) limit=$2; shift ;;
        *) die "unknown option $1 (see the header of $0)" ;;
    esac
    shift
done

if [ -z "${AGENTQUEUE_BIN_DIR:-}" ]; then
    log "building"
    swift build >/tmp/aq-chaos-build.log 2>&1 || { tail -n 30 /tmp/aq-chaos-build.log >&2; die "build failed"; }
    AGENTQUEUE_BIN_DIR=$(swift build --show-bin-path)
fi
BIN=$AGENTQUEUE_BIN_DIR
[ -x "$BIN/queue-worker" ] && [ -x "$BIN/queuectl" ] || die "no queue-worker/queuectl in $BIN"

pg_throwaway durable
DIR=$PG_DIR
PSQL=(psql "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1)
LOGS=$(mktemp -d /tmp/aq-chaos-logs.XXXXXX)
log "PostgreSQL on port $PG_PORT (fsync on); worker logs in $LOGS"

"$BIN/queuectl" migrate >/dev/null

# Four small diffs of different shapes, reviewed round-robin.
python3 - "$tasks" >"$LOGS/tasks.json" <<'PY'
import json, sys
n = int(sys.argv[1])
diffs = [
    "diff --git a/app/db.py b/app/db.py\n--- a/app/db.py\n+++ b/app/db.py\n@@ -1,2 +1,5 @@\n import os\n"
    "+def find(user_id):\n+    cursor.execute(\"SELECT * FROM users WHERE id = \" + user_id)\n+    print(user_id)\n"
    " def ok():\n",
    "diff --git a/web/api.js b/web/api.js\n--- a/web/api.js\n+++ b/web/api.js\n@@ -1 +1,4 @@\n const x = 1;\n"
    "+app.get('/run', (req, res) => {\n+  eval(req.query.code);\n+});\n",
    "diff --git a/cmd/main.go b/cmd/main.go\n--- a/cmd/main.go\n+++ b/cmd/main.go\n@@ -1,2 +1,4 @@\n package main\n"
    "+import \"crypto/md5\"\n+var sum = md5.Sum([]byte(\"x\"))\n func main() {}\n",
    "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n # Title\n+More words.\n",
]
tasks = [{"kind": "review", "max_attempts": 10,
          "payload": {"source": {"diff": diffs[i % 4]}, "repo": "chaos/repo", "pr_number": i + 1}}
         for i in range(n)]
print(json.dumps(tasks))
PY
{ printf 'SELECT count(*) FROM enqueue_tasks($json$'; cat "$LOGS/tasks.json"; printf '$json$::jsonb);\n'; } >"$LOGS/enqueue.sql"
"${PSQL[@]}" -f "$LOGS/enqueue.sql" >/dev/null
log "enqueued $tasks review tasks"

export DATABASE_URL
export WORKER_CONCURRENCY=4 WORKER_LEASE_SECONDS=3 WORKER_HEARTBEAT_SECONDS=1 WORKER_RESCUE_INTERVAL_SECONDS=0.5
export WORKER_POLL_INTERVAL_MS=200 WORKER_RETRY_BASE_SECONDS=0.2 WORKER_RETRY_MAX_SECONDS=2 WORKER_DB_TOLERANCE_SECONDS=120
export LOG_LEVEL=info LOG_FORMAT=logfmt
# Reviews take a few hundred milliseconds, so kills land in the middle of graphs and tasks resume from checkpoints.
export AGENTQUEUE_NODE_DELAYS="fetch_diff=100,security=300,scale=400,quality=500,architecture=600,verdict=150"

declare -A pids
start_worker() {
    "$BIN/queue-worker" --instance "chaos-$1" 2>>"$LOGS/worker-$1.log" &
    pids[$1]=$!
}
stop_all() {
    for i in "${!pids[@]}"; do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
    for i in "${!pids[@]}"; do wait "${pids[$i]}" 2>/dev/null || true; done
}
trap 'stop_all; aq_cleanup' EXIT
for i in 1 2 3 4; do start_worker "$i"; done

remaining() { "${PSQL[@]}" -c "SELECT count(*) FROM tasks WHERE state IN ('pending', 'running')" 2>/dev/null || echo "?"; }

start=$(date +%s)
kills=0 terminations=0 restarted_fast=0 restarted_immediate=0
while :; do
    now=$(date +%s)
    elapsed=$((now - start))
    left=$(remaining)
    [ "$left" = 0 ] && break
    [ "$elapsed" -ge "$limit" ] && { log "time limit reached with $left tasks left"; break; }
    # A random worker dies hard and comes back.
    victim=$((RANDOM % 4 + 1))
    kill -KILL "${pids[$victim]}" 2>/dev/null && kills=$((kills + 1))
    wait "${pids[$victim]}" 2>/dev/null || true
    start_worker "$victim"
    # Random worker backends are terminated.
    n=$("${PSQL[@]}" -c "SELECT count(pg_terminate_backend(pid)) FROM (SELECT pid FROM pg_stat_activity
        WHERE application_name LIKE 'queue-worker/%' ORDER BY random() LIMIT 2) AS victims" 2>/dev/null || echo 0)
    terminations=$((terminations + n))
    # PostgreSQL restarts: once fast, once immediate (crash recovery).
    if [ "$restarted_fast" = 0 ] && [ "$elapsed" -ge 3 ]; then
        log "restarting PostgreSQL (fast)"
        pg_restart "$DIR" fast
        restarted_fast=1
    elif [ "$restarted_immediate" = 0 ] && [ "$elapsed" -ge 8 ]; then
        log "restarting PostgreSQL (immediate: crash recovery)"
        pg_restart "$DIR" immediate
        restarted_immediate=1
    fi
    sleep "1.$((RANDOM % 10))"
done
# Let the last restarted workers finish what is left (no more chaos), then stop them cleanly.
for _ in $(seq 1 120); do [ "$(remaining)" = 0 ] && break; sleep 0.5; done
stop_all
pids=()
log "chaos over: $kills workers killed, $terminations backends terminated, PostgreSQL restarted fast=$restarted_fast immediate=$restarted_immediate"

"${PSQL[@]}" -F ' ' -c "
WITH review_tasks AS (SELECT * FROM tasks WHERE kind = 'review'),
     history AS (SELECT task_id, count(*) AS n FROM review_history GROUP BY task_id),
     claims AS (SELECT task_id, attempt, worker FROM task_events WHERE to_state = 'running'),
     stale_checkpoints AS (
        SELECT c.task_id FROM task_checkpoints c
        WHERE NOT EXISTS (SELECT 1 FROM claims e WHERE e.task_id = c.task_id AND e.attempt = c.attempt AND e.worker = c.worker)),
     stale_results AS (
        SELECT e.task_id FROM task_events e
        WHERE e.to_state = 'succeeded'
          AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.task_id = e.task_id AND c.attempt = e.attempt AND c.worker = e.worker))
SELECT (SELECT count(*) FROM review_tasks),
       (SELECT count(*) FROM review_tasks WHERE state = 'succeeded'),
       (SELECT count(*) FROM review_tasks WHERE state = 'dead'),
       (SELECT coalesce(sum(n - 1), 0) FROM history)
         + greatest((SELECT count(*) FROM review_history) - (SELECT count(*) FROM review_tasks WHERE state = 'succeeded'), 0),
       (SELECT count(*) FROM review_tasks WHERE state NOT IN ('succeeded', 'dead', 'cancelled'))
         + (SELECT count(*) FROM review_tasks t WHERE t.state = 'succeeded' AND NOT EXISTS (SELECT 1 FROM history h WHERE h.task_id = t.id)),
       (SELECT count(*) FROM (SELECT task_id FROM task_checkpoints GROUP BY task_id HAVING count(DISTINCT worker) > 1) r),
       (SELECT count(*) FROM stale_checkpoints) + (SELECT count(*) FROM stale_results),
       (SELECT count(*) FROM review_tasks WHERE attempt > 1 OR rescues > 0)
" >"$LOGS/verdict.txt"
read -r total succeeded dead duplicates lost resumed stale retried <"$LOGS/verdict.txt"
restarts=$(cat "$LOGS"/worker-*.log | grep -c 'msg=starting' || true)
log "tasks retried after an interruption: $retried; stale writes: $stale; worker starts: $restarts"
if [ "$dead" != 0 ]; then
    "${PSQL[@]}" -c "SELECT id, errors->-1->>'message' FROM tasks WHERE state = 'dead' LIMIT 5" >&2
fi
status=0
[ "$duplicates" = 0 ] || status=1
[ "$lost" = 0 ] || status=1
[ "$stale" = 0 ] || status=1
[ "$resumed" -gt 0 ] || { log "no task resumed from checkpoints: the run did not exercise resume"; status=1; }
echo "chaos: tasks=$total succeeded=$succeeded dead=$dead duplicates=$duplicates lost=$lost resumed=$resumed"
exit $status
