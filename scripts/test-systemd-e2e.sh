#!/usr/bin/env bash
# End-to-end test under a real systemd as PID 1: boots a minimal Debian bookworm in systemd-nspawn, installs
# queue-worker and queuectl (built with --static-swift-stdlib) and the units as docs/operating.md says, and runs three
# instances under queue-workers.target against a throwaway PostgreSQL on the host's loopback (the container shares
# the host's network). It checks, in order:
#   1. start      all three instances are active with a StatusText; the secret from worker.env never shows up;
#   2. work       200 reviews of a sample diff all succeed, each recorded exactly once, spread over the three
#                 instances (the other checks use `noop` tasks, whose duration they choose);
#   3. watchdog   `kill -STOP` of instance 2: systemd's watchdog (WatchdogSec=3s, a drop-in) kills and restarts
#                 it (NRestarts=1), and the tasks it held finish on instances 1 and 3;
#   4. reload     after editing worker.conf, `systemctl reload 'queue-worker@*'`: systemd receives RELOADING=1
#                 (with MONOTONIC_USEC=) then READY=1, and the new queues, concurrency and log level take effect;
#   5. journal    `journalctl -u queue-worker@2 TASK_ID=…` finds the lines of a task instance 2 ran;
#   6. stop       `systemctl stop 'queue-worker@*'` drains (running tasks finish) and every instance ends with
#                 Result=success and exit status 0; no task ever succeeded twice.
#
# Usage (as root): scripts/test-systemd-e2e.sh
#   E2E_BIN_DIR        use prebuilt (static) queue-worker and queuectl from here instead of building them
#   AQ_E2E_CACHE       where the bookworm root file system is cached (default /var/tmp/agentqueue-e2e)
#   AQ_DEBIAN_MIRROR   the Debian mirror for debootstrap (default http://deb.debian.org/debian)
# Skips (exit 0, with a message) when not root or when systemd-nspawn/debootstrap cannot be installed; any other
# problem fails. Cleans up (container, database, temporary files) on every exit.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
# shellcheck source=lib/postgres.sh
source "$AQ_ROOT/scripts/lib/postgres.sh"
cd "$AQ_ROOT"

