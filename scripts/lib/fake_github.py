#!/usr/bin/env python3
"""A stand-in for GitHub's REST API, for AgentQueue's tests, end-to-end runs and the docs' example.

It serves what AgentQueue reads (a pull request as JSON or as a diff, a file of the repository) and what it writes
(check runs and their annotations, commit statuses, issue comments, pull request reviews), and checks every request
body against the typed models that the PyPI package githubkit generates from GitHub's OpenAPI description: strictly
(no type coercion), refusing keys the description does not declare, and, for review comments, lines that are not
in the pull request's diff — exactly as GitHub answers them (422). Answers are realistic bodies, validated against
the response models too. A body that fails validation is answered 422 and recorded in the state's `invalid` list,
which tests expect to be empty.

Authentication: `--token T` accepts `Authorization: Bearer T` (or `token T`); `--app-id ID --app-public-key PEM`
accepts GitHub App JWTs (RS256, verified with openssl) at POST /app/installations/N/access_tokens and the
installation tokens it issues. Only installation tokens may create check runs, as on GitHub.

Control endpoints (not GitHub's):
  POST /_fake/pulls   {"repo", "number", "head_sha", "diff", "title"?, "draft"?, "files"?: {path: text}}
  POST /_fake/faults  {"method", "path" (regex), "status", "times"?, "headers"?, "body"?, "delay"?}: the next
                      `times` matching requests get this answer (status 0: answered normally after `delay` seconds)
  GET  /_fake/state   everything posted, the request log and the invalid bodies
  POST /_fake/reset   forget everything but the pull requests

Usage: fake_github.py [--token T] [--app-id ID --app-public-key FILE] [--port-file FILE]
Prints the port it listens on (127.0.0.1), then serves until killed.
"""
import argparse
import base64
import datetime
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

try:
    from pydantic import BaseModel, TypeAdapter, ValidationError
    import githubkit_schemas.latest.models as gh
except ImportError:
    sys.stderr.write("fake_github: needs githubkit: python3 -m pip install 'githubkit==0.16.1' "
                     "'hishel[async,httpx]==1.3.0' (scripts/test.sh installs it)\n")
    sys.exit(3)

CHECK_CREATE = [gh.ReposOwnerRepoCheckRunsPostBodyOneof0, gh.ReposOwnerRepoCheckRunsPostBodyOneof1]
CHECK_UPDATE = [gh.ReposOwnerRepoCheckRunsCheckRunIdPatchBodyAnyof0, gh.ReposOwnerRepoCheckRunsCheckRunIdPatchBodyAnyof1]
HOST = "https://github.example"
API = "https://api.github.example"


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def unknown_keys(model, raw, path="$"):
    """Keys of the raw JSON that no field of the model (or of a nested model) declares."""
    if isinstance(model, list) and isinstance(raw, list):
        return [k for i, (m, r) in enumerate(zip(model, raw)) for k in unknown_keys(m, r, f"{path}[{i}]")]
    if not isinstance(model, BaseModel) or not isinstance(raw, dict):
        return []
    known = {(f.alias or n): n for n, f in type(model).model_fields.items()}
    found = [f"{path}.{k}" for k in raw if k not in known]
    for key, name in known.items():
        if key in raw:
            found += unknown_keys(getattr(model, name), raw[key], f"{path}.{key}")
    return found


def validate(models, raw_bytes):
    """The first model the body validates against strictly with no undeclared key; else a list of problems."""
    problems = []
    try:
        raw = json.loads(raw_bytes)
    except ValueError as error:
        return None, [f"not JSON: {error}"]
    for model in models:
        try:
            parsed = model.model_validate_json(raw_bytes, strict=True)
        except ValidationError as error:
            problems += [f"{model.__name__}: {'.'.join(map(str, e['loc']))}: {e['msg']}"
                         for e in error.errors() if "UNSET" not in e["msg"]]
            continue
        extra = unknown_keys(parsed, raw)
        if extra:
            problems.append(f"{model.__name__}: undeclared keys {extra}")
            continue
        return raw, []
    return None, problems or ["invalid body"]


def user(login="agentqueue[bot]", uid=41898282, kind="Bot"):
    return {"login": login, "id": uid, "node_id": f"U_{uid}", "avatar_url": f"{HOST}/avatars/{uid}",
            "gravatar_id": "", "url": f"{API}/users/{login}", "html_url": f"{HOST}/{login}",
            "followers_url": "", "following_url": "", "gists_url": "", "starred_url": "", "subscriptions_url": "",
            "organizations_url": "", "repos_url": "", "events_url": "", "received_events_url": "", "type": kind,
            "site_admin": False}


