#!/usr/bin/env bash
# Benchmarks AgentQueue on this machine: builds queue-worker and aq-bench in release mode, starts a throwaway
# PostgreSQL (default settings, fsync on; removed afterwards), and runs every scenario of docs/benchmarks.md with real
# worker processes and pgbench as the database's own limit. Prints Markdown tables; writes JSON.
#
# Usage: scripts/bench.sh [--quick | --smoke] [--bin-dir DIR] [--json FILE] [aq-bench options …]
#   (default)   the full run docs/benchmarks.md reports (about 18 minutes on 2 cores)
#   --quick     fewer configurations and shorter runs, for iterating on an optimisation (about 3 minutes)
#   --smoke     a few seconds of every scenario with the binaries in --bin-dir (CI runs it from scripts/test.sh):
#               proves that the benchmark still works; its figures mean nothing and nothing is asserted about them
#   --bin-dir   use queue-worker and aq-bench from DIR instead of building them
#   --json      where to write the results (default: bench-results.json in the repository, which git ignores;
#               --smoke: /tmp/aq-bench-smoke.json)
# Other options go to aq-bench (`aq-bench --help`), e.g. --only drain --processes 1,4 --label "batched completer".
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$AQ_ROOT/scripts/lib/postgres.sh"
cd "$AQ_ROOT"

mode=full
bin_dir=""
json=""
passthrough=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) mode=quick ;;
        --smoke) mode=smoke ;;
        --bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift ;;
        --json) json=${2:?--json needs a file}; shift ;;
        *) passthrough+=("$1") ;;
    esac
    shift
done

apt_install libpq-dev libsystemd-dev postgresql pkg-config
work=$(mktemp -d /tmp/aq-bench.XXXXXX)

if [ -z "$bin_dir" ]; then
    # The deployment build (README, Dockerfile): release, Swift runtime linked statically.
    log "building queue-worker, queue-webhook and aq-bench (release, --static-swift-stdlib)"
    build=(swift build -c release --static-swift-stdlib --scratch-path "$AQ_ROOT/.build-bench")
    for product in queue-worker queue-webhook aq-bench; do
        if ! "${build[@]}" --product "$product" >"$work/build.log" 2>&1; then
            grep -E 'error:' "$work/build.log" >&2 || tail -n 30 "$work/build.log" >&2
            die "building $product failed (log: $work/build.log)"
        fi
    done
    bin_dir=$("${build[@]}" --show-bin-path)
fi
for binary in queue-worker queue-webhook aq-bench; do
    [ -x "$bin_dir/$binary" ] || die "$bin_dir/$binary is missing (build it, or drop --bin-dir)"
done

if [ -z "$json" ]; then
    if [ "$mode" = smoke ]; then json=/tmp/aq-bench-smoke.json; else json="$AQ_ROOT/bench-results.json"; fi
fi

log "starting a throwaway PostgreSQL (default settings, fsync on)"
pg_throwaway durable
log "PostgreSQL $(pg_as_owner "$(pg_bindir)/postgres" --version | awk '{print $3}') on port $PG_PORT"

# Workers are children of aq-bench; should it die, end the ones it left behind (it lists their pids; a pid is only
# signalled while it still is one of those workers).
bench_cleanup() {
    local pid
    if [ -f "$work/worker.pids" ]; then
        while read -r pid; do
            if { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q -- "--instance bench-"; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done <"$work/worker.pids"
    fi
    if [ "$mode" = smoke ]; then rm -rf "$work"; fi
    aq_cleanup
}
trap bench_cleanup EXIT

# The server trusts local connections; the password is there so that the workers mask a secret in every log line,
# as they do in production.
url="postgresql://postgres:bench-password@127.0.0.1:$PG_PORT/postgres"
"$bin_dir/aq-bench" --database-url "$url" --worker "$bin_dir/queue-worker" --mode "$mode" \
    --json "$json" --work-directory "$work" --diff "$AQ_ROOT/Tests/ReviewAgentsTests/Fixtures/sample-findings.diff" \
    ${passthrough[@]+"${passthrough[@]}"}
