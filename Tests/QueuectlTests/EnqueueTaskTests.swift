import Foundation
import PostgresClient
import TaskQueue
import TestSupport
import Testing

@Suite("queuectl enqueue task", .serialized)
struct EnqueueTaskTests {
    @Test("--from with --progress none writes nothing to standard error, not even the summary; the ids still go out")
    func quietBatch() async throws {
        try await withTemporaryDirectory { directory in
            try await QueueFixture.with(poolSize: 2) { fixture in
                let cli = CLI(fixture: fixture)
                let file = directory.appendingPathComponent("tasks.jsonl")
                try Data("{\"kind\": \"noop\"}\n{\"kind\": \"noop\"}\n".utf8).write(to: file)
                let quiet = try await cli.run(["enqueue", "task", "--from", file.path, "--progress", "none"])
                #expect(quiet.status == 0)
                #expect(quiet.standardError.isEmpty, "\(quiet.standardError)")
                #expect(quiet.standardOutput.split(separator: "\n").count == 2)
                let told = try await cli.run(["enqueue", "task", "--from", file.path, "--progress", "lines"])
                #expect(
                    told.standardError.contains("enqueued 2 tasks from 2 lines in 1 batch"), "\(told.standardError)")
            }
        }
    }

    @Test("Ctrl-C in --wait stops waiting, not the task: queuectl says the task keeps its place and exits 130")
    func interruptedWait() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            // The real executable: only a process's own console takes over SIGINT.
            let waiter = try RunningProcess(
                "queuectl", ["enqueue", "task", "--kind", "noop", "--run-after", "1h", "--wait"],
                environment: ["DATABASE_URL": try fixture.url])
            defer { Task { await waiter.stop() } }
            var id: Int64?
            // queuectl takes over SIGINT before it stores the task: once the task exists, Ctrl-C is its to handle.
            let stored = try await eventually(timeout: .seconds(60)) {
                id = try await fixture.pool.query("SELECT id FROM tasks WHERE kind = 'noop'").single?.decode(
                    Int64.self, "id")
                return id != nil
            }
            #expect(stored, "the task was never stored: \(waiter.log)")
            let taskID = try #require(id)
            waiter.send(SIGINT)
            #expect(await waiter.waitForExit(timeout: .seconds(60)) == 130)
            #expect(
                waiter.log
                    == "queuectl: stopped waiting: task \(taskID) is still pending and keeps its place (follow it with "
                    + "`queuectl show \(taskID)`, stop it with `queuectl cancel \(taskID)`)\n",
                "\(waiter.log)")
            #expect(try await fixture.pool.run(FetchTask(id: taskID))?.state == .pending)
        }
    }

    @Test(
        "a task is stored as given: payload text, queue, priority, attempts, dedupe key, run-after on the server clock")
    func enqueueOne() async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            let payload = #"{"b": [1, 2.50, "x"], "a": {"nested": true}}"#
            let output = try await cli.run([
                "enqueue", "task", "--kind", "noop", "--payload", payload, "--queue", "bulk", "--priority", "-5",
                "--max-attempts", "7", "--dedupe-key", "k-1", "--run-after", "10m",
            ])
            // A negative priority is a value, not an option (--priority=-5 works too).
            #expect(output.status == 0, "\(output.standardError)")
            let id = try #require(Int64(output.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)))
            let record = try #require(try await fixture.pool.run(FetchTask(id: id)))
            #expect(record.kind == "noop")
            #expect(record.queue == "bulk")
            #expect(record.priority == -5)
            #expect(record.maxAttempts == 7)
            #expect(record.dedupeKey == "k-1")
            #expect(record.state == .pending)
            #expect(
                try JSONSerialization.jsonObject(with: Data(record.payload.text.utf8)) as? NSDictionary
                    == JSONSerialization.jsonObject(with: Data(payload.utf8)) as? NSDictionary)
            let delay = try await fixture.scalar(
                Double.self, "SELECT extract(epoch FROM run_after - created_at)::float8 FROM tasks WHERE id = \(id)")
            #expect(abs(delay - 600) < 5, "run_after is \(delay) s after created_at")

            // The same dedupe key while the task is pending: the same id, a note, exit 0, nothing new stored.
            let again = try await cli.run(["enqueue", "task", "--kind", "noop", "--dedupe-key", "k-1"])
            #expect(again.status == 0)
            #expect(again.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == String(id))
            #expect(again.standardError.contains("already pending or running"))
            #expect(try await cli.taskCount() == 1)

            struct Enqueued: Decodable {
                let id: Int64
                let deduplicated: Bool
                let kind: String
                let queue: String
            }
            let json = try await cli.json(Enqueued.self, ["enqueue", "task", "--kind", "noop", "--dedupe-key", "k-1"])
            #expect(json.id == id)
            #expect(json.deduplicated)
            let fresh = try await cli.json(Enqueued.self, ["enqueue", "task", "--kind", "other.kind"])
            #expect(fresh.id != id)
            #expect(!fresh.deduplicated)
            #expect(fresh.kind == "other.kind")
            #expect(fresh.queue == "default")
        }
    }

    @Test("--payload @FILE and @- read the payload from a file and from standard input; --run-after takes a time")
    func payloadFromFile() async throws {
        try await withTemporaryDirectory { directory in
            try await QueueFixture.with(poolSize: 2) { fixture in
                let cli = CLI(fixture: fixture)
                let file = directory.appendingPathComponent("payload.json")
                try #"{"from": "file"}"#.write(to: file, atomically: true, encoding: .utf8)
                let fromFile = try await cli.run(["enqueue", "task", "--kind", "noop", "--payload", "@" + file.path])
                #expect(fromFile.status == 0, "\(fromFile.standardError)")
                let fromStdin = try await cli.run(
                    [
                        "enqueue", "task", "--kind", "noop", "--payload", "@-", "--run-after",
                        "2031-05-04T10:00:00+02:00",
                    ],
                    input: #"{"from": "stdin"}"#
                )
                #expect(fromStdin.status == 0, "\(fromStdin.standardError)")
                let first = try #require(Int64(fromFile.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)))
                let second = try #require(
                    Int64(fromStdin.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)))
                #expect(try await fixture.pool.run(FetchTask(id: first))?.payload.text == #"{"from": "file"}"#)
                let record = try #require(try await fixture.pool.run(FetchTask(id: second)))
                #expect(record.payload.text == #"{"from": "stdin"}"#)
                #expect(record.runAfter == Date(timeIntervalSince1970: 1_935_648_000))  // 2031-05-04T08:00:00Z
            }
        }
    }

    @Test(
        "bad input is refused with one clear line and exit status 2, and nothing is stored",
        arguments: [
            (["--kind", "noop", "--payload", #"{"a": 1"#], "not a valid JSON object"),
            (["--kind", "noop", "--payload", "[1, 2]"], "expected a JSON object"),
            (["--kind", "noop", "--payload", #"{"a": "\u0000"}"#], "\\u0000 is not allowed"),
            (["--kind", "noop", "--payload", #"{"a": "\ud800"}"#], "high surrogate without its low surrogate"),
            (["--kind", "noop", "--payload", #"{"a": "\udc00"}"#], "low surrogate without its high surrogate"),
            (["--kind", "Bad Kind"], "invalid task kind"),
            (["--kind", "noop", "--run-after", "5x"], "give a delay such as 90s"),
            (["--kind", "noop", "--run-after", "2031-05-04T10:00"], "add a time zone"),
            (["--kind", "noop", "--run-after", "2031-02-30"], "not a date of the calendar"),
            (["--kind", "noop", "--payload", "@/nonexistent/payload.json"], "No such file or directory"),
            (["--from", "/nonexistent/tasks.jsonl"], "No such file or directory"),
            (["--kind", "noop", "--max-attempts", "0"], "between 1 and 1000"),
            (["--kind", "noop", "--queue", "Upper"], "invalid queue name"),
            (["--kind", "noop", "--no-such-option"], "Unknown option '--no-such-option'"),
            (["--payload", "{}"], "give the task kind with --kind"),
            (["--kind", "noop", "--timeout", "5s"], "--timeout only makes sense with --wait"),
            (["--kind", "noop", "--wait", "--timeout", "soon"], "use a number and a unit"),
        ]
    )
    func badInput(arguments: [String], fragment: String) async throws {
        try await QueueFixture.with(poolSize: 2) { fixture in
            let cli = CLI(fixture: fixture)
            let output = try await cli.run(["enqueue", "task"] + arguments)
            expectError(output, status: 2, containing: fragment)
            #expect(output.standardOutput.isEmpty)
            #expect(try await cli.taskCount() == 0)
        }
    }

    @Test(
        "an unreachable or malformed database gives one line, exit 1 (2 when malformed), no password, nothing stored",
        arguments: [
            (
                "postgresql://agent:hunter2secret@127.0.0.1:1/db?connect_timeout=2", Int32(1),
                "check that PostgreSQL is running"
            ),
            ("postgresql://agent:hunter2secret@127.0.0.1:notaport/db", Int32(2), "not a number"),
        ]
    )
    func unreachableDatabase(url: String, status: Int32, fragment: String) async throws {
        for arguments in [["enqueue", "task", "--kind", "noop"], ["list"], ["stats"], ["show", "1"], ["trends"]] {
            let output = try await runQueuectl(arguments, environment: ["DATABASE_URL": url])
            expectError(output, status: status, containing: fragment)
            #expect(!output.standardError.contains("hunter2secret"))
        }
        let flag = try await runQueuectl(
            ["list", "--database-url", url], environment: ["DATABASE_URL": "postgresql://nobody@127.0.0.1:2/x"]
        )
        expectError(flag, status: status, containing: fragment)
        if status == 1 {
            #expect(flag.standardError.contains("agent@127.0.0.1"), "--database-url wins over DATABASE_URL")
        }
    }

    @Test("--from: 10,000 tasks are enqueued in batches with progress; every line's fields are kept, in order")
    func tenThousandFromFile() async throws {
        try await withTemporaryDirectory { directory in
            try await QueueFixture.with(poolSize: 2) { fixture in
                let cli = CLI(fixture: fixture)
                var lines: [String] = []
                for n in 1...10_000 {
                    switch n % 4 {
                    case 0:
                        lines.append(
                            #"{"kind": "noop", "payload": {"n": \#(n)}, "queue": "bulk", "priority": \#(n % 7)}"#)
                    case 1: lines.append(#"{"payload": {"n": \#(n)}, "max_attempts": 9, "run_after": "1h"}"#)
                    case 2: lines.append(#"{"kind": "other", "payload": {"n": \#(n)}, "dedupe_key": "d-\#(n)"}"#)
                    default: lines.append(#"{"payload": {"n": \#(n)}}"#)
                    }
                    if n % 1000 == 0 { lines.append("") }  // blank lines are skipped
                }
                let file = directory.appendingPathComponent("tasks.jsonl")
                try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
                let output = try await cli.run(
                    [
                        "enqueue", "task", "--from", file.path, "--kind", "noop", "--batch-size", "1000", "--progress",
                        "lines",
                    ],
                    timeout: .seconds(300)
                )
                #expect(output.status == 0, "\(output.standardError)")
                let progress = output.standardError.split(separator: "\n").filter {
                    $0.hasPrefix("enqueued ") && $0.contains("/10000")
                }
                #expect(progress.count == 10, "\(output.standardError)")
                #expect(progress.first == "enqueued 1000/10000 tasks (10%)")
                #expect(progress.last == "enqueued 10000/10000 tasks (100%)")
                #expect(output.standardError.contains("enqueued 10,000 tasks from 10,000 lines in 10 batches"))
                let ids = output.standardOutput.split(separator: "\n").compactMap { Int64($0) }
                #expect(ids.count == 10_000)
                #expect(try await cli.taskCount() == 10_000)
                // The n-th id printed is the task of the n-th line.
                let mismatches = try await cli.count(
                    """
                    SELECT count(*) FROM unnest(\(ids)::bigint[]) WITH ORDINALITY AS printed(id, n)
                    JOIN tasks t ON t.id = printed.id WHERE (t.payload->>'n')::int <> printed.n
                    """
                )
                #expect(mismatches == 0)
                #expect(
                    try await cli.count("SELECT count(*) FROM tasks WHERE queue = 'bulk' AND kind = 'noop'") == 2500)
                #expect(
                    try await cli.count(
                        "SELECT count(*) FROM tasks WHERE kind = 'other' AND dedupe_key = 'd-' || (payload->>'n')")
                        == 2500)
                #expect(
                    try await cli.count(
                        "SELECT count(*) FROM tasks WHERE max_attempts = 9 AND run_after > now() + interval '50 minutes'"
                    ) == 2500)
                #expect(
                    try await cli.count(
                        "SELECT count(*) FROM tasks WHERE (payload->>'n')::int % 4 = 0 AND priority = (payload->>'n')::int % 7"
                    ) == 2500)
                #expect(try await cli.count("SELECT count(*) FROM task_events WHERE to_state = 'pending'") == 10_000)
            }
        }
    }

    @Test("--from: an invalid line anywhere stores nothing and names its line")
    func invalidLineStoresNothing() async throws {
        try await withTemporaryDirectory { directory in
            try await QueueFixture.with(poolSize: 2) { fixture in
                let cli = CLI(fixture: fixture)
                for (bad, fragment) in [
                    (#"{"kind": "noop", "payload": {"n": 1}"#, "invalid JSON"),
                    (#"{"kind": "noop", "colour": "red"}"#, "unknown key 'colour'"),
                    (#"{"kind": "noop", "priority": 1.5}"#, "priority must be a whole number"),
                    (#"{"kind": "noop", "run_after": "tomorrow"}"#, "run_after: give a delay"),
                    (#"{"payload": {}}"#, "no kind"),
                    (#"{"kind": "noop", "payload": "text"}"#, "payload must be a JSON object"),
                ] {
                    var lines = (1...3000).map { #"{"kind": "noop", "payload": {"n": \#($0)}}"# }
                    lines[2499] = bad
                    let file = directory.appendingPathComponent("bad.jsonl")
                    try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
                    let output = try await cli.run(["enqueue", "task", "--from", file.path, "--batch-size", "1000"])
                    expectError(output, status: 2, containing: "line 2500: ")
                    #expect(output.standardError.contains(fragment), "\(output.standardError)")
                    #expect(try await cli.taskCount() == 0)
                }
            }
        }
    }

    @Test(
        "--from: when the database fails part-way, earlier batches stay, the message says how to resume, --skip resumes"
    )
    func failurePartWayAndResume() async throws {
        try await withTemporaryDirectory { directory in
            try await QueueFixture.with(poolSize: 2) { fixture in
                let cli = CLI(fixture: fixture)
                let file = directory.appendingPathComponent("tasks.jsonl")
                try (1...5000).map { #"{"kind": "noop", "payload": {"n": \#($0)}}"# }.joined(separator: "\n")
                    .write(to: file, atomically: true, encoding: .utf8)
                // The database refuses line 2500 (as a server-side check or a dropped connection would).
                try await fixture.pool.withConnection { connection in
                    try await connection.simpleQuery(
                        """
                        CREATE FUNCTION refuse_2500() RETURNS trigger LANGUAGE plpgsql AS $$
                        BEGIN
                            IF NEW.payload->>'n' = '2500' THEN RAISE EXCEPTION 'refusing task 2500'; END IF;
                            RETURN NEW;
                        END $$;
                        CREATE TRIGGER refuse_2500 BEFORE INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION refuse_2500();
                        """
                    )
                }
                let failed = try await cli.run(["enqueue", "task", "--from", file.path, "--batch-size", "1000"])
                expectError(failed, status: 1, containing: "refusing task 2500")
                #expect(failed.standardError.contains("batch 3 (lines 2001-3000) failed"))
                #expect(failed.standardError.contains("lines up to 2000 were enqueued (2000 tasks, 2 batches)"))
                #expect(failed.standardError.contains("rerun with --skip 2000"))
                #expect(try await cli.taskCount() == 2000)

                try await fixture.pool.execute("DROP TRIGGER refuse_2500 ON tasks")
                let resumed = try await cli.run(["enqueue", "task", "--from", file.path, "--skip", "2000", "--json"])
                #expect(resumed.status == 0, "\(resumed.standardError)")
                struct Batch: Decodable {
                    let enqueued: Int
                    let batches: Int
                    let ids: [Int64]
                }
                let batch = try decodeJSON(Batch.self, resumed.standardOutput)
                #expect(batch.enqueued == 3000)
                #expect(batch.batches == 3)
                #expect(try await cli.count("SELECT count(DISTINCT payload->>'n') FROM tasks") == 5000)
                #expect(try await cli.taskCount() == 5000)
            }
        }
    }

    @Test("--from on a terminal draws a progress bar on standard error")
    func progressBarOnTerminal() async throws {
        try await withTemporaryDirectory { directory in
            try await QueueFixture.with(poolSize: 2) { fixture in
                let file = directory.appendingPathComponent("tasks.jsonl")
                try (1...3000).map { #"{"kind": "noop", "payload": {"n": \#($0)}}"# }.joined(separator: "\n")
                    .write(to: file, atomically: true, encoding: .utf8)
                let command =
                    "\(shellQuote(TestProcesses.executable("queuectl"))) enqueue task --from \(shellQuote(file.path)) "
                    + "--batch-size 500 >/dev/null"
                let result = try await runOnTerminal(command, environment: ["DATABASE_URL": try fixture.url])
                #expect(result.status == 0, "\(result.output)")
                // Six redraws in place (carriage return, erase line), the last one full.
                #expect(
                    result.output.components(separatedBy: "\r\u{1B}[2K[").count - 1 == 6,
                    "\(result.output.debugDescription)")
                #expect(result.output.contains("] 3,000/3,000 tasks 100%"))
                #expect(result.output.contains("] 500/3,000 tasks 16%"))
                #expect(result.output.contains("█"))
                #expect(try await CLI(fixture: fixture).taskCount() == 3000)
            }
        }
    }
}
