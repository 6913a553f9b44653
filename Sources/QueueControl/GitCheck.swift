#if canImport(Glibc)
    import Glibc
#endif

/// Checks a `--git PATH --base A --head B` range before it is enqueued, by running git.
enum GitCheck {
    /// A range whose repository exists and whose revisions resolve to commits.
    struct ResolvedRange: Sendable, Hashable {
        /// The repository's absolute path.
        let path: String
        /// The base commit id.
        let base: String
        /// The head commit id.
        let head: String
    }

    /// Makes `path` absolute, checks that it is inside a git repository, and resolves both revisions to commit
    /// ids, so that a worker reviews exactly what was asked for even when a branch moves later.
    static func resolve(path: String, base: String, head: String) async throws(CLIFailure) -> ResolvedRange {
        guard let resolved = realpath(path, nil) else {
            let reason = String(cString: strerror(errno))
            throw CLIFailure(
                "cannot use --git '\(path)': \(reason) (give the path of a git repository)", exitCode: CLIExit.usage)
        }
        let absolute = String(cString: resolved)
        free(resolved)
        let inside = try await runProgram("git", ["-C", absolute, "rev-parse", "--is-inside-work-tree", "--git-dir"])
        guard inside.status == 0 else {
            throw CLIFailure(
                "'\(absolute)' is not a git repository (git: \(inside.errorLine)); give the path of a clone with --git",
                exitCode: CLIExit.usage
            )
        }
        return ResolvedRange(
            path: absolute,
            base: try await commit(base, option: "--base", in: absolute),
            head: try await commit(head, option: "--head", in: absolute)
        )
    }

    private static func commit(_ revision: String, option: String, in path: String) async throws(CLIFailure) -> String {
        guard !revision.isEmpty else {
            throw CLIFailure("\(option) is empty: give a branch, tag or commit", exitCode: CLIExit.usage)
        }
        let output = try await runProgram(
            "git", ["-C", path, "rev-parse", "--verify", "--quiet", "--end-of-options", revision + "^{commit}"]
        )
        let sha = output.standardOutput.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard output.status == 0, sha.utf8.count >= 40, sha.utf8.allSatisfy({ $0.isHexDigit }) else {
            throw CLIFailure(
                "\(option) '\(revision)' is not a commit in \(path): check the name, or fetch it first "
                    + "(git -C \(path) fetch)",
                exitCode: CLIExit.usage
            )
        }
        return sha
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (0x30...0x39).contains(self) || (0x61...0x66).contains(self) || (0x41...0x46).contains(self)
    }
}
