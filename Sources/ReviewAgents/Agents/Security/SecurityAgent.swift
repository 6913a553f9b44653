/// Looks for credentials and for code that lets input reach a dangerous place: shells, `eval`, SQL, file
/// paths, HTML, deserialisers; and for weakened TLS, weak cryptography and predictable secrets.
public struct SecurityAgent: ReviewAgent {
    /// Always ``AgentKind/security``.
    public var kind: AgentKind { .security }

    /// Creates the agent.
    public init() {}

    /// Reviews the added lines of every text file.
    public func review(_ input: ReviewInput) async throws -> [Finding] {
        var collector = FindingCollector(agent: .security, configuration: input.configuration)
        for file in input.reviewableFiles where !file.isBinary && file.diff.changeKind != .deleted {
            try Task.checkCancellation()
            try SecurityFileReview(file: file).run(into: &collector)
        }
        return collector.finish()
    }
}

/// The security rules applied to one file; each rule family is an extension in its own file beside this one.
struct SecurityFileReview {
    let file: SourceFile
    let language: Language

    init(file: SourceFile) {
        self.file = file
        language = file.language
    }

    func run(into collector: inout FindingCollector) throws {
        let name = file.fileName
        let bareValues: Bool =
            switch language {
            case .env, .yaml, .toml, .shell, .dockerfile: true
            case .other: name.hasPrefix(".") || !name.contains(".") || name.hasSuffix("rc")
            default: false
            }
        let scanner = SecretScanner(language: language, bareValues: bareValues, isTest: file.traits.isTest)
        let scanSecrets = !file.traits.isLockfile && !file.traits.isGenerated
        let judgeCode = language.isCode || language == .html
        let judgeConfig = [.yaml, .json, .toml, .env, .dockerfile, .xml, .other].contains(language)
        let fileMentionsChildProcess =
            language.isJavaScriptLike
            && file.hunks.contains { $0.contains { $0.raw.has("child_process") } }
        for hunk in file.hunks {
            var tainted: Set<String> = []
            for (index, line) in hunk.enumerated() {
                try Task.checkCancellation()
                if judgeCode && !line.isCommentOnly, language != .html, let name = taintedAssignment(line) {
                    tainted.insert(name)
                }
                guard line.isAdded, !line.isBlank else { continue }
                if scanSecrets && !SecretScanner.hashFieldMarkers.contains(where: { line.raw.has($0) }) {
                    let next = index + 1 < hunk.count ? hunk[index + 1] : nil
                    for hit in scanner.scan(line, next: next) {
                        collector.add(
                            hit.rule, file: file, line: line, message: hit.message, suggestion: hit.suggestion)
                    }
                }
                if judgeConfig || language == .shell {
                    tlsInConfig(line, &collector)
                }
                guard judgeCode, !line.isCommentOnly else { continue }
                commandInjection(line, childProcess: fileMentionsChildProcess, &collector)
                codeInjection(line, &collector)
                sqlInjection(line, &collector)
                pathTraversal(line, tainted: tainted, &collector)
                tlsInCode(line, &collector)
                weakCrypto(line, &collector)
                deserialization(line, &collector)
                randomness(line, &collector)
                xss(line, &collector)
                redos(line, &collector)
                if language.isJavaScriptLike { prototypePollution(line, index: index, hunk: hunk, &collector) }
            }
        }
    }
}

extension ArraySlice where Element == UInt8 {
    var string: String { String(decoding: self, as: UTF8.self) }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return String(text)
    }
}
