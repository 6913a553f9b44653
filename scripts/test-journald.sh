#!/usr/bin/env bash
# Journal read-back test: runs `journal-probe log` against a real, throwaway systemd-journald and checks
# with journalctl that the entries were stored with the right fields (TASK_ID, PRIORITY, CODE_FILE, …).
#
# Usage (from anywhere, as root):  scripts/test-journald.sh [BIN_DIR]
#   BIN_DIR (or $BIN_DIR, or $AGENTQUEUE_BIN_DIR as scripts/test.sh exports it): the directory holding a
#   built journal-probe (`swift build --show-bin-path`); when it is not given or holds
#   none, the probe is built with `swift build $SWIFT_BUILD_FLAGS --product journal-probe`.
#
# The journald runs in a private mount namespace (unshare -m) with tmpfs over its socket and journal
# directories and its own journald.conf, so it neither sees nor touches the host's journal. Three runs:
#   direct  --format journal                                    structured fields through sd_journal_sendv
#   auto    --format auto, stderr on a journal stream whose
#           JOURNAL_STREAM matches                              auto must pick the journal
#   plain   --format auto, stderr on a journal stream, no
#           JOURNAL_STREAM                                      auto must pick logfmt (plain MESSAGE lines)
# Exits non-zero on any failure; cleans up on every exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR=${1:-${BIN_DIR:-${AGENTQUEUE_BIN_DIR:-}}}
if [ -n "$BIN_DIR" ] && [ -d "$BIN_DIR" ]; then BIN_DIR=$(cd "$BIN_DIR" && pwd); fi
cd "$ROOT"