skip() { log "skipping the systemd end-to-end test: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "it needs root (systemd-nspawn, debootstrap, nsenter)"
( apt_install systemd-container debootstrap ) || skip "systemd-container or debootstrap cannot be installed"
if ! command -v systemd-nspawn >/dev/null || ! command -v debootstrap >/dev/null; then
    skip "systemd-nspawn or debootstrap is missing"
fi
apt_install postgresql libcurl4-openssl-dev  # the host's database; libcurl for FoundationNetworking's static link

STARTED=$(date +%s)
WORK=$(mktemp -d /tmp/aq-e2e.XXXXXX)
chmod 755 "$WORK"
MACHINE=aq-e2e-$$
NSPAWN_PID=
CONTAINER_PID=

# ---- helpers ---------------------------------------------------------------------------------------------------
step() { log "e2e: $*"; }
in_container() { nsenter -t "$CONTAINER_PID" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"; }
sql() { psql -X -q -v ON_ERROR_STOP=1 -At "$DATABASE_URL" -c "$1"; }
show() { in_container systemctl show -P "$2" "$1"; }
# journal_has PATTERN JOURNALCTL-ARGS...: whether the container's journal has a line matching PATTERN (grep -E).
# Through a file: `journalctl | grep -q` would fail under pipefail whenever grep stops reading early.
journal_has() {
    local pattern=$1
    shift
    in_container journalctl --no-pager "$@" > "$WORK/journal.txt" 2>&1 || true
    grep -qE -- "$pattern" "$WORK/journal.txt"
}

diagnostics() {
    [ -n "$CONTAINER_PID" ] || return 0
    echo "---- container: units" >&2
    in_container systemctl list-units --no-legend 'queue-worker@*' >&2 2>&1 || true
    local unit
    for unit in queue-worker@1 queue-worker@2 queue-worker@3; do
        echo "---- container: $unit" >&2
        in_container systemctl show -p ActiveState,SubState,Result,NRestarts,ExecMainStatus,StatusText "$unit" >&2 || true
        in_container journalctl --no-pager -n 40 -u "$unit" >&2 || true
    done
    echo "---- database: tasks by state; the latest task events" >&2
    sql "SELECT state, count(*) FROM tasks GROUP BY state" >&2 || true
    sql "SELECT to_char(at, 'HH24:MI:SS.MS'), task_id, from_state, to_state, attempt, worker, reason
         FROM task_events ORDER BY at DESC LIMIT 30" >&2 || true
    local saved=/tmp/aq-e2e-failure-$MACHINE.journal
    in_container journalctl --no-pager -o short-precise > "$saved" 2>&1 || true
    echo "---- the container's whole journal: $saved" >&2
}

fail() {
    echo "e2e: FAIL: $*" >&2
    diagnostics
    exit 1
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s until it succeeds; fails after SECONDS.
wait_until() {
    local limit=$1 what=$2 deadline
    shift 2
    deadline=$(($(date +%s) + limit))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "timed out after ${limit}s waiting until $what"
        sleep 0.2
    done
}

cleanup() {
    local status=$?
    if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
        # SIGTERM asks systemd-nspawn for an orderly shutdown of the container. If that takes too long, SIGKILL
        # to the container's PID 1 ends everything in its PID namespace, and systemd-nspawn with it.
        kill -TERM "$NSPAWN_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$NSPAWN_PID" 2>/dev/null; then
            log "e2e: the container did not shut down within 20 s; killing it"
            [ -z "$CONTAINER_PID" ] || kill -KILL "$CONTAINER_PID" 2>/dev/null || true
            sleep 1
            kill -KILL "$NSPAWN_PID" 2>/dev/null || true
        fi
        wait "$NSPAWN_PID" 2>/dev/null || true
    fi
    rm -rf "/run/systemd/nspawn/propagate/$MACHINE" "$WORK"
    aq_cleanup
    exit "$status"
}

trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. the binaries -------------------------------------------------------------------------------------------
mkdir -p "$WORK/bin" "$WORK/systemd" "$WORK/etc"
if [ -n "${E2E_BIN_DIR:-}" ]; then
    BIN_DIR=$E2E_BIN_DIR
else
    # A scratch path of its own: mixing --static-swift-stdlib into the tests' .build breaks their later links.
    step "building queue-worker and queuectl with --static-swift-stdlib (debug, .build-e2e-static)"
    for product in queue-worker queuectl; do
        swift build --scratch-path "$AQ_ROOT/.build-e2e-static" --static-swift-stdlib --product "$product" \
            > "$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; die "static build of $product failed"; }
    done
    BIN_DIR=$(swift build --scratch-path "$AQ_ROOT/.build-e2e-static" --static-swift-stdlib --show-bin-path)
fi
cp "$BIN_DIR/queue-worker" "$BIN_DIR/queuectl" "$WORK/bin/"
cp systemd/queue-worker@.service systemd/queue-workers.target systemd/queue-worker.env.example \
    systemd/queue-worker.conf.example "$WORK/systemd/"
if ldd "$WORK/bin/queue-worker" | grep 'libswiftCore' >/dev/null; then die "queue-worker is not linked with --static-swift-stdlib"; fi

# ---- 2. the root file system (cached) --------------------------------------------------------------------------
PACKAGES=systemd,systemd-sysv,dbus,procps,libpq5,libcurl4,git
CACHE=${AQ_E2E_CACHE:-/var/tmp/agentqueue-e2e}
ROOTFS=$CACHE/rootfs-bookworm-$(echo "$PACKAGES" | md5sum | cut -c1-8)
mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock 9  # one debootstrap at a time; a second run waits and then finds the cache
if [ ! -f "$ROOTFS/.agentqueue-complete" ]; then
    step "creating a minimal bookworm root file system with systemd in $ROOTFS (once; cached)"
    rm -rf "$ROOTFS" "$ROOTFS.partial"
    for attempt in 1 2; do
        if debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOTFS.partial" \
            "${AQ_DEBIAN_MIRROR:-http://deb.debian.org/debian}" > "$WORK/debootstrap.log" 2>&1; then
            break
        fi
        rm -rf "$ROOTFS.partial"
        [ "$attempt" = 2 ] && { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
        log "debootstrap failed; retrying once"
    done
    rm -rf "$ROOTFS.partial/var/cache/apt/archives/"*.deb
    touch "$ROOTFS.partial/.agentqueue-complete"
    mv "$ROOTFS.partial" "$ROOTFS"
fi
flock -u 9
# Every library the binaries need must be in the container.
for binary in queue-worker queuectl; do
    for library in $(ldd "$WORK/bin/$binary" | awk '$1 ~ /^lib/ {print $1}'); do
        [ -n "$(find "$ROOTFS/usr/lib" "$ROOTFS/lib" -name "$library" -print -quit 2>/dev/null)" ] ||
            die "$binary needs $library, which the container lacks (add its package to PACKAGES)"
    done
done

# ---- 3. the database -------------------------------------------------------------------------------------------
step "starting a throwaway PostgreSQL on the host"
pg_throwaway fast
trap cleanup EXIT  # pg_throwaway set its own; cleanup calls it too
SECRET="e2e-secret-$RANDOM$RANDOM"
WORKER_URL="postgresql://postgres:$SECRET@127.0.0.1:$PG_PORT/postgres"  # trust authentication ignores it

# ---- 4. the container ------------------------------------------------------------------------------------------
step "booting systemd in a container ($MACHINE)"
setsid systemd-nspawn --quiet -D "$ROOTFS" --boot --register=no --keep-unit --console=pipe --machine="$MACHINE" \
    --volatile=overlay --bind-ro="$WORK:/mnt/agentqueue" < /dev/null > "$WORK/nspawn.log" 2>&1 &
NSPAWN_PID=$!
for _ in $(seq 300); do
    CONTAINER_PID=$(ps -o pid=,comm= --ppid "$NSPAWN_PID" | awk '$2 == "systemd" {print $1}') || true
    [ -n "$CONTAINER_PID" ] && break
    kill -0 "$NSPAWN_PID" 2>/dev/null || { cat "$WORK/nspawn.log" >&2; fail "systemd-nspawn exited"; }
    sleep 0.1
done
[ -n "$CONTAINER_PID" ] || { cat "$WORK/nspawn.log" >&2; fail "no systemd in the container"; }
system_up() { case $(in_container systemctl is-system-running 2>/dev/null) in running|degraded) return 0;; esac; return 1; }
wait_until 60 "the container's systemd is up" system_up
# systemd logs every notification it receives at debug level: that is how RELOADING=1/READY=1 are seen below.
in_container systemctl log-level debug

# ---- 5. install, as docs/operating.md says ----------------------------------------------------------------------
step "installing the binaries, units, worker.env (secrets) and worker.conf (tunables)"
cp systemd/queue-worker.env.example "$WORK/etc/worker.env"
sed -i "s|^DATABASE_URL=.*|DATABASE_URL=$WORKER_URL|" "$WORK/etc/worker.env"
# The example's tunables with test timings: short leases so a stopped worker's tasks are rescued in seconds.
{
    cat systemd/queue-worker.conf.example
    printf '%s\n' '# e2e timings' WORKER_CONCURRENCY=4 WORKER_LEASE_SECONDS=4 WORKER_HEARTBEAT_SECONDS=1 \
        WORKER_POLL_INTERVAL_MS=200 WORKER_RESCUE_INTERVAL_SECONDS=0.5 WORKER_RETRY_BASE_SECONDS=1 \
        WORKER_SHUTDOWN_GRACE_SECONDS=15
} > "$WORK/etc/worker.conf"
# Instance 2 gets a short watchdog for the kill -STOP check, and a restart delay long enough that its tasks are
# rescued by the others first. The other instances keep the unit's WatchdogSec=30s.
mkdir -p "$WORK/etc/dropin"
printf '[Service]\nWatchdogSec=3s\nRestartSec=20s\n' > "$WORK/etc/dropin/e2e.conf"
# shellcheck disable=SC2016 # the container's shell expands $M
in_container sh -euc '
    M=/mnt/agentqueue
    install -m 0755 $M/bin/queue-worker $M/bin/queuectl /usr/local/bin/
    install -m 0644 $M/systemd/queue-worker@.service $M/systemd/queue-workers.target /etc/systemd/system/
    install -d -m 0755 /etc/agentqueue /etc/systemd/system/queue-worker@2.service.d
    install -m 0600 $M/etc/worker.env /etc/agentqueue/worker.env
    install -m 0644 $M/etc/worker.conf /etc/agentqueue/worker.conf
    install -m 0644 $M/etc/dropin/e2e.conf /etc/systemd/system/queue-worker@2.service.d/e2e.conf
    systemctl daemon-reload'
in_container /usr/local/bin/queuectl migrate --database-url "$WORKER_URL" > "$WORK/migrate.log" 2>&1 ||
    { cat "$WORK/migrate.log" >&2; fail "queuectl migrate failed in the container"; }

# ---- check 1: start --------------------------------------------------------------------------------------------
step "starting queue-workers.target with queue-worker@{1..3}"
in_container systemctl enable --quiet queue-worker@1.service queue-worker@2.service queue-worker@3.service
in_container systemctl start queue-workers.target
instance_ready() {
    [ "$(show "queue-worker@$1" ActiveState)/$(show "queue-worker@$1" SubState)" = active/running ] &&
        show "queue-worker@$1" StatusText | grep 'busy' >/dev/null
}
for i in 1 2 3; do wait_until 90 "queue-worker@$i is active with a StatusText" instance_ready "$i"; done
for i in 1 2 3; do log "  queue-worker@$i: $(show "queue-worker@$i" StatusText)"; done
[ "$(in_container stat -c %a /etc/agentqueue/worker.env)" = 600 ] || fail "worker.env is not 0600"

# ---- check 2: 200 reviews, each exactly once -------------------------------------------------------------------
step "enqueueing 200 reviews of a sample diff"
# A small pull request with an SQL injection, an N+1 query and a TODO: every review has findings.
SAMPLE_DIFF='diff --git a/app/api/users.py b/app/api/users.py
index 3b18e51..9a1c2f4 100644
--- a/app/api/users.py
+++ b/app/api/users.py
@@ -1,7 +1,14 @@
 import logging
 
 logger = logging.getLogger(__name__)
 
 
+@app.get("/users")
+def list_users(team):
+    rows = cursor.execute(f"SELECT * FROM users WHERE team = {team}")
+    for row in rows:
+        row.orders = Order.objects.filter(user=row.id)
+    # TODO: add caching
+    return rows
 def ping():
     return "pong"
'
# The diff travels as a psql variable (:'diff' quotes it), never spliced into the SQL text.
psql -X -q -v ON_ERROR_STOP=1 -At "$DATABASE_URL" -v diff="$SAMPLE_DIFF" > /dev/null <<'SQL'
SELECT count(*) FROM enqueue_tasks((SELECT jsonb_agg(jsonb_build_object('kind', 'review', 'queue', 'default',
    'payload', jsonb_build_object('source', jsonb_build_object('diff', :'diff'), 'repo', 'acme/api',
                                  'pr_number', n, 'title', 'List users', 'batch', 'main')))
    FROM generate_series(1, 200) n));
SQL
main_done() { [ "$(sql "SELECT count(*) FROM tasks WHERE payload->>'batch' = 'main' AND state = 'succeeded'")" = 200 ]; }
wait_until 180 "the 200 reviews succeeded" main_done
# Recorded exactly once: one review_history row per task, with its four agents' runs.
[ "$(sql "SELECT count(*) || ' ' || count(DISTINCT h.task_id) FROM review_history h JOIN tasks t ON t.id = h.task_id
          WHERE t.payload->>'batch' = 'main'")" = "200 200" ] || fail "not exactly one review_history row per review"
[ "$(sql "SELECT count(*) FROM agent_performance p JOIN tasks t ON t.id = p.task_id
          WHERE t.payload->>'batch' = 'main'")" = 800 ] || fail "not four agent runs per review"
[ "$(sql "SELECT count(DISTINCT f.task_id) FROM findings f JOIN tasks t ON t.id = f.task_id
          WHERE t.payload->>'batch' = 'main'")" = 200 ] || fail "a review of the sample diff found nothing"
[ "$(sql "SELECT count(*) FROM task_events e JOIN tasks t ON t.id = e.task_id
          WHERE t.payload->>'batch' = 'main' AND e.to_state = 'running'")" = 200 ] || fail "a task was claimed twice"
[ "$(sql "SELECT count(*) FROM task_events e JOIN tasks t ON t.id = e.task_id
          WHERE t.payload->>'batch' = 'main' AND e.to_state = 'succeeded'")" = 200 ] || fail "a task succeeded twice"
[ "$(sql "SELECT max(attempt) FROM tasks WHERE payload->>'batch' = 'main'")" = 1 ] || fail "a review needed a second attempt"
instances=$(sql "SELECT string_agg(i || ':' || n, ' ' ORDER BY i) FROM (SELECT split_part(lease_owner, '/', 2) AS i,
                 count(*) AS n FROM tasks WHERE payload->>'batch' = 'main' GROUP BY 1) AS per_instance")
log "  tasks per instance: $instances"
[ "$(echo "$instances" | wc -w)" = 3 ] || fail "not all three instances took part: $instances"
log "  verdicts: $(sql "SELECT string_agg(v || ':' || n, ' ') FROM (SELECT verdict_status AS v, count(*) AS n FROM review_history
    h JOIN tasks t ON t.id = h.task_id WHERE t.payload->>'batch' = 'main' GROUP BY 1) AS verdicts")"

# ---- check 3: watchdog ----------------------------------------------------------------------------------------
step "kill -STOP queue-worker@2: the watchdog must restart it, and its tasks must finish elsewhere"
sql "SELECT count(*) FROM enqueue_tasks((SELECT jsonb_agg(jsonb_build_object('kind', 'noop',
        'payload', jsonb_build_object('sleep_ms', 3000, 'batch', 'watchdog', 'n', n))) FROM generate_series(1, 12) n))" \
    > /dev/null
