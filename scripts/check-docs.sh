#!/usr/bin/env bash
# Checks that the documentation tells the truth about the code as it is:
#   1. every relative link in README.md and docs/**/*.md points at a file that exists (and, with a #fragment into
#      a Markdown file, at a heading that exists there);
#   2. every example output marked in them is what the binaries print today.
#
# Usage: scripts/check-docs.sh [--update] BIN_DIR
#   BIN_DIR     where queuectl and queue-worker are (e.g. .build/debug, or `swift build --show-bin-path`)
#   --update    rewrite the marked blocks with the fresh output instead of comparing (review the diff, then commit)
#   DATABASE_URL  an empty PostgreSQL server on which this script may create and drop databases (aq_docs_*); as a
#               superuser, `queuectl migrate` creates the three agentqueue_* roles there. Without it, only the
#               examples that need no database (and the links) are checked, and the script says how many it skipped.
#
# Marking an example. An HTML comment on the line before a fenced block, then the block: lines starting with "$ "
# are commands (a command ending with "\" continues on the next line), every other line is the output expected from
# the command above it (standard output and standard error as they interleave, after masking; see below).
#
#     <!-- example -->                   needs no database: runs with DATABASE_URL unset
#     <!-- example: demo-database -->    runs against the demo database (below), with DATABASE_URL set to it
#     <!-- example: empty-database -->   runs against a new, empty database of its own, with DATABASE_URL set to it
#
# Each block runs as one bash script from the repository root, in a clean environment (PATH = BIN_DIR first, then
# the directory of the python3 running this script, then the system's; HOME a temporary directory; TZ=UTC; LANG=C.UTF-8), its commands in order, so `cd`, variables and
# `echo $?` carry over from one command to the next. Write scratch files to /tmp, never into the repository.
#
# The demo database is what scripts/demo.sh leaves behind, plus a worker: a new database, `queuectl migrate`, one
# `queue-worker --instance 1` (WORKER_QUEUES=default, WORKER_POLL_INTERVAL_MS=100), and the three sample reviews of
# scripts/demo/*.diff enqueued as demo.sh enqueues them (--repo demo/app --pr 1..3 --author demo --force --wait).
# It is shared by every demo-database block, in document order: README.md first, then docs/*.md by name. So task
# and review ids are deterministic and are NOT masked; an example that enqueues work changes what later examples
# print (run --update after adding one). Tasks enqueued without --wait go to another queue (e.g. --queue bulk),
# which the worker does not serve: otherwise what later commands print would depend on the worker's timing.
#
# Masks. Both the expected and the fresh output are normalised the same way before they are compared, line by line:
#   - the port of a postgresql:// URL                                     -> <port>
#   - timestamps (2026-12-04T19:00:24Z, 2026-12-04 19:00:24Z, with fractions or offsets) -> <time>; dates -> <date>
#   - worker ids (host/instance/boot UUID) -> <worker>; any other UUID -> <uuid>
#   - durations and ages: a number with a unit, or several run together (6.3ms, +1.3ms, 4s, 1m40s, 1d02h) -> <duration>
#   - in a worker row of `queuectl workers` (a line starting with a worker id): the DONE and FAILED counts (the
#     worker writes them every 5 s) and the PID (the number before the version at the end of the row) -> <n>
#   - the bars of a checkpoint TIMELINE (|███   |) -> |<timeline>|
#   - WORKER_AGENT_THREADS=N (one per core by default) -> WORKER_AGENT_THREADS=<cores>
#   - runs of spaces -> one space (masked values change column widths); trailing spaces and trailing blank lines go
#   - the rows of the "checkpoints" table of `queuectl show` are compared as a sorted list: several checkpoints
#     written by one statement share a timestamp, and which statement wrote which depends on timing.
# Everything else must match exactly. (So a run that crosses midnight UTC, or takes more than a minute between the
# demo reviews and `queuectl stats`, sees other day rows and DONE/1M counts: run it again.)
#
# Runs in about 10 seconds (most of it the demo database's worker and reviews). Leaves nothing behind: the databases
# it created are dropped and the worker is stopped, also on failure.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$AQ_ROOT"

