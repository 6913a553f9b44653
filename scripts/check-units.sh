#!/usr/bin/env bash
# Checks the systemd units in systemd/ (queue-worker@.service and its target, queue-webhook.service and its socket,
# the worker's GitHub App drop-in):
#   1. `systemd-analyze verify` prints nothing (it exits 0 on unknown keys and bad values, so any output fails);
#   2. `systemd-analyze security --offline=true` scores the worker instance at 2.0 or lower;
#   3. the settings other parts rely on are there, and TimeoutStopSec outlasts the shutdown grace period;
#   4. the example files split as the unit expects: secrets in queue-worker.env.example (EnvironmentFile, root
#      0600), tunables and no secret in queue-worker.conf.example (--config, world-readable, re-read on reload),
#      all lines KEY=value; with a real binary, every setting `queue-worker --check-config` prints is in one of them.
#
# Usage: scripts/check-units.sh [QUEUE_WORKER_BINARY]
#   verify needs ExecStart's program to exist. The committed unit keeps /usr/local/bin/queue-worker; the check
#   runs on a temporary copy whose ExecStart points at QUEUE_WORKER_BINARY (or $QUEUE_WORKER_BINARY, or
#   $AGENTQUEUE_BIN_DIR/queue-worker when that exists) when given, else at a stand-in executable. Nothing else in the copy differs, and that is checked too.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BINARY=${1:-${QUEUE_WORKER_BINARY:-}}
if [ -z "$BINARY" ] && [ -x "${AGENTQUEUE_BIN_DIR:-/nonexistent}/queue-worker" ]; then
    BINARY=$AGENTQUEUE_BIN_DIR/queue-worker
fi
if [ -n "$BINARY" ]; then
    [ -x "$BINARY" ] || { echo "check-units: $BINARY is not an executable" >&2; exit 1; }
    BINARY=$(cd "$(dirname "$BINARY")" && pwd)/$(basename "$BINARY")
fi
command -v systemd-analyze >/dev/null || { echo "check-units: missing systemd-analyze (apt-get install systemd)" >&2; exit 1; }

UNITS=$ROOT/systemd
WORK=$(mktemp -d /tmp/check-units.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
failed=0
fail() { echo "check-units: FAIL: $*" >&2; failed=1; }

COMMITTED_EXEC='ExecStart=/usr/local/bin/queue-worker --instance %i --config=-/etc/agentqueue/worker.conf'
grep -qxF "$COMMITTED_EXEC" "$UNITS/queue-worker@.service" || fail "queue-worker@.service must say: $COMMITTED_EXEC"

SETTINGS=$WORK/settings.txt
: > "$SETTINGS"
if [ -n "$BINARY" ]; then
    # The effective settings (names and defaults) of the real binary, for the completeness check of the examples.
    env -i DATABASE_URL=postgresql://check@127.0.0.1/check "$BINARY" --check-config > "$SETTINGS" \
        || fail "$BINARY --check-config failed"
fi
if [ -z "$BINARY" ]; then
    BINARY=$WORK/bin/queue-worker
    mkdir -p "$WORK/bin"
    cp /bin/true "$BINARY"
fi
# An instance of the template, plus the target, side by side as systemd would find them.
sed "s|^ExecStart=/usr/local/bin/queue-worker |ExecStart=$BINARY |" "$UNITS/queue-worker@.service" \
    > "$WORK/queue-worker@1.service"
cp "$UNITS/queue-worker@.service" "$UNITS/queue-workers.target" "$WORK/"
changed=$(diff "$UNITS/queue-worker@.service" "$WORK/queue-worker@1.service" | grep -c '^[<>]' || true)
[ "$changed" -eq 2 ] || fail "the verified copy differs from the committed unit in more than ExecStart"

echo "check-units: systemd-analyze verify"
out=$(cd "$WORK" && systemd-analyze verify "$WORK/queue-worker@1.service" "$WORK/queue-workers.target" 2>&1) \
    || fail "systemd-analyze verify exited non-zero"
if [ -n "$out" ]; then
    echo "$out" >&2
    fail "systemd-analyze verify printed the above"
fi

echo "check-units: systemd-analyze security --offline=true --threshold=20"
if ! out=$(systemd-analyze security --offline=true --threshold=20 "$WORK/queue-worker@1.service" 2>&1); then
    echo "$out" >&2
    fail "security exposure above 2.0"
fi
echo "$out" | grep 'Overall exposure level' || fail "no overall exposure level in the security report"

echo "check-units: required settings"
# shellcheck disable=SC2016 # $MAINPID is literal unit text
for setting in 'Type=notify' 'NotifyAccess=main' 'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=on-failure' \
    'KillMode=mixed' 'EnvironmentFile=-/etc/agentqueue/worker.env' 'PartOf=queue-workers.target' \
    'WantedBy=queue-workers.target' 'DynamicUser=yes'; do
    grep -qxF "$setting" "$UNITS/queue-worker@.service" || fail "queue-worker@.service lacks $setting"
done
grep -qE '^WatchdogSec=[0-9]+' "$UNITS/queue-worker@.service" || fail "queue-worker@.service lacks WatchdogSec="
grep -qE '^RestartSec=' "$UNITS/queue-worker@.service" || fail "queue-worker@.service lacks RestartSec="

python3 - "$UNITS/queue-worker@.service" "$UNITS/queue-worker.env.example" "$UNITS/queue-worker.conf.example" \
    "$SETTINGS" <<'PY' || failed=1
import re, sys

unit = open(sys.argv[1]).read()
problems = []
seconds = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60}
stop = re.search(r"^TimeoutStopSec=(\d+)(s|sec|min|m)?$", unit, re.M)