held_by_2() { [ "$(sql "SELECT count(*) FROM tasks WHERE state = 'running' AND split_part(lease_owner, '/', 2) = '2'")" -gt 0 ]; }
wait_until 30 "queue-worker@2 runs tasks" held_by_2
VICTIM=$(show queue-worker@2 MainPID)
in_container kill -STOP "$VICTIM"
HELD=$(sql "SELECT string_agg(id::text, ',') FROM tasks WHERE state = 'running' AND split_part(lease_owner, '/', 2) = '2'")
log "  stopped PID $VICTIM at $(date +%T.%N | cut -c1-12) holding tasks $HELD, leases until" \
    "$(sql "SELECT string_agg(DISTINCT to_char(lease_expires_at, 'HH24:MI:SS.MS'), ' ') FROM tasks WHERE id IN ($HELD)")"
# Lease 4 s: the others rescue the tasks about 4 s after the stop, long before systemd restarts instance 2
# (watchdog 3 s + RestartSec=20s), which would otherwise rescue them itself at start.
held_done() { [ "$(sql "SELECT count(*) FROM tasks WHERE id IN ($HELD) AND state = 'succeeded'")" = "$(echo "$HELD" | tr ',' '\n' | wc -l)" ]; }
wait_until 60 "the stopped worker's tasks succeeded" held_done
finishers=$(sql "SELECT string_agg(DISTINCT split_part(lease_owner, '/', 2), ',') FROM tasks WHERE id IN ($HELD)")
case ",$finishers," in *,2,*) fail "the stopped worker's tasks finished on instance 2: $finishers";; esac
# The worker, not the tasks, failed: each rescue gave the attempt back (the task's `rescues` counts it).
[ "$(sql "SELECT min(rescues) FROM tasks WHERE id IN ($HELD)")" -ge 1 ] || fail "the rescued tasks should count a rescue"
[ "$(sql "SELECT max(attempt) FROM tasks WHERE id IN ($HELD)")" = 1 ] ||
    fail "a rescue must not spend the rescued tasks' attempt"
