import Foundation
import Testing

/// `queuectl review`: the exit-status scheme it shares with `enqueue review --wait`, its output options, baselines,
/// and the input it refuses. No database: the agents run in-process.
@Suite("queuectl review: exit status, --output, --baseline, refused input")
struct ReviewCommandTests {
    /// A change with a high finding (SQL built by concatenation) and low ones: changes requested.
    static let risky = sampleDiff
    /// A change with only low findings (a TODO, no test): approved with comments.
    static let commented = """
        diff --git a/app/cache.py b/app/cache.py
        --- a/app/cache.py
        +++ b/app/cache.py
        @@ -1,2 +1,3 @@
         def get(key):
        +    # TODO: expire old entries
             return store[key]

        """
    /// Prose only: approved.
    static let clean = """
        diff --git a/docs/notes.md b/docs/notes.md
        --- a/docs/notes.md
        +++ b/docs/notes.md
        @@ -1 +1,2 @@
         # Notes
        +The cache keeps entries for an hour.

        """

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let diff: String
        let options: [String]
        let status: Int32
        var testDescription: String { "\(name) \(options.joined(separator: " ")) → \(status)" }
    }

    static let cases: [Case] = [
        Case(name: "risky", diff: risky, options: [], status: 6),
        Case(name: "commented", diff: commented, options: [], status: 5),
        Case(name: "clean", diff: clean, options: [], status: 0),
        Case(name: "risky", diff: risky, options: ["--fail-on", "high"], status: 10),
        Case(name: "risky", diff: risky, options: ["--fail-on", "critical"], status: 0),
        Case(name: "risky", diff: risky, options: ["--fail-on", "none"], status: 0),
        Case(name: "commented", diff: commented, options: ["--fail-on", "low"], status: 10),
        Case(name: "commented", diff: commented, options: ["--fail-on", "medium"], status: 0),
        Case(name: "clean", diff: clean, options: ["--fail-on", "low"], status: 0),
    ]

    @Test(
        "without --fail-on the exit status is the verdict's; with it, 10 at or above the threshold and 0 below",
        arguments: cases)
    func exitStatus(_ check: Case) async throws {
        let output = try await runQueuectl(["review", "--diff", "-", "--json"] + check.options, input: check.diff)
        #expect(output.status == check.status, "\(output.standardError)")
        #expect(output.standardError.isEmpty, "\(output.standardError)")
        let verdict = try decodeJSON(Report.self, output.standardOutput).verdict.status
        let expected = ["risky": "changes_requested", "commented": "approved_with_comments", "clean": "approved"]
        #expect(verdict == expected[check.name])
    }

    @Test("an empty change is refused with exit 2 unless --allow-empty, which approves it")
    func emptyInput() async throws {
        for input in ["", "\n \n"] {
            let refused = try await runQueuectl(["review", "--diff", "-", "--format", "sarif"], input: input)
            expectError(refused, status: 2, containing: "the diff from standard input is empty")
            #expect(refused.standardError.contains("--allow-empty"))
            let allowed = try await runQueuectl(["review", "--diff", "-", "--json", "--allow-empty"], input: input)
            #expect(allowed.status == 0, "\(allowed.standardError)")
            let report = try decodeJSON(Report.self, allowed.standardOutput)
            #expect(report.verdict.status == "approved")
            #expect(report.findings.isEmpty)
        }
    }

    @Test("bad input and options: one queuectl error line, exit 2, nothing on standard output")
    func refusedInput() async throws {
        try await withTemporaryDirectory { directory in
            let notADiff = directory.appendingPathComponent("notes.txt")
            try Data("just some text\n".utf8).write(to: notADiff)
            let badBaseline = directory.appendingPathComponent("baseline.json")
            try Data(#"{"something": []}"#.utf8).write(to: badBaseline)
            for (arguments, fragment) in [
                (["--diff", directory.appendingPathComponent("missing.diff").path], "cannot read the diff"),
                (["--diff", notADiff.path], "cannot be reviewed"),
                (["--git", directory.path, "--base", "HEAD~1", "--head", "HEAD"], "is not a git repository"),
                (["--git", directory.path, "--base", "main"], "--git needs both --base and --head"),
                (["--diff", "-", "--json", "--format", "sarif"], "--json means --format json"),
                (["--diff", "-", "--baseline", badBaseline.path], "has neither \"findings\""),
                (["--diff", "-", "--baseline", notADiff.path], "is not a JSON or SARIF report"),
                (["--diff", "-", "--fail-on", "severe"], "--fail-on"),
            ] {
                let output = try await runQueuectl(["review"] + arguments, input: Self.risky)
                expectError(output, status: 2, containing: fragment)
            }
        }
    }

    @Test("--output writes the whole report to the file and prints one line; a file that cannot be written exits 1")
    func outputFile() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("review.sarif").path
            try Data("an older report".utf8).write(to: URL(fileURLWithPath: path))
            let output = try await runQueuectl(
                ["review", "--diff", "-", "--format", "sarif", "--output", path], input: Self.risky)
            #expect(output.status == 6, "\(output.standardError)")
            #expect(output.standardOutput.hasPrefix("\(path): changes requested · "), "\(output.standardOutput)")
            #expect(output.standardOutput.split(separator: "\n").count == 1)
            let direct = try await runQueuectl(["review", "--diff", "-", "--format", "sarif"], input: Self.risky)
            #expect(try String(contentsOfFile: path, encoding: .utf8) == direct.standardOutput)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["review.sarif"])

            let unwritable = directory.appendingPathComponent("no/such/dir/review.json").path
            let failed = try await runQueuectl(["review", "--diff", "-", "--output", unwritable], input: Self.risky)
            expectError(failed, status: 1, containing: "cannot write --output '\(unwritable)'")
        }
    }

    @Test("--baseline: a second run with the first run's findings (JSON or SARIF) as baseline reports none")
    func baseline() async throws {
        try await withTemporaryDirectory { directory in
            for format in ["json", "sarif"] {
                let accepted = directory.appendingPathComponent("accepted.\(format)").path
                let first = try await runQueuectl(
                    ["review", "--diff", "-", "--format", format, "--output", accepted], input: Self.risky)
                #expect(first.status == 6, "\(first.standardError)")
                let firstReport = try decodeJSON(
                    Report.self,
                    try await runQueuectl(["review", "--diff", "-", "--json"], input: Self.risky).standardOutput)
                let count = firstReport.findings.count
                #expect(count > 1)

                let second = try await runQueuectl(
                    ["review", "--diff", "-", "--json", "--baseline", accepted, "--fail-on", "low"], input: Self.risky)
                #expect(second.status == 0, "\(second.standardError)")
                #expect(
                    second.standardError
                        == "queuectl: note: \(count) findings are in the baseline \(accepted) and not reported\n")
                let report = try decodeJSON(Report.self, second.standardOutput)
                #expect(report.findings.isEmpty)
                #expect(report.verdict.status == "approved")

                // A new finding beside the accepted ones is the only one reported.
                let grown = Self.risky.replacingOccurrences(
                    of: " conn = sqlite3.connect(\"db\")", with: "+# TODO: close it\n conn = sqlite3.connect(\"db\")"
                )
                .replacingOccurrences(of: "@@ -1,2 +1,3 @@", with: "@@ -1,2 +1,4 @@")
                let third = try await runQueuectl(
                    ["review", "--diff", "-", "--json", "--baseline", accepted], input: grown)
                let thirdReport = try decodeJSON(Report.self, third.standardOutput)
                #expect(thirdReport.findings.map(\.rule_id) == ["quality.todo-comment"], "\(third.standardOutput)")
                #expect(third.status == 5, "\(third.standardError)")
            }
        }
    }

    @Test(
        "on a terminal, review shows a terminal view with coloured severities (NO_COLOR and --color never turn it off); Markdown when asked or piped"
    )
    func terminalView() async throws {
        let view = try await runQueuectl(["review", "--diff", "-"], input: Self.risky, terminal: true)
        #expect(view.status == 6, "\(view.standardError)")
        #expect(!view.standardOutput.contains("| agent |"), "\(view.standardOutput)")
        #expect(view.standardOutput.contains("AGENT         CRITICAL  HIGH"), "\(view.standardOutput)")
        #expect(view.standardOutput.hasPrefix("\u{1B}[31mchanges requested\u{1B}[0m · "), "\(view.standardOutput)")
        #expect(view.standardOutput.contains("\u{1B}[31mhigh\u{1B}[0m"))
        #expect(view.standardOutput.contains("fix: "))
        for (environment, arguments) in [(["NO_COLOR": "1"], [String]()), ([:], ["--color", "never"])] {
            let plain = try await runQueuectl(
                arguments + ["review", "--diff", "-"], environment: environment, input: Self.risky, terminal: true)
            #expect(plain.standardOutput.hasPrefix("changes requested · "), "\(plain.standardOutput)")
            #expect(!plain.standardOutput.contains("\u{1B}"))
        }
        let markdown = try await runQueuectl(
            ["review", "--diff", "-", "--format", "markdown"], input: Self.risky, terminal: true)
        #expect(markdown.standardOutput.contains("| agent | critical | high | medium | low | info |"))
        let piped = try await runQueuectl(["review", "--diff", "-"], input: Self.risky)
        #expect(piped.standardOutput.hasPrefix("**AgentQueue review: changes requested**"))
        expectError(try await runQueuectl(["--color", "sometimes", "list"]), status: 2, containing: "--color must be")
    }

    struct Report: Decodable {
        struct Verdict: Decodable { let status: String }
        struct Finding: Decodable {
            let rule_id: String
            let fingerprint: String
        }
        let verdict: Verdict
        let findings: [Finding]
    }
}
