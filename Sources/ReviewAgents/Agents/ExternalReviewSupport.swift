// What review back-ends outside this module (the model back-end) need from the rules' own knowledge, so that
// their findings follow the same path roles and `agentqueue:ignore` comments as the built-in agents'.

/// What a file's path says about it, by the rules the built-in agents use.
public struct PathRole: Sendable, Hashable {
    /// A test or fixture.
    public let isTest: Bool
    /// A dependency lockfile (`package-lock.json`, `go.sum`, …).
    public let isLockfile: Bool
    /// Generated or vendored code (`*.pb.go`, `vendor/`, minified files, …).
    public let isGenerated: Bool
    /// A database migration.
    public let isMigration: Bool
    /// Documentation (`*.md`, `*.rst`, …).
    public let isDocumentation: Bool

    /// Classifies `path`.
    public init(path: String) {
        let traits = PathTraits(path: path)
        isTest = traits.isTest
        isLockfile = traits.isLockfile
        isGenerated = traits.isGenerated
        isMigration = traits.isMigration
        isDocumentation = traits.isDocumentation
    }
}

extension Finding {
    /// Whether an `agentqueue:ignore` comment on a line silences `ruleId` there: a bare marker silences every rule,
    /// `agentqueue:ignore a.b,c.*` the listed rules and prefixes.
    public static func isSuppressed(ruleId: String, lineText: String) -> Bool {
        var lexer = LineLexer(language: .other)
        let line = lexer.lex(Array(lineText.utf8), number: 0, isAdded: true)
        let rule = RuleDescriptor(id: ruleId, agent: .quality, defaultSeverity: .info, title: "", help: "")
        return FindingCollector.isSuppressed(line, rule: rule)
    }
}