restarted() { [ "$(show queue-worker@2 NRestarts)" = 1 ]; }
wait_until 60 "systemd restarted queue-worker@2 (NRestarts=1)" restarted
journal_has 'Watchdog timeout' -u queue-worker@2 || fail "systemd logged no watchdog timeout"
log "  watchdog restart seen; tasks $HELD finished on instance(s) $finishers; rescued at" \
    "$(sql "SELECT string_agg(DISTINCT to_char(at, 'HH24:MI:SS.MS'), ' ') FROM task_events
            WHERE task_id IN ($HELD) AND reason = 'rescued'")"
wait_until 90 "queue-worker@2 is active again" instance_ready 2

# ---- check 4: reload -------------------------------------------------------------------------------------------
step "reload: worker.conf gets a new queue, concurrency 2 and LOG_LEVEL=debug; systemctl reload 'queue-worker@*'"
watchdog_done() { [ "$(sql "SELECT count(*) FROM tasks WHERE payload->>'batch' = 'watchdog' AND state <> 'succeeded'")" = 0 ]; }
wait_until 60 "the watchdog batch finished" watchdog_done
sql "SELECT count(*) FROM enqueue_tasks((SELECT jsonb_agg(jsonb_build_object('kind', 'noop', 'queue', 'e2e-extra',
        'payload', jsonb_build_object('batch', 'extra', 'n', n))) FROM generate_series(1, 3) n))" > /dev/null
