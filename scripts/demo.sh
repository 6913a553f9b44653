#!/usr/bin/env bash
# AgentQueue's main command: builds it, starts (or reuses) a local PostgreSQL when DATABASE_URL is not set,
# applies the schema, runs two workers, enqueues reviews of three sample diffs, prints their verdicts, and stops
# the workers cleanly.
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

# Three sample pull requests (scripts/demo/*.diff), reviewed by the two workers; --wait prints each verdict.
log "enqueueing three reviews and waiting for their verdicts"
number=0
for diff in "$AQ_ROOT"/scripts/demo/*.diff; do
    number=$((number + 1))
    name=$(basename "$diff" .diff)
    echo
    echo "=== demo/app#$number: $name"
    set +e
    "$BIN/queuectl" enqueue review --diff "$diff" --repo demo/app --pr "$number" --title "$name" \
        --author demo --force --wait --timeout 2m
    status=$?
    set -e
    case $status in 0|5|6) ;; *) die "the review of $name did not finish (exit status $status)";; esac
done
echo
"$BIN/queuectl" verdicts --repo demo/app
cleanup
workers=()
log "done: both workers drained and stopped"
