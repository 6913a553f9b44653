import Foundation
import PostgresClient
import TaskQueue
import TestSupport
import Testing

@Suite("queuectl: what an adversarial run found")
struct AdversarialCLITests {
    @Test(
        "an empty diff never approves: review refuses it (markdown, JSON and SARIF alike) with exit 2",
        arguments: [["--format", "markdown"], ["--format", "json"], ["--format", "sarif", "--fail-on", "high"]])
    func emptyReview(format: [String]) async throws {
        for input in ["", "\n  \n"] {
            let output = try await runQueuectl(["review", "--diff", "-"] + format, input: input)
            #expect(output.status == 2, "\(output.standardOutput) \(output.standardError)")
            #expect(output.standardError.contains("is empty: there is nothing to review"), "\(output.standardError)")
            #expect(output.standardOutput.isEmpty)
        }
    }

    @Test("values the database would refuse and control characters are refused before anything is stored")
    func refusedInput() async throws {
        try await QueueFixture.with { fixture in
            let cli = CLI(fixture: fixture)
            let diff = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
            for (arguments, fragment) in [
                (["--pr", "99999999999999", "--repo", "acme/api"], "--pr must be a number from 1 to 2147483647"),
                (["--title", "\u{1B}]0;owned\u{07}"], "--title cannot contain control characters"),
                (["--author", "bob\u{1B}[2J"], "--author cannot contain control characters"),
                (["--dedupe-key", "k\u{08}\u{08}"], "--dedupe-key cannot contain control characters"),
            ] {
                let output = try await cli.run(["enqueue", "review", "--diff", "-"] + arguments, input: diff)
                expectError(output, status: 2, containing: fragment)
            }
            // A hunk with more lines than its header counts, caught by the worker's own parser.
            let surplus = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n+y = 3\n"
            let output = try await cli.run(["enqueue", "review", "--diff", "-"], input: surplus)
            expectError(output, status: 2, containing: "more lines than its header says")
            #expect(try await cli.taskCount() == 0)
        }
    }

    @Test("stored control characters are shown escaped, never sent to the terminal")
    func escapedOutput() async throws {
        try await QueueFixture.with { fixture in
            let cli = CLI(fixture: fixture)
            // Written directly, as an older client or a hand-made row could have.
            try await fixture.pool.execute(
                """
                INSERT INTO review_history (task_id, repo, pr_number, pr_title, pr_author, review_verdict, verdict_status,
                    execution_time_ms)
                VALUES (1, 'acme/api', 3, E'fix \\x1b]0;owned\\x07 it', E'eve\\x1b[2J', 'summary', 'approved', 5)
                """)
            let id = try await fixture.pool.run(try EnqueueTask(task(payload: #"{"note": "x"}"#))).id
            try await fixture.pool.execute(
                "UPDATE tasks SET errors = jsonb_build_array(jsonb_build_object('attempt', 1, 'at', now(), 'message', E'boom \\x1b[31mred')) WHERE id = \(id)"
            )
            for arguments in [["history", "--repo", "acme/api"], ["show", "\(id)"], ["list"]] {
                let output = try await cli.run(arguments)
                #expect(output.status == 0, "\(arguments): \(output.standardError)")
                #expect(!output.standardOutput.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 })
            }
            let history = try await cli.run(["history", "--repo", "acme/api"])
            #expect(history.standardOutput.contains("eve^[[2J"), "\(history.standardOutput)")
        }
    }
}