def parse(path):
    name, found = path.rsplit("/", 1)[-1], {}
    for number, line in enumerate(open(path).read().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(.*)", line)
        if not match:
            problems.append(f"{name}:{number}: not KEY=value: {line!r}")
            continue
        found[match.group(1)] = match.group(2)
    return found

secrets, values = parse(sys.argv[2]), parse(sys.argv[3])
for required in ("DATABASE_URL", "GITHUB_TOKEN"):
    if required not in secrets:
        problems.append(f"queue-worker.env.example lacks {required}")
    if required in values:
        problems.append(f"queue-worker.conf.example is world-readable: {required} belongs in queue-worker.env.example")
for required in ("WORKER_QUEUES", "WORKER_CONCURRENCY", "WORKER_SHUTDOWN_GRACE_SECONDS", "WORKER_DB_TOLERANCE_SECONDS",
                 "LOG_LEVEL", "LOG_FORMAT"):
    if required not in values:
        problems.append(f"queue-worker.conf.example lacks {required}")
for both in sorted(set(secrets) & set(values)):
    problems.append(f"{both} is in both example files")
# Every setting the worker knows (except the instance, which is --instance %i) is documented in one example.
known = [line.split("=", 1)[0] for line in open(sys.argv[4]).read().splitlines() if line and not line.startswith("#")]
for setting in known:
    if setting != "WORKER_INSTANCE" and setting not in secrets and setting not in values:
        problems.append(f"{setting} (queue-worker --check-config) is in neither example file")
if not stop:
    problems.append("queue-worker@.service: TimeoutStopSec= missing or not in s/min")
elif "WORKER_SHUTDOWN_GRACE_SECONDS" in values:
    timeout = int(stop.group(1)) * seconds[stop.group(2) or ""]
    grace = int(values["WORKER_SHUTDOWN_GRACE_SECONDS"])
    if timeout <= grace + 10:
        problems.append(f"TimeoutStopSec ({timeout}s) must exceed the shutdown grace ({grace}s) by more than 10s")
for problem in problems:
    print("check-units: FAIL: " + problem, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

# queue-webhook: the service and its socket, the same checks.
WEBHOOK_BINARY=
if [ -n "${1:-${QUEUE_WORKER_BINARY:-}}" ] || [ -x "${AGENTQUEUE_BIN_DIR:-/nonexistent}/queue-webhook" ]; then
    candidate=$(dirname "$BINARY")/queue-webhook
    [ -x "$candidate" ] && WEBHOOK_BINARY=$candidate
fi
WEBHOOK_SETTINGS=$WORK/webhook-settings.txt
: > "$WEBHOOK_SETTINGS"
if [ -n "$WEBHOOK_BINARY" ]; then
    env -i DATABASE_URL=postgresql://check@127.0.0.1/check GITHUB_WEBHOOK_SECRET=check-secret-0123456789 \
        "$WEBHOOK_BINARY" --check-config > "$WEBHOOK_SETTINGS" || fail "$WEBHOOK_BINARY --check-config failed"
else
    WEBHOOK_BINARY=$WORK/bin/queue-webhook
    mkdir -p "$WORK/bin"
    cp /bin/true "$WEBHOOK_BINARY"
fi
COMMITTED_WEBHOOK_EXEC='ExecStart=/usr/local/bin/queue-webhook --config=-/etc/agentqueue/webhook.conf'
grep -qxF "$COMMITTED_WEBHOOK_EXEC" "$UNITS/queue-webhook.service" || fail "queue-webhook.service must say: $COMMITTED_WEBHOOK_EXEC"
mkdir -p "$WORK/webhook"
sed "s|^ExecStart=/usr/local/bin/queue-webhook |ExecStart=$WEBHOOK_BINARY |" "$UNITS/queue-webhook.service" \
    > "$WORK/webhook/queue-webhook.service"
cp "$UNITS/queue-webhook.socket" "$WORK/webhook/"
echo "check-units: systemd-analyze verify (queue-webhook)"
out=$(cd "$WORK/webhook" && systemd-analyze verify "$WORK/webhook/queue-webhook.socket" \
    "$WORK/webhook/queue-webhook.service" 2>&1) || fail "systemd-analyze verify exited non-zero for queue-webhook"
if [ -n "$out" ]; then
    echo "$out" >&2
    fail "systemd-analyze verify printed the above for queue-webhook"
fi
echo "check-units: systemd-analyze security --offline=true --threshold=20 (queue-webhook)"
if ! out=$(systemd-analyze security --offline=true --threshold=20 "$WORK/webhook/queue-webhook.service" 2>&1); then
    echo "$out" >&2
    fail "queue-webhook.service: security exposure above 2.0"
fi
echo "$out" | grep 'Overall exposure level' || fail "no overall exposure level in queue-webhook's security report"
for setting in 'Type=notify' 'NotifyAccess=main' 'Restart=on-failure' 'RestartPreventExitStatus=78' \
    'Requires=queue-webhook.socket' 'EnvironmentFile=-/etc/agentqueue/webhook.env' 'DynamicUser=yes' \
    'LoadCredential=webhook-secret:/etc/agentqueue/webhook-secret' \
    'Environment=GITHUB_WEBHOOK_SECRET_FILE=%d/webhook-secret'; do
    grep -qxF "$setting" "$UNITS/queue-webhook.service" || fail "queue-webhook.service lacks $setting"
done
grep -qE '^WatchdogSec=[0-9]+' "$UNITS/queue-webhook.service" || fail "queue-webhook.service lacks WatchdogSec="
grep -qE '^ListenStream=' "$UNITS/queue-webhook.socket" || fail "queue-webhook.socket lacks ListenStream="
# The worker's GitHub App drop-in: the template with it applied still verifies.
mkdir -p "$WORK/queue-worker@1.service.d"
cp "$UNITS/queue-worker-github-app.conf" "$WORK/queue-worker@1.service.d/github-app.conf"
echo "check-units: systemd-analyze verify (queue-worker with the GitHub App drop-in)"
out=$(cd "$WORK" && SYSTEMD_UNIT_PATH="$WORK:" systemd-analyze verify "$WORK/queue-worker@1.service" 2>&1) \
    || fail "systemd-analyze verify exited non-zero with the GitHub App drop-in"
if [ -n "$out" ]; then
    echo "$out" >&2
    fail "systemd-analyze verify printed the above with the GitHub App drop-in"
fi
python3 - "$UNITS/queue-webhook.env.example" "$UNITS/queue-webhook.conf.example" "$WEBHOOK_SETTINGS" <<'PY' || failed=1
import re, sys

problems = []

def parse(path):
    name, found = path.rsplit("/", 1)[-1], {}
    for number, line in enumerate(open(path).read().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(.*)", line)
        if not match:
            problems.append(f"{name}:{number}: not KEY=value: {line!r}")
            continue
        found[match.group(1)] = match.group(2)
    return found

secrets, values = parse(sys.argv[1]), parse(sys.argv[2])
if "DATABASE_URL" not in secrets:
    problems.append("queue-webhook.env.example lacks DATABASE_URL")
for secret in ("DATABASE_URL", "GITHUB_WEBHOOK_SECRET", "GITHUB_WEBHOOK_SECRET_PREVIOUS"):
    if secret in values:
        problems.append(f"queue-webhook.conf.example is world-readable: {secret} does not belong there")
# Every setting queue-webhook prints is documented in an example, or is the secret (a credential of the unit).
known = [line.split("=", 1)[0] for line in open(sys.argv[3]).read().splitlines() if line and not line.startswith("#")]
for setting in known:
    if setting.startswith("GITHUB_WEBHOOK_SECRET"):
        continue
    if setting not in secrets and setting not in values:
        problems.append(f"{setting} (queue-webhook --check-config) is in neither webhook example file")
for problem in problems:
    print("check-units: FAIL: " + problem, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

if [ "$failed" -ne 0 ]; then
    echo "check-units: FAILED" >&2
    exit 1
fi
echo "check-units: OK"
