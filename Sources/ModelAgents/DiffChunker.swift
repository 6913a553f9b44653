import ReviewAgents

/// One prompt's worth of diff: whole hunks (or pieces of a hunk too large for one prompt), grouped by file.
struct DiffChunk: Sendable {
    /// The rendered hunks, under `File:` headers.
    var text: String
    /// For each path, the new-side numbers of the added lines this chunk shows: the lines findings may cite.
    var addedLines: [String: Set<Int>]
}

/// What will be sent for one agent: the chunks, and how many hunks the chunk limit left out.
struct ChunkPlan: Sendable {
    var summary: String
    var chunks: [DiffChunk]
    var skippedHunks: Int
}

/// Chooses the files an agent cares about and splits their hunks into chunks that fit the size budget.
enum DiffChunker {
    /// The files `agent` is asked about. Binary, ignored, lockfile and generated files go to no agent; docs and
    /// tests only to the agents that judge them.
    static func isRelevant(_ file: DiffFile, to agent: AgentKind, configuration: RepositoryConfiguration) -> Bool {
        if file.isBinary || configuration.isIgnored(path: file.path) { return false }
        let role = PathRole(path: file.path)
        if role.isLockfile || role.isGenerated { return false }
        switch agent {
        case .security, .scale: return !role.isDocumentation && !role.isTest
        case .quality: return !role.isDocumentation
        case .architecture: return true
        }
    }

    /// Splits the (already masked) diff for `agent` into chunks of at most `budget` bytes of rendered hunks.
    /// Only hunks that add lines are sent: findings must point at an added line (or at a whole file).
    static func plan(
        _ diff: ParsedDiff, agent: AgentKind, configuration: RepositoryConfiguration, budget: Int, maxChunks: Int
    ) -> ChunkPlan {
        var builder = ChunkBuilder(budget: max(budget, 200), maxChunks: max(maxChunks, 1))
        for file in diff.files where isRelevant(file, to: agent, configuration: configuration) {
            let header = fileHeader(file)
            for hunk in file.hunks where hunk.lines.contains(where: { $0.kind == .added }) {
                builder.add(hunk: hunk, path: file.path, fileHeader: header)
            }
        }
        return ChunkPlan(
            summary: summary(diff, configuration: configuration), chunks: builder.finish(),
            skippedHunks: builder.skippedHunks)
    }

    /// `File: path (modified, +3 -1)` with the old path of a rename or copy.
    static func fileHeader(_ file: DiffFile) -> String {
        var kind = file.changeKind.rawValue
        if file.changeKind == .renamed || file.changeKind == .copied, let old = file.oldPath {
            kind += " from \(old)"
        }
        return "File: \(file.path) (\(kind), +\(file.additions) -\(file.deletions))\n"
    }

    /// The list of every file in the change (ignored paths left out), so each agent sees the change's shape.
    static func summary(_ diff: ParsedDiff, configuration: RepositoryConfiguration) -> String {
        let files = diff.files.filter { !configuration.isIgnored(path: $0.path) }
        var text = "The pull request changes \(files.count) file\(files.count == 1 ? "" : "s") "
        text += "(+\(files.reduce(0) { $0 + $1.additions }) -\(files.reduce(0) { $0 + $1.deletions })):\n"
        let shown = 200
        for file in files.prefix(shown) {
            let letter =
                switch file.changeKind {
                case .added: "A"
                case .deleted: "D"
                case .modified: "M"
                case .renamed: "R"
                case .copied: "C"
                }
            let size = file.isBinary ? "binary" : "+\(file.additions) -\(file.deletions)"
            text += "  \(letter) \(file.path) (\(size))\n"
        }
        if files.count > shown { text += "  … and \(files.count - shown) more files\n" }
        return text
    }

    /// A hunk line as the model sees it: marker, new-side number (blank for removed lines), `|`, text.
    static func render(_ line: DiffLine) -> String {
        let marker =
            switch line.kind {
            case .added: "+"
            case .removed: "-"
            case .context: " "
            }
        let number = line.kind == .removed ? "" : line.newLine.map(String.init) ?? ""
        let padded = String(repeating: " ", count: max(0, 6 - number.count)) + number
        return "\(marker)\(padded) | \(line.text)\n"
    }

    static func hunkHeader(_ hunk: DiffHunk, continued: Bool) -> String {
        var text = "@@ -\(hunk.oldStart),\(hunk.oldCount) +\(hunk.newStart),\(hunk.newCount) @@"
        if !hunk.section.isEmpty { text += " \(hunk.section)" }
        if continued { text += " (continued)" }
        return text + "\n"
    }
}

/// Greedy packing of rendered hunks into chunks.
private struct ChunkBuilder {
    let budget: Int
    let maxChunks: Int
    private(set) var skippedHunks = 0
    private var chunks: [DiffChunk] = []
    private var current = DiffChunk(text: "", addedLines: [:])
    private var currentBytes = 0
    private var currentFile: String?
    private var full = false

    init(budget: Int, maxChunks: Int) {
        self.budget = budget
        self.maxChunks = maxChunks
    }

    mutating func add(hunk: DiffHunk, path: String, fileHeader: String) {
        if full {
            skippedHunks += 1
            return
        }
        // Render the hunk as pieces that each fit the budget with a file header.
        var pieces: [(text: String, added: [Int])] = []
        var text = DiffChunker.hunkHeader(hunk, continued: false)
        var added: [Int] = []
        var hasLines = false
        let room = max(budget - fileHeader.utf8.count, 120)
        for line in hunk.lines {
            var rendered = DiffChunker.render(line)
            let headerBytes = DiffChunker.hunkHeader(hunk, continued: true).utf8.count
            if rendered.utf8.count + headerBytes > room {
                // A single enormous line (minified code, a data blob): keep its start.
                rendered = String(
                    decoding: Array(rendered.utf8.prefix(max(80, room - headerBytes - 40))), as: UTF8.self)
                rendered += " …[line truncated]\n"
            }
            if hasLines && text.utf8.count + rendered.utf8.count > room {
                pieces.append((text, added))
                text = DiffChunker.hunkHeader(hunk, continued: true)
                added = []
                hasLines = false
            }
            text += rendered
            hasLines = true
            if line.kind == .added, let number = line.newLine { added.append(number) }
        }
        if hasLines { pieces.append((text, added)) }

        for piece in pieces {
            let needsHeader = currentFile != path
            let bytes = piece.text.utf8.count + (needsHeader ? fileHeader.utf8.count : 0)
            if currentBytes > 0 && currentBytes + bytes > budget {
                guard startChunk() else {
                    // Counted once even when its first pieces were sent: the hunk was not reviewed whole.
                    skippedHunks += 1
                    return
                }
            }
            if currentFile != path {
                current.text += (current.text.isEmpty ? "" : "\n") + fileHeader
                currentBytes += fileHeader.utf8.count
                currentFile = path
            }
            current.text += piece.text
            currentBytes += piece.text.utf8.count
            current.addedLines[path, default: []].formUnion(piece.added)
        }
    }

    /// Closes the current chunk; false when the limit is reached (and nothing more is accepted).
    private mutating func startChunk() -> Bool {
        if chunks.count + 1 >= maxChunks {
            full = true
            return false
        }
        chunks.append(current)
        current = DiffChunk(text: "", addedLines: [:])
        currentBytes = 0
        currentFile = nil
        return true
    }

    mutating func finish() -> [DiffChunk] {
        if currentBytes > 0 { chunks.append(current) }
        return chunks
    }
}
