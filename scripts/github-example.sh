#!/usr/bin/env bash
# What AgentQueue posts on a pull request, end to end, with nothing of GitHub's but a stand-in for its API:
# queue-webhook and two workers (as a GitHub App) against the fake GitHub of the tests (scripts/lib/fake_github.py,
# which checks every request body against GitHub's OpenAPI models). A signed `pull_request opened` delivery of
# acme/shop#7 is reviewed and published; then a push (`synchronize`) is reviewed, its summary comment updated in place
# and nothing commented twice. Prints what a reader of the pull request sees. docs/github.md shows its output, which
# scripts/check-docs.sh checks.
#
# Usage: DATABASE_URL=postgresql://… scripts/github-example.sh   (a migrated, empty AgentQueue database)
#   queue-webhook, queue-worker and queuectl are taken from PATH, or from $AGENTQUEUE_BIN_DIR when set.
#   Needs python3 with githubkit (scripts/test.sh installs it) and openssl. Leaves nothing running.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -n "${DATABASE_URL:-}" ] || { echo "github-example: set DATABASE_URL to a migrated AgentQueue database" >&2; exit 2; }
if [ -n "${AGENTQUEUE_BIN_DIR:-}" ]; then PATH=$AGENTQUEUE_BIN_DIR:$PATH; fi
for binary in queue-webhook queue-worker; do
    command -v "$binary" >/dev/null || { echo "github-example: $binary is not on PATH (swift build first)" >&2; exit 2; }
