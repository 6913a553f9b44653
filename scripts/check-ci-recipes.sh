#!/usr/bin/env bash
# Runs the review commands of the CI recipes (docs/ci/github-actions.yml, docs/ci/gitlab-ci.yml), word for word as
# the YAML holds them, on shallow clones made the way GitHub Actions and GitLab CI make them, and checks that each
# reviews exactly the pull request's change: the base branch moved on after the branch was cut, and a review that
# compared the wrong trees would report what the base removed since.
#
# Usage: scripts/check-ci-recipes.sh [BIN_DIR]   (default: .build/debug; run `swift build` first)
# Needs git and python3 with PyYAML (Debian: python3-yaml). Leaves nothing behind.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

bin_dir="${1:-$AQ_ROOT/.build/debug}"
[ -x "$bin_dir/queuectl" ] || die "no queuectl in $bin_dir (run swift build, or pass the directory)"
python3 -c 'import yaml' 2>/dev/null || die "python3 cannot import yaml (install python3-yaml)"

work=$(mktemp -d "${TMPDIR:-/tmp}/check-ci-recipes.XXXXXX")
trap 'rm -rf "$work"' EXIT
export PATH="$bin_dir:$PATH"
gitc() { git -C "$1" -c user.name=ci -c user.email=ci@example.com -c commit.gpgsign=false "${@:2}"; }

# The project: main, a feature branch with a SQL injection, and main moving on afterwards by removing an eval().
origin="$work/origin"
git init -q -b main "$origin"
mkdir -p "$origin/app" "$origin/tests"
printf 'def get(cursor, uid):\n    return cursor.fetchone()\n' >"$origin/app/db.py"
printf 'def run(user_input):\n    return eval(user_input)\n' >"$origin/app/legacy.py"
printf 'def test_get():\n    pass\n' >"$origin/tests/test_db.py"
for n in 1 2 3; do echo "history $n" >"$origin/NOTES"; gitc "$origin" add -A; gitc "$origin" commit -q -m "base $n"; done
gitc "$origin" checkout -q -b feature
printf 'def get(cursor, uid):\n    cursor.execute(f"SELECT * FROM users WHERE id = {uid}")\n    return cursor.fetchone()\n' \
    >"$origin/app/db.py"
printf 'def test_get():\n    assert True\n' >"$origin/tests/test_db.py"
gitc "$origin" commit -q -am "feature: look the user up"
gitc "$origin" checkout -q main
printf 'def run(user_input):\n    return None\n' >"$origin/app/legacy.py"
gitc "$origin" commit -q -am "main: no more eval"
# What GitHub makes for a pull request: refs/pull/1/merge, the feature merged into the base's tip.
gitc "$origin" checkout -q --detach main
gitc "$origin" merge -q --no-ff -m "Merge feature into main" feature
gitc "$origin" update-ref refs/pull/1/merge HEAD
gitc "$origin" checkout -q main

# recipe_commands FILE: the review step's shell commands, from the parsed YAML.
recipe_commands() {
    python3 - "$1" <<'PY'
import sys, yaml
document = yaml.safe_load(open(sys.argv[1]))
if "jobs" in document:  # GitHub Actions: the step named Review
    steps = document["jobs"]["review"]["steps"]
    print(next(step["run"] for step in steps if step.get("name") == "Review"))
else:  # GitLab CI: the job's script
    print("\n".join(document["agentqueue-review"]["script"]))
PY
}

# check NAME DIR STATUS: the SARIF in DIR holds the feature's finding, not the eval main removed; STATUS is 10.
check() {
    local name=$1 dir=$2 status=$3
    [ "$status" = 10 ] || die "$name: the recipe exited with $status, expected 10 (a high finding, --fail-on high)"
    python3 - "$name" "$dir/review.sarif" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
results = json.load(open(path))["runs"][0]["results"]
rules = sorted({r["ruleId"] for r in results})
files = sorted({r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results if r.get("locations")})
if "security.sql-injection" not in rules or any("eval" in r for r in rules) or files != ["app/db.py"]:
    sys.exit(f"check-ci-recipes: {name}: reviewed the wrong change: rules {rules}, files {files}")
print(f"ok   {name}: {len(results)} results, rules {', '.join(rules)}")
PY
}

# GitHub Actions: actions/checkout with fetch-depth 2 fetches the merge commit and its parents, then checks it out.
gh="$work/github"
git init -q "$gh"
git -C "$gh" fetch -q --no-tags --depth=2 "file://$origin" "+refs/pull/1/merge:refs/remotes/pull/1/merge"
git -C "$gh" checkout -q --detach refs/remotes/pull/1/merge
[ "$(git -C "$gh" rev-parse --is-shallow-repository)" = true ] || die "the GitHub-style clone is not shallow"
status=0
(cd "$gh" && bash -e -c "$(recipe_commands "$AQ_ROOT/docs/ci/github-actions.yml")") >"$work/github.out" 2>&1 ||
    status=$?
check "GitHub Actions (docs/ci/github-actions.yml)" "$gh" "$status" || { cat "$work/github.out" >&2; exit 1; }

# GitLab CI: a shallow clone of the merge request's branch (GIT_DEPTH), and the merge base in a variable.
gl="$work/gitlab"
git clone -q --depth=1 --no-tags --branch feature "file://$origin" "$gl"
[ "$(git -C "$gl" rev-parse --is-shallow-repository)" = true ] || die "the GitLab-style clone is not shallow"
base_sha=$(git -C "$origin" merge-base main feature)
status=0
(cd "$gl" && CI_MERGE_REQUEST_DIFF_BASE_SHA=$base_sha bash -e -c "$(recipe_commands "$AQ_ROOT/docs/ci/gitlab-ci.yml")") \
    >"$work/gitlab.out" 2>&1 || status=$?
check "GitLab CI (docs/ci/gitlab-ci.yml)" "$gl" "$status" || { cat "$work/gitlab.out" >&2; exit 1; }

# The README's shortcut on a shallow clone: the base branch's tip shares no fetched history with HEAD. queuectl
# refuses (rather than comparing the two trees, which would report main's removed eval() as added).
git -C "$gl" fetch -q --depth=1 --no-tags origin main
status=0
output=$(cd "$gl" && queuectl review --git . --base FETCH_HEAD --head HEAD 2>&1) || status=$?
[ "$status" = 1 ] && grep -q "no merge base in this shallow clone" <<<"$output" ||
    die "a shallow clone without a merge base must be refused with exit 1 (got $status: $output)"
echo "ok   a shallow clone without the merge base is refused: ${output#queuectl: error: }"
