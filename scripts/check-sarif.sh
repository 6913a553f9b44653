#!/usr/bin/env bash
# Runs `queuectl review --format sarif` on sample changes and validates every log against the official
# SARIF 2.1.0 schema (Tests/ReviewAgentsTests/Fixtures/sarif-schema-2.1.0.json) with Python jsonschema.
#
# Usage: scripts/check-sarif.sh [QUEUECTL]     (default: .build/debug/queuectl; run `swift build` first)
# Installs jsonschema with pip only when it is missing. Idempotent; leaves nothing behind.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
queuectl="${1:-$root/.build/debug/queuectl}"
fixtures="$root/Tests/ReviewAgentsTests/Fixtures"
schema="$fixtures/sarif-schema-2.1.0.json"

if [[ ! -x "$queuectl" ]]; then
    echo "check-sarif: no queuectl binary at $queuectl (run swift build, or pass its path)" >&2
    exit 1
fi
if ! "$queuectl" review --help >/dev/null 2>&1; then
    echo "check-sarif: $queuectl has no 'review' subcommand (queuectl needs ReviewAgents in its Package.swift" \
        "dependencies and ReviewCommand.self in its subcommands)" >&2
    exit 1
fi
if ! python3 -c 'import jsonschema' 2>/dev/null; then
    echo "check-sarif: installing jsonschema" >&2
    python3 -m pip install --quiet --disable-pip-version-check 'jsonschema>=4.17'
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/check-sarif.XXXXXX")"
trap 'rm -rf "$work"' EXIT
logs=()

review() {  # review NAME ARGS...: writes $work/NAME.sarif; a verdict's status (0, 5, 6) or 10 (--fail-on) is fine
    local name="$1"
    shift
    local status=0
    "$queuectl" review --format sarif "$@" >"$work/$name.sarif" || status=$?
    if [[ $status -ne 0 && $status -ne 5 && $status -ne 6 && $status -ne 10 ]]; then
        echo "check-sarif: queuectl review $* exited with $status" >&2
        exit 1
    fi
    logs+=("$work/$name.sarif")
}

# 1. Sample diffs from files and from standard input. An empty change is refused (exit 2, nothing on stdout): an
#    approval of nothing would let a CI job whose `git diff` failed pass.
review findings --diff "$fixtures/sample-findings.diff" --fail-on high
review clean --diff "$fixtures/sample-clean.diff"
review stdin --diff - <"$fixtures/sample-findings.diff"
status=0
"$queuectl" review --format sarif --diff /dev/null >"$work/empty.sarif" 2>/dev/null || status=$?
if [[ $status -ne 2 || -s "$work/empty.sarif" ]]; then
    echo "check-sarif: an empty diff must be refused with exit 2 and no SARIF (got $status)" >&2
    exit 1
fi

# 2. A hermetic git repository, through --git (with a repository configuration at the head revision).
repo="$work/repo"
git init -q -b main "$repo"
gitc() { git -C "$repo" -c user.name=check -c user.email=check@example.com -c commit.gpgsign=false "$@"; }
mkdir -p "$repo/app"
printf 'def get(uid):\n    return uid\n' >"$repo/app/db.py"
printf 'rules:\n  quality.missing-tests: off\n' >"$repo/.agentqueue.yml"
gitc add -A
gitc commit -q -m base
gitc checkout -q -b feature
printf 'def get(uid):\n    # TODO: cache\n    return cursor.execute(f"SELECT a FROM t WHERE id = {uid}")\n' >"$repo/app/db.py"
gitc commit -q -am feature
review git --git "$repo" --base main --head feature

# 3. A real change of a real repository, when the local package mirror has it.
yams=/opt/swift-packages/jpsim/Yams.git
if git -C "$yams" rev-parse -q --verify '6.2.2^{commit}' >/dev/null 2>&1; then
    review yams --git "$yams" --base 5.0.1 --head 6.2.2
else
    echo "check-sarif: $yams not present, skipping the real-repository sample" >&2
fi

python3 "$root/scripts/validate_sarif.py" "$schema" "${logs[@]}"
