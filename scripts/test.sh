#!/usr/bin/env bash
# Runs AgentQueue's whole test suite on this machine: installs what is missing (Debian packages, Python modules),
# starts a throwaway PostgreSQL, builds, runs `swift test` and the script-level checks, and always stops the
# database again. Usage: scripts/test.sh [--filter PATTERN]  (PATTERN is passed to `swift test --filter`).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$AQ_ROOT/scripts/lib/postgres.sh"
cd "$AQ_ROOT"

filter=()
if [ "${1:-}" = "--filter" ] && [ -n "${2:-}" ]; then filter=(--filter "$2"); fi

apt_install libpq-dev libsystemd-dev postgresql pkg-config python3-pip python3-yaml openssl git
# The fake GitHub API of the tests (scripts/lib/fake_github.py) checks every request body against the models
# githubkit generates from GitHub's OpenAPI description.
pip_install githubkit_schemas.latest.models 'githubkit==0.16.1' 'hishel[async,httpx]==1.3.0'

log "building"
build_log=$(mktemp)
if ! swift build --build-tests 2>&1 | tee "$build_log" | grep -E 'error:|warning:' | grep -v '/\.build/' >&2; then :; fi
if [ "${PIPESTATUS[0]}" != 0 ] || grep -q 'error:' "$build_log"; then
    tail -n 40 "$build_log" >&2
    die "build failed"
fi
# Zero warnings in our own code (dependencies' warnings are theirs).
if grep -E "^$AQ_ROOT/(Sources|Tests|Plugins)/.*warning:" "$build_log" >&2; then
    die "the build has warnings in AgentQueue's code"
fi
rm -f "$build_log"
log "checking formatting (swift format lint, .swift-format)"
swift format lint --strict --recursive --configuration .swift-format Sources Tests Plugins Package.swift ||
    die "swift format lint found problems: run swift format format -i --recursive --configuration .swift-format Sources Tests Plugins Package.swift"
AGENTQUEUE_BIN_DIR=$(swift build --show-bin-path)
export AGENTQUEUE_BIN_DIR

log "starting a throwaway PostgreSQL"
pg_throwaway fast
log "PostgreSQL on port $PG_PORT"

log "running swift test"
# Judged by swift test's exit status; the filter only trims what is printed (the full log is kept).
set +e
swift test --skip-build "${filter[@]}" >/tmp/aq-swift-test.log 2>&1
status=$?
set -e
grep -E '^(✘|Test run|.*recorded an issue|Fatal|.*error:)' /tmp/aq-swift-test.log || true
[ "$status" = 0 ] || die "swift test failed with exit status $status (full log: /tmp/aq-swift-test.log)"

log "validating queuectl review's SARIF output against the official schema"
scripts/check-sarif.sh "$AGENTQUEUE_BIN_DIR/queuectl"

log "the CI recipes (docs/ci/*.yml) on shallow clones"
scripts/check-ci-recipes.sh "$AGENTQUEUE_BIN_DIR"

# Every example output in README.md and docs/*.md against what the binaries print now, and every relative link.
log "checking the documentation's examples and links"
scripts/check-docs.sh "$AGENTQUEUE_BIN_DIR"

log "chaos run (short variant): workers killed, backends terminated, PostgreSQL restarted"
scripts/chaos.sh --short

# A few seconds of every benchmark scenario with the binaries just built, so that the benchmark never rots.
# Its figures are printed, never checked.
log "benchmark smoke run (scripts/bench.sh --smoke)"
scripts/bench.sh --smoke --bin-dir "$AGENTQUEUE_BIN_DIR" >/tmp/aq-bench-smoke.log 2>&1 ||
    { tail -n 40 /tmp/aq-bench-smoke.log >&2; die "the benchmark smoke run failed (full log: /tmp/aq-bench-smoke.log)"; }

log "checking the systemd units"
scripts/check-units.sh "$AGENTQUEUE_BIN_DIR/queue-worker"

log "checking docker-compose.yml and the Dockerfile"
scripts/check-compose.sh

if [ "$(id -u)" = 0 ]; then
    log "reading log entries back from a real journald"
    scripts/test-journald.sh "$AGENTQUEUE_BIN_DIR"
else
    log "skipping the journald read-back test (needs root for its private mount namespace)"
fi

# Skips by itself, with a message, when not root or when systemd-nspawn/debootstrap cannot be installed.
log "end to end under systemd as PID 1 (systemd-nspawn)"
scripts/test-systemd-e2e.sh

log "all tests passed"