sleep 1
[ "$(sql "SELECT count(*) FROM tasks WHERE payload->>'batch' = 'extra' AND state = 'pending'")" = 3 ] ||
    fail "tasks of a queue no worker serves yet were claimed"
in_container sh -euc 'printf "%s\n" "# reloaded" WORKER_QUEUES=default,e2e-extra WORKER_CONCURRENCY=2 LOG_LEVEL=debug \
    >> /etc/agentqueue/worker.conf'
in_container systemctl reload 'queue-worker@*' || fail "systemctl reload failed"
for i in 1 2 3; do
    pid=$(show "queue-worker@$i" MainPID)
    # systemd (at debug level) logs "Got notification message from PID N (RELOADING=1, MONOTONIC_USEC=…)".
    notified() {
        journal_has "from PID $2 \\(RELOADING=1, MONOTONIC_USEC=[0-9]+" -o cat _PID=1 UNIT="queue-worker@$1.service" &&
            sed -n '/RELOADING=1/,$p' "$WORK/journal.txt" | grep "from PID $2 (READY=1" >/dev/null
    }
    wait_until 30 "systemd got RELOADING=1 then READY=1 from queue-worker@$i" notified "$i" "$pid"
    concurrency_2() { show "queue-worker@$1" StatusText | grep '/2 busy' >/dev/null; }
    wait_until 30 "queue-worker@$i runs with concurrency 2" concurrency_2 "$i"
    [ "$(show "queue-worker@$i" SubState)" = running ] || fail "queue-worker@$i did not return to running"