update=0
if [ "${1:-}" = "--update" ]; then update=1; shift; fi
[ $# -eq 1 ] || die "usage: scripts/check-docs.sh [--update] BIN_DIR"
BIN_DIR=$(cd "$1" && pwd) || die "check-docs: no directory $1"
for binary in queuectl queue-worker; do
    [ -x "$BIN_DIR/$binary" ] || die "check-docs: no $binary in $BIN_DIR (run swift build first)"
done
# Tools the documented commands use.
command -v jq >/dev/null 2>&1 || apt_install jq
if [ -n "${DATABASE_URL:-}" ] && ! command -v psql >/dev/null 2>&1; then apt_install postgresql-client; fi

exec python3 - "$AQ_ROOT" "$BIN_DIR" "$update" <<'PY'
import difflib, os, re, shutil, signal, subprocess, sys, tempfile, time, urllib.parse

ROOT, BIN_DIR, UPDATE = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
ADMIN_URL = os.environ.get("DATABASE_URL", "")
FENCE = re.compile(r"^(\s*)(```+|~~~+)(.*)$")
MARKER = re.compile(r"^\s*<!--\s*example(?::\s*([a-z-]+))?\s*-->\s*$")
MODES = {None: "none", "demo-database": "demo", "empty-database": "empty"}
started = time.monotonic()


def fail(message):
    print(f"check-docs: {message}", file=sys.stderr)
    sys.exit(1)


def documents():
    paths = ["README.md"]
    for directory, _, files in sorted(os.walk("docs")):
        paths += sorted(os.path.join(directory, name) for name in files if name.endswith(".md"))
    return paths


# ---- 1. links ----------------------------------------------------------------------------------------------------

def prose_lines(text):
    """(line number, line) outside fenced code blocks, with inline code spans removed."""
    fence = None
    for number, line in enumerate(text.split("\n"), 1):
        match = FENCE.match(line)
        if match:
            marker = match.group(2)
            if fence is None:
                fence = marker
                continue
            if marker.startswith(fence) and not match.group(3).strip():
                fence = None
                continue
        if fence is None:
            yield number, re.sub(r"`+[^`]*`+", "", line)


def slug(heading):
    text = re.sub(r"<[^>]+>", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    seen, result = {}, set()
    with open(path, encoding="utf-8") as f:
        for _, line in prose_lines(f.read().replace("`", "")):
            match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if match:
                base = slug(match.group(1))
                count = seen.get(base, 0)
                seen[base] = count + 1
                result.add(base if count == 0 else f"{base}-{count}")
    return result


LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")


def check_links(paths):
    problems, count, anchor_cache = [], 0, {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for number, line in prose_lines(text):
            targets = [m.group(1) for m in LINK.finditer(line)]
            reference = REFERENCE.match(line)
            if reference:
                targets.append(reference.group(1))
            for target in targets:
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
                    continue
                count += 1
                file_part, _, fragment = target.partition("#")
                resolved = os.path.normpath(os.path.join(os.path.dirname(path), urllib.parse.unquote(file_part))) \
                    if file_part else path
                if not os.path.exists(resolved):
                    problems.append(f"{path}:{number}: link to {target}: {resolved} does not exist")
                    continue
                if fragment and resolved.endswith(".md"):
                    if resolved not in anchor_cache:
                        anchor_cache[resolved] = anchors(resolved)
                    if fragment not in anchor_cache[resolved]:
                        problems.append(f"{path}:{number}: link to {target}: {resolved} has no heading #{fragment}")
    return problems, count


# ---- 2. examples -------------------------------------------------------------------------------------------------

class Command:
    def __init__(self, lines):
        self.lines = lines          # as written, without "$ "
        self.expected = []          # output lines as written
        self.blank_after = False    # a blank line separated it from the next command


class Block:
    def __init__(self, path, line, mode, start, end, commands):
        self.path, self.line, self.mode = path, line, mode
        self.start, self.end = start, end   # indices of the block's content lines in the file (end exclusive)
        self.commands = commands
        self.actual = []


def parse_examples(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    blocks, index = [], 0
    while index < len(lines):
        marker = MARKER.match(lines[index])
        if not marker:
            index += 1
            continue
        if marker.group(1) not in MODES:
            fail(f"{path}:{index + 1}: unknown example kind '{marker.group(1)}' (use {', '.join(m for m in MODES if m)})")
        opening = index + 1
        fence = FENCE.match(lines[opening]) if opening < len(lines) else None
        if not fence:
            fail(f"{path}:{index + 1}: an example marker must be followed by a fenced block on the next line")
        close = opening + 1
        while close < len(lines) and not (lines[close].strip().startswith(fence.group(2)) and
                                          not lines[close].strip()[len(fence.group(2)):].strip()):
            close += 1
        if close >= len(lines):
            fail(f"{path}:{opening + 1}: the fenced block is never closed")
        commands, current, continuing = [], None, False
        for line in lines[opening + 1:close]:
            if continuing:
                current.lines.append(line)
                continuing = line.endswith("\\")
            elif line.startswith("$ "):
                current = Command([line[2:]])
                commands.append(current)
                continuing = line.endswith("\\")
            elif current is None:
                if line.strip():
                    fail(f"{path}:{opening + 2}: an example block starts with a command line ('$ …')")
            else:
                current.expected.append(line)
        for command in commands:
            while command.expected and not command.expected[-1].strip():
                command.expected.pop()
                command.blank_after = True
        if not commands:
            fail(f"{path}:{opening + 1}: an example block without a command ('$ …')")
        blocks.append(Block(path, opening + 1, MODES[marker.group(1)], opening + 1, close, commands))
        index = close + 1
    return blocks


def database_url(name):
    """ADMIN_URL with its database replaced by `name`."""
    if re.match(r"^postgres(ql)?://", ADMIN_URL):
        parts = urllib.parse.urlsplit(ADMIN_URL)
        return urllib.parse.urlunsplit(parts._replace(path="/" + name))
    return f"{ADMIN_URL} dbname={name}"  # a libpq keyword string: the last dbname wins


def psql(sql):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", ADMIN_URL, "-c", sql], check=True,
                   stdout=subprocess.DEVNULL, env=dict(os.environ, PGOPTIONS="-c client_min_messages=warning"))


HOME = tempfile.mkdtemp(prefix="check-docs.")
# The Python that runs this script comes next (it has the test tools, such as githubkit for the fake GitHub).
BASE_ENV = {"PATH": f"{BIN_DIR}:{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin", "HOME": HOME, "TZ": "UTC", "LANG": "C.UTF-8",
            "TERM": "dumb"}
created, worker = [], None


def cleanup():
    if worker and worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    for name in created:
        try:
            psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except subprocess.CalledProcessError:
            print(f"check-docs: could not drop database {name}", file=sys.stderr)
    shutil.rmtree(HOME, ignore_errors=True)


def new_database(name):
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name}")
    created.append(name)
    return database_url(name)


def run(arguments, env):
    return subprocess.run(arguments, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True)


def demo_database():
    global worker
    url = new_database("aq_docs_demo")
    env = dict(BASE_ENV, DATABASE_URL=url)
    result = run(["queuectl", "migrate"], env)
    if result.returncode != 0:
        fail(f"queuectl migrate failed on the demo database:\n{result.stderr}")
    log = open(os.path.join(HOME, "worker.log"), "w")
    worker = subprocess.Popen(
        [os.path.join(BIN_DIR, "queue-worker"), "--instance", "1"], cwd=ROOT, stdin=subprocess.DEVNULL,
        stdout=log, stderr=log,
        env=dict(env, WORKER_QUEUES="default", WORKER_POLL_INTERVAL_MS="100", LOG_FORMAT="logfmt", LOG_LEVEL="notice"))
    demos = sorted(name for name in os.listdir(os.path.join(ROOT, "scripts/demo")) if name.endswith(".diff"))
    for number, name in enumerate(demos, 1):
        result = run(["queuectl", "enqueue", "review", "--diff", f"scripts/demo/{name}", "--repo", "demo/app",
                      "--pr", str(number), "--title", name[:-len(".diff")], "--author", "demo", "--force", "--wait",
                      "--timeout", "1m"], env)
        if result.returncode not in (0, 5, 6):
            log.flush()
            fail(f"the demo review of {name} did not finish (exit {result.returncode}):\n{result.stderr}\n"
                 f"worker log:\n{open(log.name).read()[-3000:]}")
    return url


def run_block(block, url):
    work = tempfile.mkdtemp(prefix="block.", dir=HOME)
    script = [f"cd {shell_quote(ROOT)}"]
    for number, command in enumerate(block.commands):
        script.append("{ " + "\n".join(command.lines))
        script.append(f"}} >{work}/{number} 2>&1")
        script.append("__aq_status=$?; (exit $__aq_status)")
    env = dict(BASE_ENV)
    if url:
        env["DATABASE_URL"] = url
    try:
        subprocess.run(["bash", "--noprofile", "--norc", "-c", "\n".join(script)], env=env, cwd=ROOT,
                       stdin=subprocess.DEVNULL, timeout=120)
    except subprocess.TimeoutExpired:
        fail(f"{block.path}:{block.line}: the example's commands did not finish within 120 s")
    for number in range(len(block.commands)):
        try:
            with open(f"{work}/{number}", encoding="utf-8", errors="replace") as f:
                lines = f.read().split("\n")
        except FileNotFoundError:  # an earlier command ended the script
            lines = []
        while lines and not lines[-1].strip():
            lines.pop()
        block.actual.append(lines)  # as printed: --update writes them verbatim; comparing ignores trailing spaces


def shell_quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


# ---- masks --------------------------------------------------------------------------------------------------------

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
MASKS = [
    (re.compile(r"(postgres(?:ql)?://[^\s/:@]*(?::[^\s/@]*)?@?[^\s/:]*):\d+"), r"\1:<port>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"), "<time>"),
    (re.compile(r"(?<![\w-])\d{4}-\d{2}-\d{2}(?![\w-])"), "<date>"),
    (re.compile(r"[^\s/\"'`|]+/[^\s/\"'`|]+/" + UUID), "<worker>"),
    (re.compile(UUID), "<uuid>"),
    (re.compile(r"(?<![\w.])[+]?(?:\d+(?:\.\d+)?(?:ns|µs|us|ms|s|m|h|d|w))+(?![\w])"), "<duration>"),
    (re.compile(r"^(\s*<worker>\s+\S+\s+\d+/\d+\s+)[\d,]+(\s+)[\d,]+"), r"\1<n>\2<n>"),
    (re.compile(r"^(\s*<worker>\s.*\s)\d+(\s+\d+\.\d+\.\d+\s*)$"), r"\1<n>\2"),
    (re.compile(r"\|[ █▏▎▍▌▋▊▉]+\|"), "|<timeline>|"),
    (re.compile(r"WORKER_AGENT_THREADS=\d+"), "WORKER_AGENT_THREADS=<cores>"),
]


def normalise(lines):
    out = []
    for line in lines:
        for pattern, replacement in MASKS:
            line = pattern.sub(replacement, line)
        out.append(re.sub(r" {2,}", " ", line).rstrip())
    while out and not out[-1]:
        out.pop()
    # The checkpoint table of `queuectl show`: rows in a sorted order (see the header).
    index = 0
    while index < len(out):
        if out[index].strip() == "checkpoints" and index + 1 < len(out) and "NODE" in out[index + 1]:
            end = index + 2
            while end < len(out) and out[end].strip():
                end += 1
            out[index + 2:end] = sorted(out[index + 2:end])
            index = end
        index += 1
    return out


# ---- main ---------------------------------------------------------------------------------------------------------

paths = documents()
link_problems, link_count = check_links(paths)
blocks = [block for path in paths for block in parse_examples(path)]
skipped = [block for block in blocks if block.mode != "none" and not ADMIN_URL]
runnable = [block for block in blocks if block not in skipped]

try:
    demo_url = demo_database() if any(block.mode == "demo" for block in runnable) else None
    empty_number = 0
    for block in runnable:
        url = None
        if block.mode == "demo":
            url = demo_url
        elif block.mode == "empty":
            empty_number += 1
            url = new_database(f"aq_docs_empty_{empty_number}")
        run_block(block, url)
finally:
    cleanup()

mismatches = []
for block in runnable:
    for command, actual in zip(block.commands, block.actual):
        expected, fresh = normalise(command.expected), normalise(actual)
        if expected != fresh:
            diff = "\n".join(difflib.unified_diff(expected, fresh, "documented (masked)", "fresh (masked)",
                                                  lineterm="", n=2))
            mismatches.append(f"{block.path}:{block.line}: $ {' '.join(command.lines)}\n{diff}")

if UPDATE:
    by_path = {}
    for block in runnable:
        by_path.setdefault(block.path, []).append(block)
    changed = []
    for path, file_blocks in by_path.items():
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for block in sorted(file_blocks, key=lambda b: b.start, reverse=True):
            content = []
            for number, (command, actual) in enumerate(zip(block.commands, block.actual)):
                content += ["$ " + command.lines[0]] + command.lines[1:]
                content += actual
                if command.blank_after and number + 1 < len(block.commands):
                    content.append("")
            if lines[block.start:block.end] != content:
                lines[block.start:block.end] = content
                if path not in changed:
                    changed.append(path)
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
    print(f"check-docs: updated {len(runnable)} examples ({len(mismatches)} commands printed something else) in "
          f"{', '.join(changed) or 'no file'}")

elapsed = time.monotonic() - started
if link_problems:
    print("check-docs: broken links:", file=sys.stderr)
    for problem in link_problems:
        print("  " + problem, file=sys.stderr)
if mismatches and not UPDATE:
    print(f"check-docs: {len(mismatches)} example output(s) differ from what the code prints "
          f"(run scripts/check-docs.sh --update BIN_DIR to rewrite them):", file=sys.stderr)
    for mismatch in mismatches:
        print(mismatch, file=sys.stderr)
if skipped:
    print(f"check-docs: note: {len(skipped)} example(s) need a database and were skipped (DATABASE_URL is not set)",
          file=sys.stderr)
if link_problems or (mismatches and not UPDATE):
    sys.exit(1)
commands = sum(len(block.commands) for block in runnable)
print(f"check-docs: OK ({len(runnable)} examples, {commands} commands in {len(paths)} files match the code; "
      f"{link_count} relative links resolve; {elapsed:.1f}s)")
PY
