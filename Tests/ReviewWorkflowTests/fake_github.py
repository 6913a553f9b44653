#!/usr/bin/env python3
"""A stand-in for the GitHub REST API, for AgentQueue's tests.

Serves GET /repos/OWNER/NAME/pulls/N: the pull request as JSON, or its diff when Accept asks for
application/vnd.github.diff. Pull request 500 always answers HTTP 500; pull request 404 answers 404.
Every request's Authorization header is appended to the file named by the second argument.
Prints the port it listens on, then serves until killed.
"""
import http.server
import json
import sys

DIFF_PATH = sys.argv[1]
LOG_PATH = sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(LOG_PATH, "a") as log:
            log.write((self.headers.get("Authorization") or "-") + "\n")
        parts = self.path.strip("/").split("/")
        if len(parts) != 5 or parts[0] != "repos" or parts[3] != "pulls":
            self.send_error(404)
            return
        number = int(parts[4])
        if number == 500:
            self.send_error(500, "boom")
            return
        if number == 404:
            self.send_error(404)
            return
        if "diff" in (self.headers.get("Accept") or ""):
            with open(DIFF_PATH, "rb") as diff:
                body = diff.read()
            content_type = "text/plain; charset=utf-8"
        else:
            body = json.dumps({
                "number": number,
                "title": "Speed up the importer",
                "user": {"login": "octocat"},
                "head": {"sha": "0123456789abcdef0123456789abcdef01234567"},
            }).encode()
            content_type = "application/json"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
