#!/usr/bin/env python3
"""A stand-in for an OpenAI-compatible chat-completions endpoint, for AgentQueue's ModelAgents tests.

Usage: fake_llm.py SCRIPT.json LOG.jsonl

SCRIPT.json holds {"responses": [...]}. Each POST .../chat/completions takes the first response that is not used
up and whose optional "when" string occurs in the request body; a response is used up after one request unless it
has "repeat": true. A response may set:
  "status"   HTTP status (default 200)
  "headers"  extra response headers, such as {"Retry-After": "1"}
  "retry_after_in"  answer with a Retry-After HTTP-date this many seconds from the moment of answering (rounded up
             to a whole second, as HTTP-dates are); later requests' log entries carry it as "named_retry_at"
  "content"  the assistant message's text, wrapped in a chat completion with "usage" (default 100 prompt and
             20 completion tokens)
  "body"     the raw response body instead of a chat completion
  "delay"    seconds to wait before answering
  "trickle"  seconds over which to send the body a few bytes at a time, after the headers
When no response fits, the answer is HTTP 500 "no scripted response".

Every request is appended to LOG.jsonl before it is answered, as {"n", "method", "path", "headers", "body",
"inflight", "at", "named_retry_at"} ("inflight" counts the requests being handled at that moment, this one included;
"at" is when it arrived, in seconds since the epoch).
Prints the port it listens on, then serves until killed.
"""
import email.utils
import http.server
import json
import math
import sys
import threading
import time

SCRIPT_PATH = sys.argv[1]
LOG_PATH = sys.argv[2]

with open(SCRIPT_PATH) as script_file:
    RESPONSES = json.load(script_file)["responses"]
USED = [False] * len(RESPONSES)
LOCK = threading.Lock()
STATE = {"n": 0, "inflight": 0, "named_retry_at": None}


def pick(body):
    with LOCK:
        for index, response in enumerate(RESPONSES):
            if USED[index]:
                continue
            if "when" in response and response["when"] not in body:
                continue
            if not response.get("repeat"):
                USED[index] = True
            return response
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        with LOCK:
            STATE["n"] += 1
            STATE["inflight"] += 1
            entry = {
                "n": STATE["n"],
                "method": "POST",
                "path": self.path,
                "headers": {name: value for name, value in self.headers.items()},
                "body": body,
                "inflight": STATE["inflight"],
                "at": time.time(),
                "named_retry_at": STATE["named_retry_at"],
            }
            with open(LOG_PATH, "a") as log:
                log.write(json.dumps(entry) + "\n")
        try:
            self.answer(body)
        finally:
            with LOCK:
                STATE["inflight"] -= 1

    def answer(self, body):
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self.reply(404, {}, b'{"error": {"message": "not found"}}', 0)
            return
        response = pick(body)
        if response is None:
            self.reply(500, {}, b'{"error": {"message": "no scripted response"}}', 0)
            return
        time.sleep(response.get("delay", 0))
        if "body" in response:
            payload = response["body"].encode()
        elif "content" in response:
            payload = json.dumps({
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": "fake",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": response["content"]},
                    "finish_reason": response.get("finish_reason", "stop"),
                }],
                "usage": response.get("usage", {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}),
            }).encode()
        else:
            payload = b'{"error": {"message": "scripted failure"}}'
        headers = dict(response.get("headers", {}))
        if "retry_after_in" in response:
            target = math.ceil(time.time() + response["retry_after_in"])
            with LOCK:
                STATE["named_retry_at"] = target
            headers["Retry-After"] = email.utils.formatdate(target, usegmt=True)
        self.reply(response.get("status", 200), headers, payload, response.get("trickle", 0))

    def reply(self, status, headers, payload, trickle):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if trickle > 0:
            pieces = max(1, min(len(payload), 20))
            size = (len(payload) + pieces - 1) // pieces
            for start in range(0, len(payload), size):
                self.wfile.write(payload[start:start + size])
                self.wfile.flush()
                time.sleep(trickle / pieces)
        else:
            self.wfile.write(payload)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
