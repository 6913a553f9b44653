/// One file of the diff prepared for the rules: new-side lines lexed per hunk, plus path traits.
struct SourceFile: Sendable {
    let diff: DiffFile
    let path: String
    let language: Language
    let traits: PathTraits
    /// New-side lines (context and added) of each hunk, in order.
    let hunks: [[SourceLine]]
    /// Removed lines' text, for telling a changed dependency from a new one.
    let removedLines: [[UInt8]]
    let addedCount: Int

    var isBinary: Bool { diff.isBinary }

    /// All added lines in order.
    var addedLines: [SourceLine] { hunks.flatMap { $0.filter(\.isAdded) } }

    /// The directory part of the path ("" for a top-level file).
    var directory: String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    var fileName: String { path.split(separator: "/").last.map(String.init) ?? path }

    init(_ diff: DiffFile) {
        self.diff = diff
        path = diff.path
        language = Language(path: diff.path)
        traits = PathTraits(path: diff.path)
        var lexer = LineLexer(language: language)
        var hunks: [[SourceLine]] = []
        var removed: [[UInt8]] = []
        var added = 0
        hunks.reserveCapacity(diff.hunks.count)
        for hunk in diff.hunks {
            lexer.reset()
            var lines: [SourceLine] = []
            lines.reserveCapacity(hunk.lines.count)
            for line in hunk.lines {
                switch line.kind {
                case .removed:
                    removed.append(Array(line.text.utf8))
                case .added, .context:
                    guard let number = line.newLine else { continue }
                    let isAdded = line.kind == .added
                    if isAdded { added += 1 }
                    lines.append(lexer.lex(Array(line.text.utf8), number: number, isAdded: isAdded))
                }
            }
            hunks.append(lines)
        }
        self.hunks = hunks
        removedLines = removed
        addedCount = added
    }
}

/// The whole diff prepared once and shared by the agents.
struct DiffAnalysis: Sendable {
    let files: [SourceFile]
    let addedLineCount: Int
    let removedLineCount: Int

    init(_ diff: ParsedDiff) {
        files = diff.files.map(SourceFile.init)
        addedLineCount = files.reduce(0) { $0 + $1.addedCount }
        removedLineCount = files.reduce(0) { $0 + $1.removedLines.count }
    }
}
