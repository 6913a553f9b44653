#!/usr/bin/env bash
# Benchmarks the diff parser and the four review agents on generated diffs (10,000 and 100,000 added lines
# across Python, TypeScript, Go, Java, Ruby, Swift, shell, SQL, YAML and JSON), in a release build.
#
# Usage: scripts/bench-agents.sh [LINES ...]      (default: 10000 100000)
# Prints Markdown tables: seconds, lines per second and MB per second per stage (best of several runs).
# Per-agent rows run one agent at a time on one core; "in parallel" runs all four concurrently.
#
#        scripts/bench-agents.sh --parse-scaling [LINES ...]   (default: 35000 350000 3500000)
# Parses one file made of a single hunk of LINES added lines: the nanoseconds per line stay flat when parsing is
# linear. Then runs each agent on the hunks of up to 400,000 lines.
#
#        scripts/bench-agents.sh --file PATH
# Parses the diff in PATH and runs each agent on it, printing the seconds of each step.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scratch="${AGENTS_BENCH_SCRATCH:-$root/.build-bench}"

swift build --package-path "$root" --scratch-path "$scratch" -c release --product agents-bench >&2
binary="$(swift build --package-path "$root" --scratch-path "$scratch" -c release --show-bin-path)/agents-bench"

echo "agents-bench on $(uname -m), $(nproc) cores, $(swift --version 2>/dev/null | head -1)"
echo
"$binary" "$@"
