/// A unified diff split into files, hunks and lines, as produced by ``DiffParser``.
public struct ParsedDiff: Sendable, Hashable, Codable {
    /// The files the diff touches, in the order they appear in the input.
    public var files: [DiffFile]
    /// The size of the input in bytes.
    public var byteCount: Int

    /// Creates a diff from already parsed files.
    public init(files: [DiffFile], byteCount: Int = 0) {
        self.files = files
        self.byteCount = byteCount
    }

    /// Whether the diff changes nothing: it has no file (the input was empty or only whitespace), or none of its
    /// files is added, deleted, renamed, copied, binary, changes mode or has an added or removed line.
    ///
    /// An empty diff gives the agents nothing to find, so a review of it must not count as an approval;
    /// ``DiffParser/parse(bytes:limits:rejectingEmpty:)`` with `rejectingEmpty: true` throws
    /// ``DiffParseError/Code/emptyDiff`` for it.
    public var isEmpty: Bool { files.allSatisfy(\.changesNothing) }

    /// The number of added lines over all files.
    public var additions: Int { files.reduce(0) { $0 + $1.additions } }
    /// The number of removed lines over all files.
    public var deletions: Int { files.reduce(0) { $0 + $1.deletions } }

    enum CodingKeys: String, CodingKey {
        case files
        case byteCount = "byte_count"
    }
}

/// One file of a diff: its paths, what happened to it, and its hunks.
public struct DiffFile: Sendable, Hashable, Codable {
    /// What the diff does to a file.
    public enum ChangeKind: String, Sendable, Hashable, Codable, CaseIterable {
        /// The file is new.
        case added
        /// The file is removed.
        case deleted
        /// The file keeps its path and changes content or mode.
        case modified
        /// The file moved to a new path (its content may change too).
        case renamed
        /// The file was copied to a new path (its content may change too).
        case copied
    }

    /// The path before the change, without the `a/` prefix; nil for an added file.
    public var oldPath: String?
    /// The path after the change, without the `b/` prefix; nil for a deleted file.
    public var newPath: String?
    /// What the diff does to the file.
    public var changeKind: ChangeKind
    /// Whether git reported the file as binary (it then has no hunks).
    public var isBinary: Bool
    /// The file mode before the change, such as `100644`, when the diff states it.
    public var oldMode: String?
    /// The file mode after the change, such as `100755`, when the diff states it.
    public var newMode: String?
    /// The similarity percentage of a rename or copy.
    public var similarity: Int?
    /// The hunks, in order.
    public var hunks: [DiffHunk]

    /// Creates a file entry.
    public init(
        oldPath: String?,
        newPath: String?,
        changeKind: ChangeKind,
        isBinary: Bool = false,
        oldMode: String? = nil,
        newMode: String? = nil,
        similarity: Int? = nil,
        hunks: [DiffHunk] = []
    ) {
        self.oldPath = oldPath
        self.newPath = newPath
        self.changeKind = changeKind
        self.isBinary = isBinary
        self.oldMode = oldMode
        self.newMode = newMode
        self.similarity = similarity
        self.hunks = hunks
    }

    /// The path findings refer to: the new path, or the old one for a deleted file.
    public var path: String { newPath ?? oldPath ?? "" }

    /// Whether the file mode changes (for example a script made executable).
    public var hasModeChange: Bool {
        guard let oldMode, let newMode else { return false }
        return oldMode != newMode
    }

    /// Whether the entry changes nothing at all: a modification without mode change and without an added or
    /// removed line.
    var changesNothing: Bool {
        changeKind == .modified && !isBinary && !hasModeChange
            && hunks.allSatisfy { hunk in hunk.lines.allSatisfy { $0.kind == .context } }
    }

    /// The number of added lines.
    public var additions: Int { hunks.reduce(0) { $0 + $1.lines.count(where: { $0.kind == .added }) } }
    /// The number of removed lines.
    public var deletions: Int { hunks.reduce(0) { $0 + $1.lines.count(where: { $0.kind == .removed }) } }

    enum CodingKeys: String, CodingKey {
        case oldPath = "old_path"
        case newPath = "new_path"
        case changeKind = "change_kind"
        case isBinary = "is_binary"
        case oldMode = "old_mode"
        case newMode = "new_mode"
        case similarity
        case hunks
    }
}

/// A hunk: a run of changed lines with their surrounding context.
public struct DiffHunk: Sendable, Hashable, Codable {
    /// The first old-side line number the hunk covers.
    public var oldStart: Int
    /// How many old-side lines the header announces.
    public var oldCount: Int
    /// The first new-side line number the hunk covers.
    public var newStart: Int
    /// How many new-side lines the header announces.
    public var newCount: Int
    /// The text after the second `@@` (git puts the enclosing function there).
    public var section: String
    /// The lines of the hunk.
    public var lines: [DiffLine]
    /// Whether the input ended (or the next file began) before the announced line counts were reached.
    public var isTruncated: Bool

    /// Creates a hunk.
    public init(
        oldStart: Int, oldCount: Int, newStart: Int, newCount: Int,
        section: String = "", lines: [DiffLine] = [], isTruncated: Bool = false
    ) {
        self.oldStart = oldStart
        self.oldCount = oldCount
        self.newStart = newStart
        self.newCount = newCount
        self.section = section
        self.lines = lines
        self.isTruncated = isTruncated
    }

    enum CodingKeys: String, CodingKey {
        case oldStart = "old_start"
        case oldCount = "old_count"
        case newStart = "new_start"
        case newCount = "new_count"
        case section
        case lines
        case isTruncated = "is_truncated"
    }
}

/// One line of a hunk.
public struct DiffLine: Sendable, Hashable, Codable {
    /// Whether a line is kept, added or removed.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// Unchanged context (present on both sides).
        case context
        /// Present only on the new side.
        case added
        /// Present only on the old side.
        case removed
    }

    /// Whether the line is kept, added or removed.
    public var kind: Kind
    /// The line's content without the leading marker, the newline or a trailing carriage return.
    /// Bytes that are not UTF-8 are replaced by U+FFFD.
    public var text: String
    /// The line number on the old side, for context and removed lines.
    public var oldLine: Int?
    /// The line number on the new side, for context and added lines.
    public var newLine: Int?
    /// Whether git marked this line with "\ No newline at end of file".
    public var noNewlineAtEnd: Bool

    /// Creates a line.
    public init(kind: Kind, text: String, oldLine: Int?, newLine: Int?, noNewlineAtEnd: Bool = false) {
        self.kind = kind
        self.text = text
        self.oldLine = oldLine
        self.newLine = newLine
        self.noNewlineAtEnd = noNewlineAtEnd
    }

    enum CodingKeys: String, CodingKey {
        case kind
        case text
        case oldLine = "old_line"
        case newLine = "new_line"
        case noNewlineAtEnd = "no_newline_at_end"
    }
}
