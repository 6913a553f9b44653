#!/usr/bin/env bash
# Checks docker-compose.yml and the Dockerfile without a Docker engine:
#   1. docker-compose.yml validates against the Compose Specification's JSON schema
#      (scripts/schemas/compose-spec.json, origin in scripts/schemas/README.md) with Python jsonschema;
#   2. the file has the shape the README promises: PostgreSQL 16 with a health check and a named volume,
#      a one-shot `queuectl migrate` after postgres is healthy, a `worker` that starts after the migration
#      completed and can scale (no container_name, no published ports, a stop grace period longer than
#      the worker's own);
#   3. the Dockerfile builds with the very command the README states (`swift build -c release
#      --static-swift-stdlib`) and has the runtime stage the worker needs.
#
# Usage: scripts/check-compose.sh            (README, Dockerfile and compose file from the repository root;
#        COMPOSE_FILE=…, DOCKERFILE=…, README=… override the paths, e.g. to test the checks themselves)
# Installs jsonschema and PyYAML with pip when missing. Exits non-zero on any failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMPOSE_FILE=${COMPOSE_FILE:-$ROOT/docker-compose.yml}
DOCKERFILE=${DOCKERFILE:-$ROOT/Dockerfile}
README=${README:-$ROOT/README.md}
SCHEMA=$ROOT/scripts/schemas/compose-spec.json

command -v python3 >/dev/null || { echo "check-compose: missing python3" >&2; exit 1; }
if ! python3 -c 'import jsonschema, yaml' 2>/dev/null; then
    echo "check-compose: installing jsonschema and PyYAML" >&2
    python3 -m pip install --quiet 'jsonschema>=4' 'PyYAML>=6' >&2
fi

python3 - "$SCHEMA" "$COMPOSE_FILE" "$DOCKERFILE" "$README" <<'PY'
import json, re, sys

import jsonschema
import yaml

schema_path, compose_path, dockerfile_path, readme_path = sys.argv[1:5]
problems = []

def fail(message):
    problems.append(message)

# ---- 1. the schema ------------------------------------------------------------------------------------
with open(schema_path) as f:
    schema = json.load(f)
with open(compose_path) as f:
    compose = yaml.safe_load(f)  # resolves the file's YAML anchors and merge keys as Compose does
# The file names draft 2019-09 by a URI jsonschema does not know (http, trailing '#'): name the draft here.
validator_class = jsonschema.Draft201909Validator
validator_class.check_schema(schema)
validator = validator_class(schema)
for error in sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path)):
    where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    fail(f"schema: {where}: {error.message}")

# ---- 2. the shape -------------------------------------------------------------------------------------
services = compose.get("services") or {}
volumes = compose.get("volumes") or {}

def service(name):
    if name not in services:
        fail(f"no service {name!r}")
        return {}
    return services[name] or {}

def depends(svc, name, on, condition):
    got = ((svc.get("depends_on") or {}) if isinstance(svc.get("depends_on"), dict) else {}).get(on) or {}
    if got.get("condition") != condition:
        fail(f"{name} must depend on {on} with condition {condition}")

def seconds(value):
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", str(value))
    if not match or not any(match.groups()):
        return None
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)

postgres = service("postgres")
if not str(postgres.get("image", "")).startswith("postgres:16"):
    fail("postgres must run a postgres:16 image")
if not (postgres.get("healthcheck") or {}).get("test"):
    fail("postgres needs a healthcheck")
named = [v.split(":")[0] for v in postgres.get("volumes") or [] if isinstance(v, str)]
if not any(v in volumes for v in named):
    fail("postgres must keep its data in a named volume declared under volumes:")

migrate = service("migrate")
command = migrate.get("command")
command = command if isinstance(command, list) else str(command or "").split()
if command[:2] != ["queuectl", "migrate"]:
    fail(f"migrate must run `queuectl migrate`, not {command}")
if migrate.get("restart", "no") != "no":
    fail("migrate is one-shot: restart must be \"no\"")
depends(migrate, "migrate", "postgres", "service_healthy")

worker = service("worker")
depends(worker, "worker", "migrate", "service_completed_successfully")
for key in ("container_name", "ports"):
    if key in worker:
        fail(f"worker must not set {key}: it would stop `docker compose up --scale worker=N`")
environment = worker.get("environment") or {}
if isinstance(environment, list):
    environment = dict(item.split("=", 1) for item in environment)
