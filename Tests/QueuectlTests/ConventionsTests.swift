import Foundation
import TestSupport
import Testing

@Suite("queuectl conventions", .serialized)
struct ConventionsTests {
    static let commands = [
        ["enqueue", "review"], ["enqueue", "task"], ["list"], ["show"], ["top"], ["cancel"], ["retry"], ["pause"],
        ["resume"], ["purge"],
        ["stats"], ["workers"], ["migrate"], ["history"], ["trends"], ["performance"], ["verdicts"], ["findings"],
    ]

    @Test(
        "every command's --help has examples and exits 0; the root help documents the exit codes", arguments: commands)
    func help(command: [String]) async throws {
        let output = try await runQueuectl(command + ["--help"], environment: ["COLUMNS": "100"])
        #expect(output.status == 0)
        #expect(output.standardOutput.contains("Examples:"), "\(command)")
        #expect(output.standardOutput.contains("queuectl \(command.joined(separator: " "))"))
        #expect(output.standardOutput.contains("--json"), "\(command)")
        #expect(output.standardOutput.contains("--database-url"))
    }

    @Test("the root help lists every command and the exit codes; --version prints the version")
    func rootHelp() async throws {
        let output = try await runQueuectl(["--help"])
        #expect(output.status == 0)
        for code in [
            "0    success", "1    failure", "2    usage error", "3    not found", "4    timeout",
            "5    a review approved the change with comments", "6    a review requested changes",
            "10   a review has a finding at or above --fail-on", "130  interrupted",
            "A review is `review` or `enqueue review --wait`.",
        ] {
            #expect(output.standardOutput.contains(code), "\(code)")
        }
        for command in Self.commands.map(\.[0]) { #expect(output.standardOutput.contains("  \(command) ")) }
        // The real executable: its entry point runs the same commands on the process's own streams.
        let version = try await runQueuectlProcess(["--version"])
        #expect(version.status == 0)
        #expect(version.standardOutput.split(separator: ".").count == 3)
        // The daemons say the same version.
        for daemon in ["queue-worker", "queue-webhook"] {
            let output = try await TestProcesses.run(daemon, ["--version"], environment: [:], input: nil)
            #expect(output.status == 0, "\(daemon): \(output.standardError)")
            #expect(output.standardOutput == version.standardOutput, "\(daemon)")
        }
    }

    @Test("usage errors of the argument parser are one line and exit status 2, like queuectl's own")
    func parserErrors() async throws {
        for arguments in [["nonsense"], ["list", "--limit", "many"], ["enqueue"], ["stats", "--bogus"], ["show"]] {
            let output = try await runQueuectl(
                arguments, environment: ["DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"])
            if arguments == ["enqueue"] {
                // A command group without a subcommand prints its help.
                #expect(output.status == 0)
                #expect(output.standardOutput.contains("SUBCOMMANDS"))
                continue
            }
            expectError(output, status: 2, containing: "(see `queuectl")
        }
    }

    @Test("shell completions: the bash script completes commands, options and their values; zsh and fish cover them")
    func completions() async throws {
        for shell in ["zsh", "fish"] {
            let output = try await runQueuectl(["--generate-completion-script", shell])
            #expect(output.status == 0)
            for word in ["enqueue", "trends", "older-than", "pr-url", "estimate-above"] {
                #expect(output.standardOutput.contains(word), "\(shell): \(word)")
            }
        }
        let bash = try await runQueuectl(["--generate-completion-script", "bash"])
        #expect(bash.status == 0)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "queuectl-completion-\(UUID().uuidString).bash")
        try bash.standardOutput.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        // Calls the completion function as bash does (command, current word, previous word) for a few command lines.
        let harness = """
            source \(shellQuote(file.path))
            complete_line() {
                COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
                _queuectl queuectl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
                echo "${COMPREPLY[*]}"
            }
            complete_line queuectl tr
            complete_line queuectl list --state ""
            complete_line queuectl purge --ol
            complete_line queuectl enqueue re
            complete_line queuectl trends --format ""
            complete_line queuectl purge --older-than ""
            complete_line queuectl enqueue task --progress ""
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", harness]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(
            String(decoding: data, as: UTF8.self).split(separator: "\n") == [
                "trends", "pending running succeeded dead cancelled", "--older-than", "review", "table json csv",
                "30s 5m 1h 1d 7d 30d", "auto bar lines none",
            ])
    }
}
