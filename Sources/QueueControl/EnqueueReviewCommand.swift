import ArgumentParser
import DiffSources
import GitHubForge
import PostgresClient
import ReviewAgents
import ReviewStore
import ReviewWorkflow
import TaskQueue

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `queuectl enqueue review`: a pull request review for the workers.
struct EnqueueReviewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Enqueue a review of a diff, a local git range or a GitHub pull request.",
        discussion: """
            The change comes from exactly one of --diff FILE (- for standard input; at most 50 MB, stored in the \
            task), --git PATH --base REV --head REV (a local clone the workers can read; the revisions are resolved \
            to commit ids now, so a branch that moves later does not change what is reviewed), or --pr-url \
            https://github.com/OWNER/NAME/pull/N (fetched by the worker; --repo and --pr are taken from the URL; with \
            GITHUB_API_URL set to a GitHub Enterprise Server's API, that server's pull request URLs).

            A review of --repo, --pr and --head-sha (with --git, the head commit) gets the dedupe key \
            review:OWNER/NAME#N@SHA: enqueueing it again while it is pending or running returns the live task. \
            --force enqueues a new task anyway; --dedupe-key sets your own key.

            With --wait, queuectl waits for the verdict, prints it with the summary, and exits like queuectl review: \
            0 (approved), 5 (approved_with_comments) or 6 (changes_requested), or with --fail-on 10 when a finding \
            is at least that severe and 0 otherwise; 1 if the task died or was cancelled, 4 after --timeout, 130 \
            after Ctrl-C (the task keeps its place).

            With --from FILE, every non-blank line is a review request as the task stores it, for example \
            {"source": {"pr_url": "https://github.com/acme/api/pull/12"}, "repo": "acme/api", "pr_number": 12, \
            "head_sha": "4f2a9c1"} or {"source": {"git": {"path": "/srv/api", "base": "main", "head": "feature"}}}; \
            the placement options apply to every line.

            Examples:
              queuectl enqueue review \\
                --pr-url https://github.com/acme/api/pull/12 --head-sha 4f2a9c1
              git diff main...feature |
                queuectl enqueue review --diff - --repo acme/api --pr 12 --wait
              queuectl enqueue review --git /srv/api --base main --head feature \\
                --repo acme/api --pr 12 --wait --timeout 10m
              queuectl enqueue review --from reviews.jsonl --priority 10
            """
    )

    /// The largest inline diff accepted.
    static let maximumDiffBytes = 50 * 1024 * 1024

    @Option(
        help: ArgumentHelp("Unified diff to review (- for standard input).", valueName: "file|-"),
        completion: .file()
    )
    var diff: String?

    @Option(help: ArgumentHelp("Local git repository the workers can read.", valueName: "path"), completion: .directory)
    var git: String?

    @Option(help: ArgumentHelp("With --git: the base revision.", valueName: "rev"))
    var base: String?

    @Option(help: ArgumentHelp("With --git: the head revision.", valueName: "rev"))
    var head: String?

    @Option(name: .customLong("pr-url"), help: ArgumentHelp("A GitHub pull request URL.", valueName: "url"))
    var prURL: String?

    @Option(help: ArgumentHelp("The repository, owner/name.", valueName: "owner/name"))
    var repo: String?

    @Option(name: .customLong("pr"), help: ArgumentHelp("The pull request number.", valueName: "n"))
    var prNumber: Int?

    @Option(help: ArgumentHelp("The pull request title.", valueName: "text"))
    var title: String?

    @Option(help: ArgumentHelp("The pull request author.", valueName: "login"))
    var author: String?

    @Option(
        name: .customLong("head-sha"),
        help: ArgumentHelp("The head commit reviewed (part of the dedupe key).", valueName: "sha"))
    var headSHA: String?

    @OptionGroup var placement: TaskPlacementOptions

    @Option(
        name: .customLong("dedupe-key"),
        help: ArgumentHelp("Use this dedupe key instead of review:OWNER/NAME#N@SHA.", valueName: "key"))
    var dedupeKey: String?

    @Flag(help: "Enqueue even if the same review is pending or running (no dedupe key).")
    var force = false

    @Option(
        help: ArgumentHelp(
            "Enqueue every line of a JSONL file of review requests (- for standard input).", valueName: "file"),
        completion: .file()
    )
    var from: String?

    @OptionGroup var batch: BatchOptions

    @OptionGroup var waiting: WaitOptions

    @Option(name: .customLong("fail-on"), help: FailOnSeverity.help)
    var failOn: FailOnSeverity?

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if failOn != nil, !waiting.wait {
            throw ValidationError("--fail-on needs --wait: it judges the finished review")
        }
        if force, dedupeKey != nil { throw ValidationError("--force means no dedupe key: leave out --dedupe-key") }
        if let dedupeKey, !(1...512).contains(dedupeKey.count) {
            throw ValidationError("--dedupe-key must be 1-512 characters")
        }
        if from != nil {
            let conflicting = [
                diff.map { _ in "--diff" }, git.map { _ in "--git" }, prURL.map { _ in "--pr-url" },
                repo.map { _ in "--repo" }, prNumber.map { _ in "--pr" }, title.map { _ in "--title" },
                author.map { _ in "--author" }, headSHA.map { _ in "--head-sha" },
                dedupeKey.map { _ in "--dedupe-key" },
                waiting.wait ? "--wait" : nil,
            ].compactMap { $0 }
            if let first = conflicting.first {
                throw ValidationError("--from reads every review from the file: leave out \(first)")
            }
            return
        }
        let sources = [diff != nil, git != nil, prURL != nil].filter { $0 }.count
        guard sources == 1 else {
            throw ValidationError(
                sources == 0
                    ? "give the change to review: --diff FILE|-, --git PATH --base REV --head REV, or --pr-url URL"
                    : "give only one of --diff, --git and --pr-url"
            )
        }
        if git != nil, base == nil || head == nil { throw ValidationError("--git needs both --base and --head") }
        if git == nil, base != nil || head != nil { throw ValidationError("--base and --head go with --git") }
        if let repo, let problem = Self.repoProblem(repo) { throw ValidationError(problem) }
        if let prNumber, !(1...Int(Int32.max)).contains(prNumber) {
            throw ValidationError("--pr must be a number from 1 to \(Int32.max) (got \(prNumber))")
        }
        for (option, value) in [("--title", title), ("--author", author), ("--dedupe-key", dedupeKey)] {
            if let value, let problem = TaskValidation.controlCharacterProblem(value, name: option) {
                throw ValidationError(problem)
            }
        }
        if let headSHA, let problem = Self.shaProblem(headSHA) { throw ValidationError("--head-sha: \(problem)") }
        if let prURL {
            guard let parsed = Self.parsePullRequestURL(prURL) else {
                throw ValidationError(
                    "--pr-url must look like \(Self.pullRequestURLShape) (got '\(prURL.prefix(200))')"
                )
            }
            if let repo, repo != parsed.repo {
                throw ValidationError("--repo \(repo) does not match the repository of --pr-url (\(parsed.repo))")
            }
            if let prNumber, prNumber != parsed.number {
                throw ValidationError("--pr \(prNumber) does not match the number of --pr-url (\(parsed.number))")
            }
        }
    }

    func run() async throws {
        try await reportingErrors {
            let logger = makeCLILogger()
            if let from {
                let requests = try await readRequests(from)
                try await database.withPool(logger: logger) { pool in
                    let now = try await pool.run(DatabaseNow())
                    let runAfter = placement.runAfter?.resolve(now: now)
                    let tasks = try requests.map { line in
                        NumberedTask(
                            line: line.number, task: try makeTask(line.request, runAfter: runAfter, dedupeKey: nil))
                    }
                    try await enqueueBatches(
                        tasks, pool: pool, options: batch, json: json)
                }
                return
            }
            let request = try await buildRequest()
            try await database.withPool(logger: logger) { pool in
                let runAfter = try await placement.runAfter.asyncMap {
                    $0.resolve(now: try await pool.run(DatabaseNow()))
                }
                let task = try makeTask(request, runAfter: runAfter, dedupeKey: dedupeKey)
                try await enqueueOne(task, pool: pool, json: json, waiting: waiting, failOn: failOn)
            }
        }
    }

    /// The task for a request: kind `review`, the request as payload, the dedupe key unless `--force`.
    private func makeTask(_ request: ReviewRequest, runAfter: Date?, dedupeKey: String?) throws -> NewTask {
        if let problem = request.problem { throw CLIFailure(problem, exitCode: CLIExit.usage) }
        let task = NewTask(
            kind: "review", payload: try PostgresJSON(encoding: request), queue: placement.queue,
            priority: placement.priority, runAfter: runAfter, maxAttempts: placement.maxAttempts,
            dedupeKey: force ? nil : (dedupeKey ?? request.dedupeKey)
        )
        do {
            try task.validate()
        } catch {
            throw CLIFailure(error.description, exitCode: CLIExit.usage)
        }
        return task
    }

    /// The request from the command line, with its input read and checked.
    private func buildRequest() async throws -> ReviewRequest {
        var request: ReviewRequest
        if let diff {
            request = ReviewRequest(source: .diff(try Self.readDiff(diff)))
        } else if let git, let base, let head {
            let range = try await GitCheck.resolve(path: git, base: base, head: head)
            request = ReviewRequest(source: .git(path: range.path, base: range.base, head: range.head))
            request.headSHA = range.head
        } else if let prURL, let parsed = Self.parsePullRequestURL(prURL) {
            request = ReviewRequest(source: .pullRequest(url: prURL))
            request.repo = parsed.repo
            request.prNumber = parsed.number
            request.prURL = prURL
        } else {
            throw CLIFailure("give the change to review: --diff, --git or --pr-url", exitCode: CLIExit.usage)
        }
        request.repo = repo ?? request.repo
        request.prNumber = prNumber ?? request.prNumber
        request.title = title
        request.author = author
        request.headSHA = headSHA ?? request.headSHA
        return request
    }

    /// Reads an inline diff and checks that it can be stored and looks like a unified diff.
    static func readDiff(_ path: String) throws(CLIFailure) -> String {
        let bytes = try InputFile.read(path, what: "the diff", limit: maximumDiffBytes) { size in
            "the diff is larger than \(InputFile.megabytes(maximumDiffBytes)) (read \(InputFile.megabytes(size)) so far): "
                + "review a smaller range, or enqueue it with --git PATH --base REV --head REV"
        }
        return try checkDiff(bytes, origin: path == "-" ? "standard input" : path)
    }

    /// Why a diff cannot be enqueued inline, or its text.
    static func checkDiff(_ bytes: [UInt8], origin: String) throws(CLIFailure) -> String {
        guard bytes.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else {
            throw CLIFailure("the diff from \(origin) is empty: there is nothing to review", exitCode: CLIExit.usage)
        }
        if bytes.contains(0) {
            throw CLIFailure(
                "the diff from \(origin) contains NUL bytes (a binary file?): produce it with git diff (without --binary), "
                    + "or enqueue with --git",
                exitCode: CLIExit.usage
            )
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CLIFailure(
                "the diff from \(origin) is not valid UTF-8: enqueue it with --git so that the worker reads the bytes itself",
                exitCode: CLIExit.usage
            )
        }
        let looksLikeDiff = text.split(separator: "\n", omittingEmptySubsequences: true).contains { line in
            line.hasPrefix("diff --git ") || line.hasPrefix("@@ ") || line.hasPrefix("--- ")
        }
        guard looksLikeDiff else {
            throw CLIFailure(
                "\(origin) does not look like a unified diff (no 'diff --git', '---' or '@@' line): "
                    + "create one with git diff BASE...HEAD",
                exitCode: CLIExit.usage
            )
        }
        // The worker's own parser and limits: a diff it would refuse is refused now, before anything is stored.
        do {
            _ = try DiffParser.parse(bytes: bytes, rejectingEmpty: true)
        } catch {
            throw CLIFailure(
                "the diff from \(origin) cannot be reviewed: \(error.description)", exitCode: CLIExit.usage)
        }
        return text
    }

    /// Reads a file of review requests; every line is checked (and git ranges resolved) before anything is stored.
    private func readRequests(_ path: String) async throws -> [(number: Int, request: ReviewRequest)] {
        let limit = 2 * 1024 * 1024 * 1024
        let bytes = try InputFile.read(path, what: "the review file", limit: limit) { _ in
            "the review file '\(path)' is larger than 2 GB: split it into smaller files"
        }
        let origin = path == "-" ? "standard input" : path
        var resolvedRanges: [[String]: GitCheck.ResolvedRange] = [:]
        var requests: [(number: Int, request: ReviewRequest)] = []
        for line in try numberedLines(bytes, skip: batch.skip) {
            do {
                if let problem = JSONText.objectProblem(line.text) { throw CLIFailure(problem) }
                var request: ReviewRequest
                do {
                    request = try JSONDecoder().decode(ReviewRequest.self, from: Data(line.text.utf8))
                } catch let error as DecodingError {
                    throw CLIFailure("not a review request: \(describe(error))")
                }
                switch request.source {
                case .diff(let text):
                    guard text.utf8.count <= Self.maximumDiffBytes else {
                        throw CLIFailure("the inline diff is larger than \(InputFile.megabytes(Self.maximumDiffBytes))")
                    }
                    _ = try Self.checkDiff(Array(text.utf8), origin: "source.diff")
                case .git(let path, let base, let head):
                    let key = [path, base, head]
                    let range: GitCheck.ResolvedRange
                    if let known = resolvedRanges[key] {
                        range = known
                    } else {
                        range = try await GitCheck.resolve(path: path, base: base, head: head)
                        resolvedRanges[key] = range
                    }
                    request.source = .git(path: range.path, base: range.base, head: range.head)
                    request.headSHA = request.headSHA ?? range.head
                case .pullRequest(let url):
                    guard let parsed = Self.parsePullRequestURL(url) else {
                        throw CLIFailure("source.pr_url must look like \(Self.pullRequestURLShape)")
                    }
                    if let repo = request.repo, repo != parsed.repo {
                        throw CLIFailure("repo \(repo) does not match the repository of the URL (\(parsed.repo))")
                    }
                    if let number = request.prNumber, number != parsed.number {
                        throw CLIFailure("pr_number \(number) does not match the number of the URL (\(parsed.number))")
                    }
                    request.repo = parsed.repo
                    request.prNumber = parsed.number
                    request.prURL = request.prURL ?? url
                }
                if let repo = request.repo, let problem = Self.repoProblem(repo) { throw CLIFailure(problem) }
                if let problem = request.problem { throw CLIFailure(problem) }
                if let sha = request.headSHA, let problem = Self.shaProblem(sha) {
                    throw CLIFailure("head_sha: \(problem)")
                }
                requests.append((line.number, request))
            } catch let failure as CLIFailure {
                throw CLIFailure("\(origin) line \(line.number): \(failure.description)", exitCode: CLIExit.usage)
            }
        }
        return requests
    }

    // MARK: Checks shared with --from

    /// Parses `https://github.com/OWNER/NAME/pull/N` (a trailing slash is allowed).
    static func parsePullRequestURL(_ url: String) -> (repo: String, number: Int)? {
        guard let reference = PullRequestReference(url: url, enterpriseHost: enterpriseHost),
            repoProblem(reference.repo) == nil
        else { return nil }
        return (reference.repo, reference.number)
    }

    /// The web host of the GitHub Enterprise Server whose API `GITHUB_API_URL` names (the workers' setting), whose
    /// pull request URLs are accepted besides github.com's.
    static var enterpriseHost: String? {
        environment("GITHUB_API_URL").flatMap { $0.isEmpty ? nil : PullRequestReference.enterpriseHost(apiURL: $0) }
    }

    /// The expected shape of a pull request URL, for messages.
    static var pullRequestURLShape: String {
        "https://\(enterpriseHost ?? "github.com")/OWNER/NAME/pull/N"
    }

    /// Why a repository name is not `owner/name`, or `nil`.
    static func repoProblem(_ repo: String) -> String? {
        let parts = repo.split(separator: "/", omittingEmptySubsequences: false)
        let valid =
            parts.count == 2
            && parts.allSatisfy { part in
                (1...100).contains(part.utf8.count) && part != "." && part != ".."
                    && part.utf8.allSatisfy { byte in
                        byte.isASCIIDigit || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
                    }
            }
        return valid ? nil : "the repository must be OWNER/NAME, e.g. acme/api (got '\(repo.prefix(120))')"
    }

    /// Why a commit id is not 7-64 hexadecimal digits, or `nil`.
    static func shaProblem(_ sha: String) -> String? {
        let valid =
            (7...64).contains(sha.utf8.count)
            && sha.utf8.allSatisfy { $0.isASCIIDigit || (0x61...0x66).contains($0) || (0x41...0x46).contains($0) }
        return valid ? nil : "a commit id is 7-64 hexadecimal digits (got '\(sha.prefix(80))')"
    }
}

extension Optional {
    /// Maps the wrapped value with an async function.
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}

/// A decoding error in one line, naming the key path.
func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context, _ extra: (any CodingKey)? = nil) -> String {
        let keys = (context.codingPath + (extra.map { [$0] } ?? [])).map { key in
            key.intValue.map { "[\($0)]" } ?? key.stringValue
        }
        return keys.isEmpty ? "the document" : keys.joined(separator: ".")
    }
    switch error {
    case .keyNotFound(let key, let context): return "\(path(context, key)) is missing"
    case .typeMismatch(let type, let context): return "\(path(context)) must be \(typeName(type))"
    case .valueNotFound(let type, let context): return "\(path(context)) must be \(typeName(type)), not null"
    case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
    @unknown default: return "\(error)"
    }
}

private func typeName(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Int.Type: "a whole number"
    default: "a \(type)"
    }
}