if "DATABASE_URL" not in environment:
    fail("worker needs DATABASE_URL")
grace_setting = str(environment.get("WORKER_SHUTDOWN_GRACE_SECONDS", "30"))
grace = int(re.sub(r"^\$\{[A-Z_]+:-(\d+)\}$", r"\1", grace_setting))
stop = seconds(worker.get("stop_grace_period", "10s"))
if stop is None or stop <= grace:
    fail(f"worker stop_grace_period ({worker.get('stop_grace_period', '10s')}) must exceed its shutdown grace ({grace}s)")
for name in ("migrate", "worker"):
    build = services.get(name, {}).get("build")
    context = build.get("context") if isinstance(build, dict) else build
    if context != ".":
        fail(f"{name} must build from the repository's Dockerfile (build context '.')")

# ---- 3. Dockerfile and README ---------------------------------------------------------------------------
README_BUILD = "swift build -c release --static-swift-stdlib"
try:
    with open(readme_path) as f:
        readme_lines = [re.sub(r"^\s*(?:\$\s+)?", "", line.rstrip()) for line in f]
except FileNotFoundError:
    readme_lines = None
    fail(f"{readme_path} does not exist")
if readme_lines is not None:
    stated = [line for line in readme_lines if line.startswith("swift build -c release")]
    if README_BUILD not in stated:
        fail(f"the README must state the release build as the line `{README_BUILD}`")
    # Any other release build line in the README would make "the README's build command" ambiguous.
    for line in stated:
        if line != README_BUILD:
            fail(f"the README states another release build: `{line}`")

with open(dockerfile_path) as f:
    text = f.read()
logical = re.sub(r"\\\n", " ", text)  # join continuation lines
instructions = [line.strip() for line in logical.splitlines() if line.strip() and not line.lstrip().startswith("#")]
stages = []
for instruction in instructions:
    keyword, _, rest = instruction.partition(" ")
    if keyword.upper() == "FROM":
        stages.append({"from": rest.split()[0], "lines": []})
    elif stages:
        stages[-1]["lines"].append((keyword.upper(), rest.strip()))
if len(stages) < 2:
    fail("the Dockerfile must have a build stage and a runtime stage")
else:
    build, runtime = stages[0], stages[-1]
    if not re.fullmatch(r"swift:(\$\{SWIFT_VERSION\}|6[.\d]*)(-bookworm)?", build["from"]):
        fail(f"build stage must use the official swift 6.x image, not {build['from']}")
    version = re.search(r"^ARG SWIFT_VERSION=(\S+)", text, re.M)
    if "${SWIFT_VERSION}" in build["from"] and not (version and version.group(1).startswith("6")):
        fail("ARG SWIFT_VERSION must default to a 6.x release")
    runs = [rest for keyword, rest in build["lines"] if keyword == "RUN"]
    builds = [command.strip() for run in runs for command in re.split(r"&&|;", run) if "swift build" in command]
    if README_BUILD not in builds:
        fail(f"the Dockerfile's build stage must run `{README_BUILD}` (the README's build command)")
    for command in builds:
        if command != README_BUILD:
            fail(f"the Dockerfile builds with `{command}`, not the README's `{README_BUILD}`")
    build_runs = " ".join(runs)
    for package in ("libpq-dev", "libsystemd-dev"):
        if package not in build_runs:
            fail(f"the build stage must install {package}")
    if not runtime["from"].startswith("debian:bookworm-slim"):
        fail(f"the runtime stage must be debian:bookworm-slim, not {runtime['from']}")
    runtime_runs = " ".join(rest for keyword, rest in runtime["lines"] if keyword == "RUN")
    for package in ("libpq5", "libsystemd0", "libcurl4", "git", "ca-certificates"):
        if not re.search(rf"(?<![\w.-]){re.escape(package)}(?![\w.-])", runtime_runs):
            fail(f"the runtime stage must install {package}")
    users = [rest for keyword, rest in runtime["lines"] if keyword == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        fail("the runtime stage must switch to a non-root USER")

if problems:
    print("check-compose: FAILED", file=sys.stderr)
    for problem in problems:
        print("  - " + problem, file=sys.stderr)
    sys.exit(1)
print(f"check-compose: OK ({len(services)} services valid against the Compose Specification schema; "
      f"Dockerfile builds with `{README_BUILD}` as the README says)")
PY
