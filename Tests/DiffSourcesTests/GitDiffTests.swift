import ReviewAgents
import Testing

@testable import DiffSources

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A throwaway git repository in a temporary directory, removed when released.
final class TemporaryRepository {
    let path: String

    init() throws {
        var template = Array("/tmp/agentqueue-git-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let created else { throw GitDiffError(.launchFailed, "mkdtemp failed") }
        path = String(cString: created)
        try git("init", "-q", "-b", "main")
    }

    deinit {
        _ = try? ProcessRunner.run(["rm", "-rf", path], outputLimit: 1 << 16)
    }

    @discardableResult
    func git(_ arguments: String...) throws -> String {
        let result = try ProcessRunner.run(
            [
                "git", "-C", path, "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c",
                "commit.gpgsign=false",
            ]
                + arguments, outputLimit: 1 << 20)
        guard result.status == 0 else { throw GitDiffError(.gitFailed, result.standardError) }
        return String(decoding: result.standardOutput, as: UTF8.self)
    }

    func write(_ relativePath: String, _ text: String) throws {
        if let slash = relativePath.lastIndex(of: "/") {
            _ = try ProcessRunner.run(["mkdir", "-p", path + "/" + relativePath[..<slash]], outputLimit: 1024)
        }
        let file = fopen(path + "/" + relativePath, "w")
        defer { if let file { fclose(file) } }
        guard let file else { throw GitDiffError(.launchFailed, "cannot write \(relativePath)") }
        fputs(text, file)
    }
}

@Suite("git ranges")
struct GitDiffTests {
    static var gitAvailable: Bool { (try? ProcessRunner.run(["git", "--version"], outputLimit: 4096).status) == 0 }
    static let yamsMirror = "/opt/swift-packages/jpsim/Yams.git"
    static var yamsAvailable: Bool {
        gitAvailable
            && (try? ProcessRunner.run(
                ["git", "-C", yamsMirror, "rev-parse", "-q", "--verify", "6.2.2^{commit}"],
                outputLimit: 4096
            ).status) == 0
    }

    @Test("a hermetic repository: the branch's changes since the merge base", .enabled(if: gitAvailable))
    func hermetic() async throws {
        let repository = try TemporaryRepository()
        try repository.write("app/db.py", "import os\n\ndef get(uid):\n    return uid\n")
        try repository.write("README.md", "hello\n")
        try repository.write(".agentqueue.yml", "rules:\n  quality.todo-comment: off\n")
        try repository.git("add", "-A")
        try repository.git("commit", "-q", "-m", "base")
        try repository.git("checkout", "-q", "-b", "feature")
        try repository.write(
            "app/db.py",
            "import os\n\ndef get(uid):\n    # TODO: cache\n"
                + "    return cursor.execute(f\"SELECT a FROM t WHERE id = {uid}\")\n"
        )
        try repository.git("mv", "README.md", "docs.md")
        try repository.git("add", "-A")
        try repository.git("commit", "-q", "-m", "feature")
        try repository.git("checkout", "-q", "main")
        try repository.write("main-only.txt", "not part of the feature\n")
        try repository.git("add", "-A")
        try repository.git("commit", "-q", "-m", "main moves on")

        let range = GitRange(path: repository.path, base: "main", head: "feature")
        let diff = try await GitDiff.diff(range)
        #expect(Set(diff.files.map(\.path)) == ["app/db.py", "docs.md"])
        #expect(diff.files.first { $0.path == "docs.md" }?.changeKind == .renamed)
        let configurationText = try #require(try GitDiff.configurationText(range))
        let configuration = try RepositoryConfiguration.parse(yaml: configurationText)
        let findings = try await ReviewAgents.reviewAll(ReviewInput(diff: diff, configuration: configuration))
        #expect(findings.contains { $0.ruleId == "security.sql-injection" && $0.path == "app/db.py" && $0.line == 5 })
        #expect(!findings.contains { $0.ruleId == "quality.todo-comment" })
    }

    @Test("unknown revisions and option-like names are rejected", .enabled(if: gitAvailable))
    func badRevisions() throws {
        let repository = try TemporaryRepository()
        try repository.write("a.txt", "a\n")
        try repository.git("add", "-A")
        try repository.git("commit", "-q", "-m", "one")
        #expect(throws: GitDiffError.self) {
            try GitDiff.diffBytes(GitRange(path: repository.path, base: "main", head: "nope"))
        }
        do {
            _ = try GitDiff.diffBytes(GitRange(path: repository.path, base: "--output=/tmp/x", head: "main"))
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidRevision)
        }
        #expect(throws: GitDiffError.self) {
            try GitDiff.diffBytes(GitRange(path: "/nonexistent/repo", base: "a", head: "b"))
        }
        #expect(try GitDiff.configurationText(GitRange(path: repository.path, base: "main", head: "main")) == nil)
    }

    @Test("git output over the size limit is refused", .enabled(if: gitAvailable))
    func sizeLimit() throws {
        let repository = try TemporaryRepository()
        try repository.write("a.txt", "a\n")
        try repository.git("add", "-A")
        try repository.git("commit", "-q", "-m", "one")
        try repository.write("a.txt", String(repeating: "line\n", count: 2000))
        try repository.git("commit", "-q", "-am", "two")
        do {
            _ = try GitDiff.diffBytes(
                GitRange(path: repository.path, base: "HEAD~1", head: "HEAD"), limits: DiffLimits(maxBytes: 1000))
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .outputTooLarge)
        }
    }

    @Test("a real diff of a real repository: Yams 5.0.1 → 6.2.2", .enabled(if: yamsAvailable))
    func yams() async throws {
        let diff = try await GitDiff.diff(GitRange(path: Self.yamsMirror, base: "5.0.1", head: "6.2.2"))
        #expect(diff.files.count > 50)
        #expect(diff.additions > 1000)
        #expect(diff.files.allSatisfy { !$0.path.isEmpty })
        let findings = try await ReviewAgents.reviewAll(ReviewInput(diff: diff))
        let report = ReviewReport(diff: diff, findings: findings)
        // A large, well-maintained library release: big and wide, but no credentials or injections.
        #expect(findings.contains { $0.ruleId == "architecture.large-change" })
        #expect(!findings.contains { $0.ruleId.hasPrefix("security.secret.") })
        #expect(report.verdict.status != .changesRequested, "\(findings.filter { $0.severity <= .high })")
        for format in ReportFormat.allCases { #expect(!(try format.render(report)).isEmpty) }
    }
}