def diff_lines(diff):
    """{(path, side, line)} that a review comment may target: new-side lines of added and context lines (RIGHT),
    old-side lines of removed and context lines (LEFT)."""
    lines, path, old, new = set(), None, 0, 0
    for text in diff.splitlines():
        if text.startswith("+++ "):
            target = text[4:].strip()
            path = None if target == "/dev/null" else target[2:] if target.startswith("b/") else target
        elif text.startswith("--- ") or text.startswith("diff --git"):
            continue
        elif text.startswith("@@"):
            match = re.match(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", text)
            old, new = int(match.group(1)), int(match.group(2))
        elif path is None:
            continue
        elif text.startswith("+"):
            lines.add((path, "RIGHT", new))
            new += 1
        elif text.startswith("-"):
            lines.add((path, "LEFT", old))
            old += 1
        elif text.startswith(" ") or text == "":
            lines.add((path, "RIGHT", new))
            lines.add((path, "LEFT", old))
            old += 1
            new += 1
    return lines


class State:
    def __init__(self):
        self.lock = threading.RLock()
        self.pulls = {}
        self.next_id = 1000
        self.reset()

    def reset(self):
        self.check_runs, self.statuses, self.comments, self.reviews = [], [], [], []
        self.requests, self.invalid, self.faults, self.tokens, self.arrivals = [], [], [], {}, []

    def new_id(self):
        self.next_id += 1
        return self.next_id


STATE = State()
ARGS = None


def verify_jwt(jwt):
    """The App id of a valid GitHub App JWT (RS256 signed by the App's key, at most 10 minutes long), or None."""
    parts = jwt.split(".")
    if len(parts) != 3 or not ARGS.app_public_key:
        return None

    def decode(part):
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    try:
        header, claims, signature = json.loads(decode(parts[0])), json.loads(decode(parts[1])), decode(parts[2])
    except ValueError:
        return None
    if header.get("alg") != "RS256" or str(claims.get("iss")) != ARGS.app_id:
        return None
    current = time.time()
    if not (claims["iat"] <= current + 60 and current < claims["exp"] and claims["exp"] - claims["iat"] <= 600):
        return None
    with tempfile.NamedTemporaryFile() as sig, tempfile.NamedTemporaryFile() as data:
        sig.write(signature)
        sig.flush()
        data.write((parts[0] + "." + parts[1]).encode())
        data.flush()
        result = subprocess.run(["openssl", "dgst", "-sha256", "-verify", ARGS.app_public_key, "-signature",
                                 sig.name, data.name], capture_output=True)
    return claims["iss"] if result.returncode == 0 else None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    # -- plumbing --------------------------------------------------------------------------------------------------

    def answer(self, status, body=None, headers=None, raw=None, content_type="application/json; charset=utf-8"):
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-GitHub-Request-Id", f"FAKE:{STATE.next_id}")
        self.end_headers()
        self.wfile.write(data)
        if not self.path.startswith("/_fake/"):
            with STATE.lock:
                STATE.requests.append({"method": self.command, "path": self.path.split("?")[0], "status": status,
                                       "auth": self.auth_kind})

    def error(self, status, message, errors=None, headers=None):
        body = {"message": message, "documentation_url": "https://docs.github.com/rest", "status": str(status)}
        if errors is not None:
            body["errors"] = errors
        self.answer(status, body, headers)

    def body_bytes(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def invalid(self, what, problems):
        with STATE.lock:
            STATE.invalid.append({"request": f"{self.command} {self.path}", "what": what, "problems": problems})
        self.error(422, "Invalid request.", [{"resource": what, "code": "invalid", "message": p} for p in problems])

    def respond(self, model, body, status=200):
        model.model_validate(body)  # a fake answer GitHub would never give is the fake's bug: fail loudly
        self.answer(status, body)

    def route(self):
        self.auth_kind = "none"
        if self.path.startswith("/_fake/"):
            return self.control()
        path = self.path.split("?")[0]
        with STATE.lock:
            STATE.arrivals.append({"method": self.command, "path": path})
        for fault in list(STATE.faults):
            if fault["method"] == self.command and re.fullmatch(fault["path"], path):
                with STATE.lock:
                    fault["times"] -= 1
                    if fault["times"] <= 0:
                        STATE.faults.remove(fault)
                time.sleep(fault.get("delay", 0))
                if fault.get("status", 0):
                    self.body_bytes()
                    self.answer(fault["status"], fault.get("body") or {"message": "injected"},
                                fault.get("headers"))
                    return
                break
        authorization = self.headers.get("Authorization") or ""
        token = authorization.split(" ", 1)[1] if " " in authorization else ""
        match = re.fullmatch(r"/app/installations/(\d+)/access_tokens", path)
        if match and self.command == "POST":
            self.auth_kind = "jwt"
            self.body_bytes()
            if verify_jwt(token) is None:
                return self.error(401, "A JSON web token could not be decoded")
            issued = f"ghs_fake{STATE.new_id()}x{match.group(1)}"
            expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
            with STATE.lock:
                STATE.tokens[issued] = int(match.group(1))
            return self.respond(gh.InstallationToken, {
                "token": issued, "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "permissions": {"checks": "write", "pull_requests": "write", "contents": "read",
                                "issues": "write", "metadata": "read"},
                "repository_selection": "selected"}, 201)
        if token in STATE.tokens:
            self.auth_kind = "installation"
        elif ARGS.token and token == ARGS.token:
            self.auth_kind = "token"
        elif authorization:
            return self.error(401, "Bad credentials")
        elif self.command != "GET":
            return self.error(401, "Requires authentication")
        self.api(path)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = lambda self: self.route()

    # -- control ---------------------------------------------------------------------------------------------------

    def control(self):
        path = self.path.split("?")[0]
        if path == "/_fake/state" and self.command == "GET":
            with STATE.lock:
                state = json.dumps({"check_runs": STATE.check_runs, "statuses": STATE.statuses,
                                    "comments": STATE.comments, "reviews": STATE.reviews,
                                    "requests": STATE.requests, "arrivals": STATE.arrivals,
                                    "invalid": STATE.invalid}).encode()
            return self.answer(200, raw=state)
        body = json.loads(self.body_bytes() or b"{}")
        if path == "/_fake/pulls":
            with STATE.lock:
                STATE.pulls[(body["repo"], int(body["number"]))] = body
            return self.answer(200, {"ok": True})
        if path == "/_fake/faults":
            body.setdefault("times", 1)
            with STATE.lock:
                STATE.faults.append(body)
            return self.answer(200, {"ok": True})
        if path == "/_fake/reset":
            with STATE.lock:
                STATE.reset()
            return self.answer(200, {"ok": True})
        self.error(404, "Not Found")

    # -- GitHub ----------------------------------------------------------------------------------------------------

    def page(self, items):
        query = dict(part.split("=", 1) for part in self.path.partition("?")[2].split("&") if "=" in part)
        size, number = int(query.get("per_page", 30)), int(query.get("page", 1))
        return items[(number - 1) * size: number * size]

    def api(self, path):
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)/(.*)", path)
        if not m:
            return self.error(404, "Not Found")
        repo, rest = m.group(1), m.group(2)
        method = self.command
        if method == "GET" and (mm := re.fullmatch(r"pulls/(\d+)", rest)):
            pull = STATE.pulls.get((repo, int(mm.group(1))))
            if pull is None:
                return self.error(404, "Not Found")
            if "diff" in (self.headers.get("Accept") or ""):
                return self.answer(200, raw=pull["diff"].encode(), content_type="text/plain; charset=utf-8")
            return self.answer(200, {
                "number": pull["number"], "title": pull.get("title", "A change"), "state": "open",
                "draft": pull.get("draft", False), "user": user("octocat", 583231, "User"),
                "html_url": f"{HOST}/{repo}/pull/{pull['number']}",
                "head": {"sha": pull["head_sha"], "ref": "feature"}, "base": {"sha": "b" * 40, "ref": "main"}})
        if method == "GET" and (mm := re.fullmatch(r"contents/(.+)", rest)):
            for pull in STATE.pulls.values():
                text = (pull.get("files") or {}).get(mm.group(1))
                if pull["repo"] == repo and text is not None:
                    return self.answer(200, raw=text.encode(), content_type="text/plain; charset=utf-8")
            return self.error(404, "Not Found")
        if method == "GET" and (mm := re.fullmatch(r"commits/([0-9a-f]+)/check-runs", rest)):
            query = dict(p.split("=", 1) for p in self.path.partition("?")[2].split("&") if "=" in p)
            runs = [r for r in STATE.check_runs if r["repo"] == repo and r["head_sha"] == mm.group(1)
                    and r["name"] == query.get("check_name", r["name"])]
            body = {"total_count": len(runs), "check_runs": [self.check_run(r) for r in runs]}
            return self.respond(gh.ReposOwnerRepoCommitsRefCheckRunsGetResponse200, body)
        if method == "POST" and rest == "check-runs":
            if self.auth_kind != "installation":
                return self.error(403, "You must authenticate via a GitHub App.")
            raw, problems = validate(CHECK_CREATE, self.body_bytes())
            if problems:
                return self.invalid("CheckRun", problems)
            annotations = (raw.get("output") or {}).get("annotations") or []
            if len(annotations) > 50:
                return self.invalid("CheckRun", [f"{len(annotations)} annotations: at most 50 per request"])
            with STATE.lock:
                run = {"id": STATE.new_id(), "repo": repo, "name": raw["name"], "head_sha": raw["head_sha"],
                       "status": raw.get("status", "queued"), "conclusion": raw.get("conclusion"),
                       "output": raw.get("output") or {}, "annotations": annotations, "updates": 0,
                       "started_at": now(), "completed_at": None}
                STATE.check_runs.append(run)
            return self.respond(gh.CheckRun, self.check_run(run), 201)
        if (mm := re.fullmatch(r"check-runs/(\d+)(/annotations)?", rest)):
            run = next((r for r in STATE.check_runs if r["id"] == int(mm.group(1)) and r["repo"] == repo), None)
            if run is None:
                return self.error(404, "Not Found")
            if method == "GET" and mm.group(2):
                return self.answer(200, self.page([
                    {"path": a["path"], "start_line": a["start_line"], "end_line": a["end_line"],
                     "start_column": None, "end_column": None, "annotation_level": a["annotation_level"],
                     "title": a.get("title"), "message": a["message"], "raw_details": None,
                     "blob_href": f"{HOST}/{repo}/blob/{run['head_sha']}/{a['path']}"} for a in run["annotations"]]))
            if method == "PATCH" and not mm.group(2):
                if self.auth_kind != "installation":
                    return self.error(403, "You must authenticate via a GitHub App.")
                raw, problems = validate(CHECK_UPDATE, self.body_bytes())
                if problems:
                    return self.invalid("CheckRun", problems)
                annotations = (raw.get("output") or {}).get("annotations") or []
                if len(annotations) > 50:
                    return self.invalid("CheckRun", [f"{len(annotations)} annotations: at most 50 per request"])
                with STATE.lock:
                    run["annotations"] += annotations
                    run["updates"] += 1
                    if raw.get("output"):
                        run["output"] = {k: v for k, v in raw["output"].items() if k != "annotations"}
                    if raw.get("conclusion"):
                        run["status"], run["conclusion"], run["completed_at"] = "completed", raw["conclusion"], now()
                    elif raw.get("status"):
                        run["status"] = raw["status"]
                return self.respond(gh.CheckRun, self.check_run(run))
        if method == "POST" and (mm := re.fullmatch(r"statuses/([0-9a-f]{40})", rest)):
            raw, problems = validate([gh.ReposOwnerRepoStatusesShaPostBody], self.body_bytes())
            if problems:
                return self.invalid("Status", problems)
            with STATE.lock:
                status = {"id": STATE.new_id(), "repo": repo, "sha": mm.group(1), **raw, "created_at": now()}
                STATE.statuses.append(status)
            return self.respond(gh.Status, {
                "url": f"{API}/repos/{repo}/statuses/{status['sha']}", "avatar_url": None, "id": status["id"],
                "node_id": f"SC_{status['id']}", "state": raw["state"], "description": raw.get("description"),
                "target_url": raw.get("target_url"), "context": raw.get("context", "default"),
                "created_at": status["created_at"], "updated_at": status["created_at"], "creator": user()}, 201)
        if (mm := re.fullmatch(r"issues/(\d+)/comments", rest)):
            number = int(mm.group(1))
            if method == "GET":
                return self.answer(200, self.page([self.comment(c) for c in STATE.comments
                                                   if c["repo"] == repo and c["number"] == number]))
            if method == "POST":
                raw, problems = validate([gh.ReposOwnerRepoIssuesIssueNumberCommentsPostBody], self.body_bytes())
                if problems:
                    return self.invalid("IssueComment", problems)
                with STATE.lock:
                    comment = {"id": STATE.new_id(), "repo": repo, "number": number, "body": raw["body"],
                               "created_at": now(), "updated_at": now(), "edits": 0}
                    STATE.comments.append(comment)
                return self.respond(gh.IssueComment, self.comment(comment), 201)
        if method == "PATCH" and (mm := re.fullmatch(r"issues/comments/(\d+)", rest)):
            comment = next((c for c in STATE.comments if c["id"] == int(mm.group(1)) and c["repo"] == repo), None)
            if comment is None:
                return self.error(404, "Not Found")
            raw, problems = validate([gh.ReposOwnerRepoIssuesCommentsCommentIdPatchBody], self.body_bytes())
            if problems:
                return self.invalid("IssueComment", problems)
            with STATE.lock:
                comment["body"], comment["updated_at"] = raw["body"], now()
                comment["edits"] += 1
            return self.respond(gh.IssueComment, self.comment(comment))
        if (mm := re.fullmatch(r"pulls/(\d+)/reviews", rest)):
            number = int(mm.group(1))
            if method == "GET":
                return self.answer(200, self.page([self.review(r) for r in STATE.reviews
                                                   if r["repo"] == repo and r["number"] == number]))
            if method == "POST":
                raw, problems = validate([gh.ReposOwnerRepoPullsPullNumberReviewsPostBody], self.body_bytes())
                if problems:
                    return self.invalid("PullRequestReview", problems)
                pull = STATE.pulls.get((repo, number))
                if pull is None:
                    return self.error(404, "Not Found")
                bad_side = [c for c in raw.get("comments", []) if c.get("side", "RIGHT") not in ("LEFT", "RIGHT")]
                if bad_side:
                    return self.invalid("PullRequestReview", [f"side {c.get('side')!r}" for c in bad_side])
                if raw.get("event") in ("REQUEST_CHANGES", "COMMENT") and not raw.get("body"):
                    return self.error(422, "Unprocessable Entity", ["Body is required for this event"])
                valid = diff_lines(pull["diff"])
                if raw.get("commit_id") == pull["head_sha"]:
                    for c in raw.get("comments", []):
                        if (c["path"], c.get("side", "RIGHT"), c.get("line")) not in valid:
                            return self.error(422, "Unprocessable Entity", ["Line could not be resolved"])
                with STATE.lock:
                    review = {"id": STATE.new_id(), "repo": repo, "number": number, "body": raw.get("body", ""),
                              "event": raw.get("event", "PENDING"), "commit_id": raw.get("commit_id"),
                              "comments": raw.get("comments", []), "submitted_at": now()}
                    STATE.reviews.append(review)
                return self.respond(gh.PullRequestReview, self.review(review))
        self.error(404, "Not Found")

    def check_run(self, run):
        return {"id": run["id"], "head_sha": run["head_sha"], "node_id": f"CR_{run['id']}", "external_id": None,
                "url": f"{API}/repos/{run['repo']}/check-runs/{run['id']}",
                "html_url": f"{HOST}/{run['repo']}/runs/{run['id']}", "details_url": None,
                "status": run["status"], "conclusion": run["conclusion"], "started_at": run["started_at"],
                "completed_at": run["completed_at"],
                "output": {"title": run["output"].get("title"), "summary": run["output"].get("summary"),
                           "text": None, "annotations_count": len(run["annotations"]),
                           "annotations_url": f"{API}/repos/{run['repo']}/check-runs/{run['id']}/annotations"},
                "name": run["name"], "check_suite": {"id": 7}, "app": None, "pull_requests": []}

    def comment(self, c):
        return {"id": c["id"], "node_id": f"IC_{c['id']}", "url": f"{API}/repos/{c['repo']}/issues/comments/{c['id']}",
                "html_url": f"{HOST}/{c['repo']}/pull/{c['number']}#issuecomment-{c['id']}", "body": c["body"],
                "user": user(), "created_at": c["created_at"], "updated_at": c["updated_at"],
                "issue_url": f"{API}/repos/{c['repo']}/issues/{c['number']}", "author_association": "NONE"}

    def review(self, r):
        url = f"{HOST}/{r['repo']}/pull/{r['number']}"
        state = {"COMMENT": "COMMENTED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "APPROVE": "APPROVED"}
        return {"id": r["id"], "node_id": f"PRR_{r['id']}", "user": user(), "body": r["body"],
                "state": state.get(r["event"], "PENDING"), "html_url": f"{url}#pullrequestreview-{r['id']}",
                "pull_request_url": f"{API}/repos/{r['repo']}/pulls/{r['number']}",
                "_links": {"html": {"href": url}, "pull_request": {"href": url}},
                "submitted_at": r["submitted_at"], "commit_id": r["commit_id"], "author_association": "NONE"}


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--token")
    parser.add_argument("--app-id")
    parser.add_argument("--app-public-key")
    parser.add_argument("--port", type=int, default=0)
    ARGS = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