done
extra_done() { [ "$(sql "SELECT count(*) FROM tasks WHERE payload->>'batch' = 'extra' AND state = 'succeeded'")" = 3 ]; }
wait_until 30 "the tasks of the added queue succeeded" extra_done
debug_lines() { journal_has 'task started' -u 'queue-worker@*' -p debug..debug SYSLOG_IDENTIFIER=queue-worker; }
wait_until 30 "debug lines appear in the journal" debug_lines
journal_has 'configuration reloaded' -u 'queue-worker@*' -o cat || fail "no 'configuration reloaded' in the journal"

# ---- check 5: the journal by task ------------------------------------------------------------------------------
step "journalctl -u queue-worker@2 TASK_ID=…"
TASK=$(sql "SELECT min(id) FROM tasks WHERE payload->>'batch' = 'main' AND split_part(lease_owner, '/', 2) = '2'")
in_container journalctl --no-pager -o json -u queue-worker@2 TASK_ID="$TASK" > "$WORK/task.json"
python3 - "$WORK/task.json" "$TASK" <<'PY' || fail "journalctl TASK_ID=$TASK did not find the task's lines"
import json, sys
entries = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
assert entries, "no entries"
assert all(e.get("TASK_ID") == sys.argv[2] for e in entries), "an entry of another task"
assert any(e.get("MESSAGE") == "task succeeded" for e in entries), [e.get("MESSAGE") for e in entries]
assert all(e.get("SYSLOG_IDENTIFIER") == "queue-worker" and e.get("CODE_FILE") for e in entries), "fields missing"
print(f"  {len(entries)} entries for TASK_ID={sys.argv[2]}: " + ", ".join(sorted({e['MESSAGE'] for e in entries})))
PY
if journal_has "$SECRET" -o json; then fail "the database password reached the journal"; fi