done
WORK=$(mktemp -d /tmp/github-example.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

openssl genrsa -out "$WORK/app.pem" 2048 2>/dev/null
openssl rsa -in "$WORK/app.pem" -pubout -out "$WORK/app.pub.pem" 2>/dev/null
python3 "$ROOT/scripts/lib/fake_github.py" --app-id 4242 --app-public-key "$WORK/app.pub.pem" \
    >"$WORK/github.port" 2>"$WORK/github.log" &
pids+=($!)
for _ in $(seq 1 200); do [ -s "$WORK/github.port" ] && break; sleep 0.1; done
[ -s "$WORK/github.port" ] || { cat "$WORK/github.log" >&2; echo "github-example: the fake GitHub did not start" >&2; exit 1; }
GITHUB=http://127.0.0.1:$(head -n1 "$WORK/github.port")
SECRET=example-webhook-secret-0123456789

env GITHUB_WEBHOOK_SECRET=$SECRET WEBHOOK_LISTEN=127.0.0.1:0 LOG_FORMAT=logfmt GITHUB_API_URL="$GITHUB" \
    queue-webhook >"$WORK/webhook.log" 2>&1 &
pids+=($!)
for instance in 1 2; do
    env GITHUB_APP_ID=4242 GITHUB_APP_PRIVATE_KEY_FILE="$WORK/app.pem" GITHUB_API_URL="$GITHUB" LOG_FORMAT=logfmt \
        WORKER_POLL_INTERVAL_MS=100 queue-worker --instance "example-$instance" >"$WORK/worker-$instance.log" 2>&1 &
    pids+=($!)
done
address=
for _ in $(seq 1 600); do
    address=$(grep -o 'msg=listening.* address=[0-9.:]*' "$WORK/webhook.log" | sed 's/.*address=//' | head -n1 || true)
    if [ -n "$address" ] && curl -fsS "http://$address/readyz" >/dev/null 2>&1; then break; fi
    address=
    sleep 0.1
done
[ -n "$address" ] || { tail -n 20 "$WORK/webhook.log" >&2; echo "github-example: queue-webhook did not become ready" >&2; exit 1; }

python3 - "$ROOT" "$GITHUB" "$address" "$SECRET" <<'PY'
import hashlib, hmac, json, os, subprocess, sys, time, urllib.request

root, github, address, secret = sys.argv[1:5]
orders = open(f"{root}/scripts/demo/1-orders-sql.diff").read()
debug = open(f"{root}/scripts/demo/2-web-debug.diff").read()
first, second = "a1" * 20, "b2" * 20


def call(url, body=None, headers=None):
    request = urllib.request.Request(url, data=None if body is None else body, headers=headers or {},
                                     method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def state():
    return json.loads(call(f"{github}/_fake/state")[1])


def pull(sha, diff):
    call(f"{github}/_fake/pulls", json.dumps({"repo": "acme/shop", "number": 7, "head_sha": sha, "diff": diff}).encode())


def deliver(action, sha, delivery):
    body = json.dumps({
        "action": action, "number": 7,
        "pull_request": {"number": 7, "html_url": "https://github.com/acme/shop/pull/7", "title": "Order totals",
                         "user": {"login": "octocat"}, "head": {"sha": sha}, "draft": False},
        "repository": {"full_name": "acme/shop", "html_url": "https://github.com/acme/shop"},
        "installation": {"id": 77}}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    status, answer = call(f"http://{address}/webhooks/github", body, {
        "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signature,
        "Content-Type": "application/json"})
    print(f"delivery {delivery}: pull_request {action} of acme/shop#7 at {sha[:7]} -> HTTP {status} "
          f"{json.loads(answer)['status']}")


def queue_idle():
    # The publish node posts the check run's end, the summary comment and then the review: the task is finished only
    # once all three are posted.
    query = "SELECT count(*) FROM tasks WHERE state IN ('pending', 'running')"
    busy = subprocess.run(["psql", "-XAt", os.environ["DATABASE_URL"], "-c", query],
                          check=True, capture_output=True, text=True).stdout.strip()
    return busy == "0"


def wait_for(condition, what):
    deadline = time.time() + 120
    while time.time() < deadline:
        current = state()
        if condition(current) and queue_idle():
            return state()
        time.sleep(0.2)
    sys.exit(f"github-example: timed out waiting for {what}")


def show(current, sha):
    run = next(r for r in current["check_runs"] if r["head_sha"] == sha)
    print(f"\n== check run {run['name']} on {sha[:7]}: {run['status']}, conclusion {run['conclusion']}")
    print(f"title: {run['output'].get('title')}")
    for a in run["annotations"]:
        print(f"  annotation {a['path']}:{a['start_line']} [{a['annotation_level']}] {a.get('title')}")
    comments = current["comments"]
    print(f"\n== summary comment ({len(comments)} on the pull request, edited {sum(c['edits'] for c in comments)} times)")
    for c in comments:
        print(c["body"])
    reviews = [r for r in current["reviews"] if r["commit_id"] == sha]
    print(f"\n== reviews of {sha[:7]}: {len(reviews)}")
    for r in reviews:
        print(f"event {r['event']}")
        print(r["body"])
        for c in r["comments"]:
            print(f"\n-- inline comment on {c['path']}:{c['line']} ({c['side']})")
            print(c["body"])
    if current["invalid"]:
        sys.exit(f"github-example: GitHub would have refused {current['invalid']}")


pull(first, orders)
deliver("opened", first, "11111111-1111-4111-8111-111111111111")
show(wait_for(lambda s: any(r["head_sha"] == first and r["status"] == "completed" for r in s["check_runs"])
              and len(s["comments"]) == 1, "the first review"), first)
print("\n==========================================================================================\n")
pull(second, orders + debug)
deliver("synchronize", second, "22222222-2222-4222-8222-222222222222")
final = wait_for(lambda s: any(r["head_sha"] == second and r["status"] == "completed" for r in s["check_runs"])
                 and sum(c["edits"] for c in s["comments"]) == 1, "the second review")
show(final, second)
print(f"\nreviews in all: {len(final['reviews'])}, inline comments in all: "
      f"{sum(len(r['comments']) for r in final['reviews'])}, request bodies GitHub would refuse: {len(final['invalid'])}")
PY