fail() { echo "test-journald: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "must run as root (unshare -m, mounts, journald)"
JOURNALD=/lib/systemd/systemd-journald
for tool in unshare journalctl systemd-cat python3; do
    command -v "$tool" >/dev/null || fail "missing $tool (apt-get install systemd util-linux python3)"
done
[ -x "$JOURNALD" ] || fail "missing $JOURNALD (apt-get install systemd)"

# shellcheck disable=SC2086 # SWIFT_BUILD_FLAGS is a list of flags
if [ -z "$BIN_DIR" ] || [ ! -x "$BIN_DIR/journal-probe" ]; then
    echo "test-journald: building journal-probe" >&2
    swift build ${SWIFT_BUILD_FLAGS:-} --product journal-probe >&2
    BIN_DIR=$(swift build ${SWIFT_BUILD_FLAGS:-} --show-bin-path)
fi
PROBE=$BIN_DIR/journal-probe
[ -x "$PROBE" ] || fail "no journal-probe in $BIN_DIR"

WORK=$(mktemp -d /tmp/test-journald.XXXXXX)
# Mount points the host lacks are made here and removed again afterwards: an empty /var/log/journal left
# behind would switch a real journald on this host to persistent storage.
MOUNT_POINTS="/run/systemd/journal /run/log/journal /var/log/journal"
CREATED=()
cleanup() {
    local dir
    for dir in "${CREATED[@]}"; do rmdir "$dir" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
for dir in /run/systemd /run/systemd/journal /run/log /run/log/journal /var/log /var/log/journal; do
    if [ ! -d "$dir" ]; then
        mkdir "$dir"
        CREATED=("$dir" "${CREATED[@]}")  # children first when removing
    fi
done

# Everything below runs in a private mount namespace: its mounts, and the journald started in it, go
# away with it. The journald is killed by the inner trap, also when a step fails.
# shellcheck disable=SC2016 # the inner script expands its own variables
unshare -m --propagation private env PROBE="$PROBE" WORK="$WORK" JOURNALD="$JOURNALD" MOUNT_POINTS="$MOUNT_POINTS" bash -euo pipefail -c '
    for dir in $MOUNT_POINTS /etc/systemd; do
        mount -t tmpfs tmpfs "$dir"
    done
    printf "[Journal]\nStorage=volatile\nReadKMsg=no\nForwardToSyslog=no\nForwardToWall=no\nForwardToConsole=no\nRateLimitBurst=0\n" \
        > /etc/systemd/journald.conf

    "$JOURNALD" > "$WORK/journald.log" 2>&1 &
    J=$!
    trap "kill $J 2>/dev/null; wait $J 2>/dev/null || true" EXIT
    for _ in $(seq 200); do
        [ -S /run/systemd/journal/socket ] && [ -S /run/systemd/journal/stdout ] && break
        kill -0 $J 2>/dev/null || { cat "$WORK/journald.log" >&2; echo "journald exited" >&2; exit 1; }
        sleep 0.025
    done
    [ -S /run/systemd/journal/socket ] || { echo "journald socket did not appear" >&2; exit 1; }

    "$PROBE" log --format journal --run direct
    systemd-cat -t probe-auto bash -c "JOURNAL_STREAM=\$(stat -L -c %d:%i /proc/self/fd/2) exec \"$PROBE\" log --format auto --run auto"
    systemd-cat -t probe-plain env -u JOURNAL_STREAM "$PROBE" log --format auto --run plain

    # Entries arrive asynchronously: ask journald to write out what it has, then wait for all 12.
    journalctl --sync 2>/dev/null || true
    for _ in $(seq 100); do
        n=$(journalctl --no-pager -q -o json SYSLOG_IDENTIFIER=journal-probe SYSLOG_IDENTIFIER=probe-plain | wc -l)
        [ "$n" -ge 12 ] && break
        sleep 0.05
    done
    journalctl --no-pager --all -o json > "$WORK/all.json"
    journalctl --no-pager --all -o json TASK_ID=42 > "$WORK/task42.json"
'

python3 - "$WORK/all.json" "$WORK/task42.json" <<'PY'
import json, re, sys

def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]

entries, task42 = load(sys.argv[1]), load(sys.argv[2])
failures = []

def check(condition, what):
    if not condition:
        failures.append(what)

def one(run, message):
    found = [e for e in entries if e.get("PROBE_RUN") == run and e.get("MESSAGE") == message]
    check(len(found) == 1, f"{run}: expected one entry {message!r}, found {len(found)}")
    return found[0] if found else {}

for run in ("direct", "auto"):
    claimed = one(run, "task claimed")
    expected = {
        "PRIORITY": "6", "TASK_ID": "42", "AGENT": "security", "PG_SQLSTATE": "40001", "ATTEMPT": "1",
        "LOGGER": "probe", "SYSLOG_IDENTIFIER": "journal-probe",
    }
    for field, value in expected.items():
        check(claimed.get(field) == value, f"{run}: {field}={claimed.get(field)!r}, expected {value!r}")
    check(str(claimed.get("CODE_FILE", "")).endswith("journal_probe/main.swift"),
          f"{run}: CODE_FILE={claimed.get('CODE_FILE')!r}")
    check(re.fullmatch(r"[0-9]+", str(claimed.get("CODE_LINE", ""))) is not None,
          f"{run}: CODE_LINE={claimed.get('CODE_LINE')!r}")
    check("logFixedEntries" in str(claimed.get("CODE_FUNC", "")), f"{run}: CODE_FUNC={claimed.get('CODE_FUNC')!r}")

    two = one(run, "two\nlines")
    check(two.get("PRIORITY") == "4", f"{run}: warning PRIORITY={two.get('PRIORITY')!r}")
    check(two.get("PG_SQLSTATE") == "57P01", f"{run}: nested PG_SQLSTATE={two.get('PG_SQLSTATE')!r}")

    odd = one(run, "odd keys")
    for field, value in {"PRIORITY": "3", "TASK_ID": "43", "META_MESSAGE": "not the message", "META_HIDDEN": "x",
                         "META_2FA": "y", "META_BER_KEY": "z", "FILES": ["a.swift", "b.swift"]}.items():
        check(odd.get(field) == value, f"{run}: {field}={odd.get(field)!r}, expected {value!r}")
    bad = [k for k in odd if not re.fullmatch(r"_{0,2}[A-Z0-9][A-Z0-9_]*", k)]
    check(not bad, f"{run}: odd field names stored: {bad}")

    shown = one(run, "shown after reload")
    check(shown.get("PRIORITY") == "7" and shown.get("TASK_ID") == "44", f"{run}: debug after level change: {shown}")
    check(not [e for e in entries if e.get("PROBE_RUN") == run and e.get("MESSAGE") == "hidden before reload"],
          f"{run}: debug entry logged before the level change")

# Without a matching JOURNAL_STREAM, auto falls back to logfmt lines on stderr: plain journal stream entries.
plain = [e for e in entries if e.get("SYSLOG_IDENTIFIER") == "probe-plain"]
check(len(plain) == 4, f"plain: expected 4 stream lines, found {len(plain)}")
check(all("TASK_ID" not in e and str(e.get("MESSAGE", "")).startswith("ts=") for e in plain),
      "plain: expected logfmt lines without structured fields")
check(any('msg="task claimed"' in str(e.get("MESSAGE")) and "task.id=42" in str(e.get("MESSAGE")) for e in plain),
      "plain: no logfmt line for the claimed task")

check(not [e for e in entries if e.get("SYSLOG_IDENTIFIER") == "probe-auto"],
      "auto: lines went to the stream although JOURNAL_STREAM matched stderr")

# journalctl's field match finds the task's entries (direct + auto).
check(len(task42) == 4 and all(e.get("TASK_ID") == "42" for e in task42),
      f"journalctl TASK_ID=42: expected 4 entries, found {len(task42)}")

if failures:
    print("test-journald: FAILED", file=sys.stderr)
    for failure in failures:
        print("  - " + failure, file=sys.stderr)
    sys.exit(1)
print(f"test-journald: {len(entries)} entries read back from journald; TASK_ID, PRIORITY, CODE_FILE/LINE/FUNC, "
      "nested and renamed fields, level reload and JOURNAL_STREAM detection verified")
PY