# ---- check 6: drain on stop ------------------------------------------------------------------------------------
step "systemctl stop 'queue-worker@*' while tasks run: drain, then Result=success"
sql "SELECT count(*) FROM enqueue_tasks((SELECT jsonb_agg(jsonb_build_object('kind', 'noop',
        'payload', jsonb_build_object('sleep_ms', 2000, 'batch', 'drain', 'n', n))) FROM generate_series(1, 9) n))" \
    > /dev/null
drain_running() { [ "$(sql "SELECT count(*) FROM tasks WHERE payload->>'batch' = 'drain' AND state = 'running'")" -ge 3 ]; }
wait_until 30 "drain tasks are running" drain_running
in_container systemctl stop 'queue-worker@*' || fail "systemctl stop failed"
for i in 1 2 3; do
    state="$(show "queue-worker@$i" ActiveState) $(show "queue-worker@$i" Result) $(show "queue-worker@$i" ExecMainStatus)"
    [ "$state" = "inactive success 0" ] || fail "queue-worker@$i after stop: $state (want: inactive success 0)"
    journal_has 'STOPPING=1' -o cat _PID=1 UNIT="queue-worker@$i.service" || fail "queue-worker@$i sent no STOPPING=1"
done
[ "$(sql "SELECT count(*) FROM tasks WHERE state IN ('running', 'dead')")" = 0 ] || fail "tasks left running or dead"
[ "$(sql "SELECT count(*) FROM tasks WHERE state = 'pending' AND attempt > 0")" = 0 ] ||
    fail "a handed-back task spent an attempt"
twice=$(sql "SELECT count(*) FROM (SELECT task_id FROM task_events WHERE to_state = 'succeeded'
             GROUP BY task_id HAVING count(*) > 1) AS repeated")
[ "$twice" = 0 ] || fail "$twice tasks succeeded more than once"
log "  drained: $(sql "SELECT string_agg(state || ':' || n, ' ') FROM (SELECT state, count(*) AS n FROM tasks
    WHERE payload->>'batch' = 'drain' GROUP BY state) AS s")"

if [ -n "${E2E_KEEP_JOURNAL:-}" ]; then in_container journalctl --no-pager -o short-precise > "$E2E_KEEP_JOURNAL" 2>&1; fi
step "passed in $(($(date +%s) - STARTED)) s"
