/// Parses unified diffs as git writes them (and plain `diff -u` output) into a ``ParsedDiff``.
///
/// The parser works on bytes, so it accepts any input: text that is not UTF-8 is decoded with
/// replacement characters, CRLF line ends are stripped, binary patches are skipped, and a hunk cut
/// short by the end of the input is kept and marked ``DiffHunk/isTruncated``. Inputs it cannot make
/// sense of, or that exceed ``DiffLimits``, raise a ``DiffParseError``; it never traps. Its time and
/// memory grow linearly with the input.
///
/// A hunk must hold exactly the lines its header announces: a `+`, `-` or space line right after the
/// last announced line (blank lines and `\ No newline at end of file` in between aside) is an error,
/// not something to drop. An email signature (`-- `) after the last hunk of a `git format-patch` mail
/// is not part of the hunk.
public enum DiffParser {
    /// Parses a diff held in a string.
    ///
    /// - Parameters:
    ///   - limits: Bounds on the input's size, line count and file count.
    ///   - rejectingEmpty: Whether a diff that changes nothing (see ``ParsedDiff/isEmpty``) throws
    ///     ``DiffParseError/Code/emptyDiff`` instead of returning an empty ``ParsedDiff``. Reviewers should
    ///     pass true: an empty diff has nothing to approve.
    public static func parse(
        _ text: String, limits: DiffLimits = .default, rejectingEmpty: Bool = false
    ) throws(DiffParseError) -> ParsedDiff {
        try parse(bytes: Array(text.utf8), limits: limits, rejectingEmpty: rejectingEmpty)
    }

    /// Parses a diff held in bytes.
    ///
    /// - Parameters:
    ///   - limits: Bounds on the input's size, line count and file count.
    ///   - rejectingEmpty: Whether a diff that changes nothing (see ``ParsedDiff/isEmpty``) throws
    ///     ``DiffParseError/Code/emptyDiff`` instead of returning an empty ``ParsedDiff``.
    public static func parse(
        bytes: [UInt8], limits: DiffLimits = .default, rejectingEmpty: Bool = false
    ) throws(DiffParseError) -> ParsedDiff {
        // Without cancellation checks the parse always runs to its end.
        guard let diff = try parse(bytes, limits: limits, rejectingEmpty: rejectingEmpty, checkingCancellation: false)
        else { preconditionFailure("a parse without cancellation checks stopped early") }
        return diff
    }

    /// Parses a diff held in a string like ``parse(_:limits:rejectingEmpty:)``, and stops soon after the current
    /// task is cancelled.
    ///
    /// - Throws: `CancellationError` when the task is cancelled before the parse ends (the input is checked every
    ///   few thousand lines, so even a huge diff stops within milliseconds), otherwise a ``DiffParseError``.
    public static func parseCheckingCancellation(
        _ text: String, limits: DiffLimits = .default, rejectingEmpty: Bool = false
    ) throws -> ParsedDiff {
        try parseCheckingCancellation(bytes: Array(text.utf8), limits: limits, rejectingEmpty: rejectingEmpty)
    }

    /// Parses a diff held in bytes like ``parse(bytes:limits:rejectingEmpty:)``, and stops soon after the current
    /// task is cancelled.
    ///
    /// - Throws: `CancellationError` when the task is cancelled before the parse ends (the input is checked every
    ///   few thousand lines, so even a huge diff stops within milliseconds), otherwise a ``DiffParseError``.
    public static func parseCheckingCancellation(
        bytes: [UInt8], limits: DiffLimits = .default, rejectingEmpty: Bool = false
    ) throws -> ParsedDiff {
        try Task.checkCancellation()
        guard let diff = try parse(bytes, limits: limits, rejectingEmpty: rejectingEmpty, checkingCancellation: true)
        else { throw CancellationError() }
        return diff
    }

    /// The parse behind every entry point; nil when it stopped because the task was cancelled.
    private static func parse(
        _ bytes: [UInt8], limits: DiffLimits, rejectingEmpty: Bool, checkingCancellation: Bool
    ) throws(DiffParseError) -> ParsedDiff? {
        guard bytes.count <= limits.maxBytes else {
            throw .inputTooLarge(bytes: bytes.count, limit: limits.maxBytes)
        }
        var state = ParserState(bytes: bytes, limits: limits, checksCancellation: checkingCancellation)
        guard try state.run() else { return nil }
        let diff = ParsedDiff(files: state.files, byteCount: bytes.count)
        if rejectingEmpty && diff.isEmpty { throw .emptyDiff() }
        return diff
    }
}

private struct FileBuilder {
    var isGit: Bool
    var gitOld: String?
    var gitNew: String?
    var minusPath: String?
    var plusPath: String?
    var sawMinus = false
    var renameFrom: String?
    var renameTo: String?
    var copyFrom: String?
    var copyTo: String?
    var isNewFile = false
    var isDeletedFile = false
    var isBinary = false
    var oldMode: String?
    var newMode: String?
    var similarity: Int?
    var hunks: [DiffHunk] = []

    init(isGit: Bool) { self.isGit = isGit }

    /// The path error messages name: the new path, or the old one for a deletion.
    var displayPath: String {
        let devNull = "/dev/null"
        let new = renameTo ?? copyTo ?? plusPath ?? gitNew
        if let new, new != devNull { return new }
        return renameFrom ?? copyFrom ?? minusPath ?? gitOld ?? "?"
    }

    func build() -> DiffFile {
        let devNull = "/dev/null"
        var old = renameFrom ?? copyFrom ?? minusPath ?? gitOld
        var new = renameTo ?? copyTo ?? plusPath ?? gitNew
        var kind = DiffFile.ChangeKind.modified
        if renameFrom != nil || renameTo != nil {
            kind = .renamed
        } else if copyFrom != nil || copyTo != nil {
            kind = .copied
        } else if isNewFile || minusPath == devNull {
            kind = .added
        } else if isDeletedFile || plusPath == devNull {
            kind = .deleted
        }
        if old == devNull { old = nil }
        if new == devNull { new = nil }
        switch kind {
        case .added: old = nil
        case .deleted: new = nil
        default: break
        }
        var oldMode = oldMode
        var newMode = newMode
        if kind == .added { oldMode = nil }
        if kind == .deleted { newMode = nil }
        return DiffFile(
            oldPath: old, newPath: new, changeKind: kind, isBinary: isBinary,
            oldMode: oldMode, newMode: newMode, similarity: similarity, hunks: hunks
        )
    }
}

/// The hunk being read: its header and how many lines each side still expects. Its lines are kept apart, in
/// ``ParserState/hunkLines``, so appending to them never copies them.
private struct OpenHunk {
    var header: DiffHunk
    var oldRemaining: Int
    var newRemaining: Int
    var oldNext: Int
    var newNext: Int

    var isComplete: Bool { oldRemaining == 0 && newRemaining == 0 }
}

private struct ParserState {
    enum Mode { case header, hunk, binaryPatch }

    /// How many lines pass between two looks at the task's cancellation flag.
    static let cancellationInterval = 4096

    let bytes: [UInt8]
    let limits: DiffLimits
    let checksCancellation: Bool
    var files: [DiffFile] = []
    var current: FileBuilder?
    var hunk: OpenHunk?
    var hunkLines: [DiffLine] = []
    /// The header of the hunk that just ended with its announced counts, while the lines after it may still be
    /// surplus lines of it.
    var completedHunk: DiffHunk?
    var mode: Mode = .header
    var sawAnyHeader = false
    var lineNumber = 0

    init(bytes: [UInt8], limits: DiffLimits, checksCancellation: Bool) {
        self.bytes = bytes
        self.limits = limits
        self.checksCancellation = checksCancellation
    }

    /// The line starting at `start`, without "\n" and without a trailing "\r", and where the next line starts.
    func line(at start: Int) -> (range: Range<Int>, next: Int) {
        bytes.withUnsafeBufferPointer { buffer in
            let count = buffer.count
            var index = start
            while index < count && buffer[index] != 0x0A { index += 1 }
            var end = index
            if end > start && buffer[end - 1] == 0x0D { end -= 1 }
            return (start..<end, min(index + 1, count))
        }
    }

    /// Reads every line; returns false when it stopped because the task was cancelled.
    mutating func run() throws(DiffParseError) -> Bool {
        var start = 0
        var number = 0
        while start < bytes.count {
            number += 1
            guard number <= limits.maxLines else { throw .tooManyLines(limit: limits.maxLines) }
            if checksCancellation && number % Self.cancellationInterval == 0 && Task.isCancelled { return false }
            lineNumber = number
            let (range, next) = line(at: start)
            let following = next < bytes.count ? line(at: next) : nil
            if try process(range, next: following?.range) == 2, let following {
                number += 1
                start = following.next
            } else {
                start = next
            }
        }
        lineNumber = number
        finishHunk(truncated: true)
        try finishFile()
        if files.isEmpty && !sawAnyHeader
            && bytes.contains(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) })
        {
            throw .notADiff()
        }
        return true
    }

    // MARK: Lines

    func starts(_ range: Range<Int>, with prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard range.count >= count else { return false }
        return prefix.withUTF8Buffer { p in
            for k in 0..<count where bytes[range.lowerBound + k] != p[k] { return false }
            return true
        }
    }

    func text(_ range: Range<Int>, dropping count: Int = 0) -> String {
        let lower = min(range.lowerBound + count, range.upperBound)
        return String(decoding: bytes[lower..<range.upperBound], as: UTF8.self)
    }

    /// Handles one line; returns how many lines were consumed.
    mutating func process(_ range: Range<Int>, next: Range<Int>?) throws(DiffParseError) -> Int {
        switch mode {
        case .hunk:
            if try processHunkLine(range) { return 1 }
        case .binaryPatch:
            if !starts(range, with: "diff ") { return 1 }
            mode = .header
        case .header:
            break
        }
        if completedHunk != nil { try checkAfterCompletedHunk(range, next: next) }
        return try processHeaderLine(range, next: next)
    }

    /// The surplus-line error for the hunk `header` of the current file.
    func hunkTooLong(_ header: DiffHunk) -> DiffParseError {
        .hunkLongerThanHeader(
            header: "@@ -\(header.oldStart),\(header.oldCount) +\(header.newStart),\(header.newCount) @@",
            path: current?.displayPath ?? "?", line: lineNumber)
    }

    /// A line after a hunk that ended with its announced counts: a `+`, `-` or space line there is a surplus line
    /// of that hunk, unless it starts the next file or is a `git format-patch` signature. Blank lines and
    /// `\ No newline at end of file` keep the question open; any other line closes it.
    mutating func checkAfterCompletedHunk(_ range: Range<Int>, next: Range<Int>?) throws(DiffParseError) {
        guard let header = completedHunk else { return }
        let first: UInt8 = range.isEmpty ? 0 : bytes[range.lowerBound]
        switch first {
        case 0, UInt8(ascii: "\\"):
            return
        case UInt8(ascii: "+"), UInt8(ascii: " "):
            throw hunkTooLong(header)
        case UInt8(ascii: "-"):
            let startsFile = starts(range, with: "--- ") && next.map { starts($0, with: "+++ ") } == true
            let isSignature = range.count == 2 || (range.count == 3 && bytes[range.lowerBound + 2] == 0x20)
            let signature = isSignature && bytes[range.lowerBound + 1] == UInt8(ascii: "-")
            guard startsFile || signature else { throw hunkTooLong(header) }
        default:
            break
        }
        completedHunk = nil
    }

    /// Returns false when the line ends the hunk early and must be read as a header.
    mutating func processHunkLine(_ range: Range<Int>) throws(DiffParseError) -> Bool {
        guard var open = hunk else {
            mode = .header
            return false
        }
        let first: UInt8 = range.isEmpty ? 0 : bytes[range.lowerBound]
        switch first {
        case UInt8(ascii: " "), 0:
            // An empty line is a context line whose space a tool stripped.
            guard open.oldRemaining > 0 && open.newRemaining > 0 else { throw hunkTooLong(open.header) }
            hunkLines.append(
                DiffLine(kind: .context, text: text(range, dropping: 1), oldLine: open.oldNext, newLine: open.newNext)
            )
            open.oldNext += 1
            open.newNext += 1
            open.oldRemaining -= 1
            open.newRemaining -= 1
        case UInt8(ascii: "+"):
            guard open.newRemaining > 0 else { throw hunkTooLong(open.header) }
            hunkLines.append(
                DiffLine(kind: .added, text: text(range, dropping: 1), oldLine: nil, newLine: open.newNext))
            open.newNext += 1
            open.newRemaining -= 1
        case UInt8(ascii: "-"):
            guard open.oldRemaining > 0 else { throw hunkTooLong(open.header) }
            hunkLines.append(
                DiffLine(kind: .removed, text: text(range, dropping: 1), oldLine: open.oldNext, newLine: nil))
            open.oldNext += 1
            open.oldRemaining -= 1
        case UInt8(ascii: "\\"):
            if !hunkLines.isEmpty { hunkLines[hunkLines.count - 1].noNewlineAtEnd = true }
        default:
            if starts(range, with: "diff ") || starts(range, with: "@@") {
                finishHunk(truncated: true)
                return false
            }
            throw .unexpectedLine(line: lineNumber, reason: "a hunk line must start with ' ', '+', '-' or '\\'")
        }
        // `open` holds no line array, so copying it in and out of `hunk` is cheap.
        hunk = open
        if open.isComplete { finishHunk(truncated: false) }
        return true
    }

    mutating func finishHunk(truncated: Bool) {
        guard var open = hunk else { return }
        hunk = nil
        open.header.isTruncated = truncated
        completedHunk = truncated ? nil : open.header
        // Moves the lines into the hunk: the array's storage changes hands, its elements are not copied.
        open.header.lines = hunkLines
        hunkLines = []
        current?.hunks.append(open.header)
        mode = .header
    }

    mutating func finishFile() throws(DiffParseError) {
        guard let file = current else { return }
        current = nil
        guard files.count < limits.maxFiles else { throw .tooManyFiles(limit: limits.maxFiles) }
        files.append(file.build())
    }

    mutating func startFile(isGit: Bool) throws(DiffParseError) {
        try finishFile()
        current = FileBuilder(isGit: isGit)
        sawAnyHeader = true
    }

    mutating func processHeaderLine(_ range: Range<Int>, next: Range<Int>?) throws(DiffParseError) -> Int {
        if starts(range, with: "diff --git ") {
            try startFile(isGit: true)
            let (old, new) = Self.splitGitHeaderPaths(Array(bytes[(range.lowerBound + 11)..<range.upperBound]))
            current?.gitOld = old
            current?.gitNew = new
            return 1
        }
        if starts(range, with: "diff --cc ") || starts(range, with: "diff --combined ") {
            throw .combinedDiff(line: lineNumber)
        }
        if starts(range, with: "@@@") {
            throw .combinedDiff(line: lineNumber)
        }
        if starts(range, with: "--- "), let next, starts(next, with: "+++ ") {
            if current == nil || current?.isGit == false || current?.sawMinus == true || current?.hunks.isEmpty == false
            {
                try startFile(isGit: false)
            }
            let isGit = current?.isGit ?? false
            let minusPath = parseMarkerPath(range, isGit: isGit, prefix: "a/")
            let plusPath = parseMarkerPath(next, isGit: isGit, prefix: "b/")
            current?.sawMinus = true
            current?.minusPath = minusPath
            current?.plusPath = plusPath
            if current?.isGit == false {
                stripPlainPrefixes()
            }
            return 2
        }
        if starts(range, with: "@@") {
            guard current != nil else {
                throw .unexpectedLine(line: lineNumber, reason: "a hunk appears before any file header")
            }
            guard let header = parseHunkHeader(range) else { throw .malformedHunkHeader(line: lineNumber) }
            hunk = OpenHunk(
                header: header, oldRemaining: header.oldCount, newRemaining: header.newCount,
                oldNext: header.oldStart, newNext: header.newStart
            )
            completedHunk = nil
            mode = .hunk
            if header.oldCount == 0 && header.newCount == 0 { finishHunk(truncated: false) }
            return 1
        }
        if starts(range, with: "\\") {
            // Marks the last line of the file's last hunk, in place (no copy of the hunk or its lines).
            if let hunkIndex = current?.hunks.indices.last, let lineIndex = current?.hunks[hunkIndex].lines.indices.last
            {
                current?.hunks[hunkIndex].lines[lineIndex].noNewlineAtEnd = true
            }
            return 1
        }
        guard current?.isGit == true, current?.hunks.isEmpty == true, current?.sawMinus == false else { return 1 }
        try processExtendedHeader(range)
        return 1
    }

    mutating func processExtendedHeader(_ range: Range<Int>) throws(DiffParseError) {
        guard var file = current else { return }
        defer { current = file }
        if starts(range, with: "new file mode ") {
            file.isNewFile = true
            file.newMode = text(range, dropping: 14)
        } else if starts(range, with: "deleted file mode ") {
            file.isDeletedFile = true
            file.oldMode = text(range, dropping: 18)
        } else if starts(range, with: "old mode ") {
            file.oldMode = text(range, dropping: 9)
        } else if starts(range, with: "new mode ") {
            file.newMode = text(range, dropping: 9)
        } else if starts(range, with: "similarity index ") || starts(range, with: "dissimilarity index ") {
            let value = text(range).split(separator: " ").last.map { $0.filter(\.isNumber) }
            if let value, let number = Int(value) {
                file.similarity = starts(range, with: "d") ? 100 - number : number
            }
        } else if starts(range, with: "rename from ") {
            file.renameFrom = Self.unquotePath(Array(bytes[(range.lowerBound + 12)..<range.upperBound]))
        } else if starts(range, with: "rename to ") {
            file.renameTo = Self.unquotePath(Array(bytes[(range.lowerBound + 10)..<range.upperBound]))
        } else if starts(range, with: "copy from ") {
            file.copyFrom = Self.unquotePath(Array(bytes[(range.lowerBound + 10)..<range.upperBound]))
        } else if starts(range, with: "copy to ") {
            file.copyTo = Self.unquotePath(Array(bytes[(range.lowerBound + 8)..<range.upperBound]))
        } else if starts(range, with: "index ") {
            // "index abc..def 100644": the mode applies to both sides when it is not otherwise stated.
            let parts = text(range).split(separator: " ")
            if parts.count == 3 {
                let mode = String(parts[2])
                if file.oldMode == nil && !file.isNewFile { file.oldMode = mode }
                if file.newMode == nil && !file.isDeletedFile { file.newMode = mode }
            }
        } else if starts(range, with: "Binary files ") {
            file.isBinary = true
            // "Binary files /dev/null and b/x differ" marks added and deleted binaries.
            let line = text(range)
            if line.hasPrefix("Binary files /dev/null ") { file.isNewFile = true }
            if line.hasSuffix(" and /dev/null differ") { file.isDeletedFile = true }
        } else if starts(range, with: "GIT binary patch") {
            file.isBinary = true
            mode = .binaryPatch
        }
    }

    mutating func stripPlainPrefixes() {
        guard let minus = current?.minusPath, let plus = current?.plusPath else { return }
        let oldHasPrefix = minus.hasPrefix("a/") || minus == "/dev/null"
        let newHasPrefix = plus.hasPrefix("b/") || plus == "/dev/null"
        guard oldHasPrefix && newHasPrefix else { return }
        if minus != "/dev/null" { current?.minusPath = String(minus.dropFirst(2)) }
        if plus != "/dev/null" { current?.plusPath = String(plus.dropFirst(2)) }
    }

    /// Reads the path of a `---` or `+++` line: unquotes it, drops a timestamp after a tab, and in git
    /// mode drops the `a/` or `b/` prefix.
    func parseMarkerPath(_ range: Range<Int>, isGit: Bool, prefix: String) -> String {
        var raw = Array(bytes[(range.lowerBound + 4)..<range.upperBound])
        if raw.first != UInt8(ascii: "\""), let tab = raw.firstIndex(of: 0x09) {
            raw = Array(raw[..<tab])
        }
        var path = Self.unquotePath(raw)
        if isGit && path != "/dev/null" && path.hasPrefix(prefix) { path.removeFirst(2) }
        return path
    }

    func parseHunkHeader(_ range: Range<Int>) -> DiffHunk? {
        var i = range.lowerBound + 2
        let end = range.upperBound
        func skip(_ byte: UInt8) -> Bool {
            guard i < end, bytes[i] == byte else { return false }
            i += 1
            return true
        }
        func number() -> Int? {
            var value = 0
            var digits = 0
            while i < end, bytes[i].isASCIIDigit, digits < 10 {
                value = value * 10 + Int(bytes[i] - 0x30)
                i += 1
                digits += 1
            }
            return digits > 0 && (i >= end || !bytes[i].isASCIIDigit) ? value : nil
        }
        guard skip(0x20), skip(UInt8(ascii: "-")), let oldStart = number() else { return nil }
        var oldCount = 1
        if skip(UInt8(ascii: ",")) {
            guard let value = number() else { return nil }
            oldCount = value
        }
        guard skip(0x20), skip(UInt8(ascii: "+")), let newStart = number() else { return nil }
        var newCount = 1
        if skip(UInt8(ascii: ",")) {
            guard let value = number() else { return nil }
            newCount = value
        }
        guard skip(0x20), skip(UInt8(ascii: "@")), skip(UInt8(ascii: "@")) else { return nil }
        _ = skip(0x20)
        let section = String(decoding: bytes[i..<end], as: UTF8.self)
        return DiffHunk(
            oldStart: oldStart, oldCount: oldCount, newStart: newStart, newCount: newCount, section: section)
    }

    // MARK: Paths

    /// Splits the two paths of a `diff --git` line; handles quoted paths and paths with spaces.
    static func splitGitHeaderPaths(_ rest: [UInt8]) -> (String?, String?) {
        if rest.first == UInt8(ascii: "\"") {
            guard let (first, afterFirst) = readQuoted(rest, from: 0) else { return (nil, nil) }
            let second = Array(rest[min(afterFirst + 1, rest.count)...])
            return (dropPrefix(first), dropPrefix(unquotePath(second)))
        }
        // Unquoted: "a/X b/Y". Prefer the split where both sides name the same path.
        let text = String(decoding: rest, as: UTF8.self)
        if text.hasSuffix("\""),
            let quoteStart = rest.lastIndex(of: UInt8(ascii: "\"")).flatMap({ index -> Int? in
                var k = index - 1
                while k >= 0 && rest[k] != UInt8(ascii: "\"") { k -= 1 }
                return k > 0 ? k : nil
            })
        {
            let first = String(decoding: rest[..<max(quoteStart - 1, 0)], as: UTF8.self)
            return (dropPrefix(first), dropPrefix(unquotePath(Array(rest[quoteStart...]))))
        }
        var candidates: [Int] = []
        var i = 0
        while i + 3 <= rest.count {
            if rest[i] == 0x20 && rest[i + 1] == UInt8(ascii: "b") && rest[i + 2] == UInt8(ascii: "/") {
                candidates.append(i)
            }
            i += 1
        }
        for split in candidates {
            let first = String(decoding: rest[..<split], as: UTF8.self)
            let second = String(decoding: rest[(split + 1)...], as: UTF8.self)
            if first.dropFirst(2) == second.dropFirst(2) { return (dropPrefix(first), dropPrefix(second)) }
        }
        if let split = candidates.first {
            let first = String(decoding: rest[..<split], as: UTF8.self)
            let second = String(decoding: rest[(split + 1)...], as: UTF8.self)
            return (dropPrefix(first), dropPrefix(second))
        }
        // No prefixes (diff.noprefix): split in the middle when both halves match.
        if rest.count % 2 == 1 {
            let half = rest.count / 2
            if rest[half] == 0x20 && Array(rest[..<half]) == Array(rest[(half + 1)...]) {
                let path = String(decoding: rest[..<half], as: UTF8.self)
                return (path, path)
            }
        }
        return (nil, nil)
    }

    static func dropPrefix(_ path: String) -> String {
        if path.hasPrefix("a/") || path.hasPrefix("b/") { return String(path.dropFirst(2)) }
        return path
    }

    /// Decodes a path that git may have C-quoted ("a/p\303\251.txt").
    static func unquotePath(_ raw: [UInt8]) -> String {
        guard raw.first == UInt8(ascii: "\"") else { return String(decoding: raw, as: UTF8.self) }
        return readQuoted(raw, from: 0)?.0 ?? String(decoding: raw, as: UTF8.self)
    }

    /// Reads a C-quoted string starting at `start` (a quote); returns it and the index after the closing quote.
    static func readQuoted(_ raw: [UInt8], from start: Int) -> (String, Int)? {
        var out: [UInt8] = []
        var i = start + 1
        while i < raw.count {
            let byte = raw[i]
            if byte == UInt8(ascii: "\"") { return (String(decoding: out, as: UTF8.self), i + 1) }
            if byte == UInt8(ascii: "\\"), i + 1 < raw.count {
                let escaped = raw[i + 1]
                switch escaped {
                case UInt8(ascii: "n"): out.append(0x0A); i += 2
                case UInt8(ascii: "t"): out.append(0x09); i += 2
                case UInt8(ascii: "r"): out.append(0x0D); i += 2
                case UInt8(ascii: "a"): out.append(0x07); i += 2
                case UInt8(ascii: "b"): out.append(0x08); i += 2
                case UInt8(ascii: "f"): out.append(0x0C); i += 2
                case UInt8(ascii: "v"): out.append(0x0B); i += 2
                case UInt8(ascii: "0")...UInt8(ascii: "7"):
                    var value = 0
                    var k = i + 1
                    while k < raw.count && k < i + 4 && raw[k] >= UInt8(ascii: "0") && raw[k] <= UInt8(ascii: "7") {
                        value = value * 8 + Int(raw[k] - UInt8(ascii: "0"))
                        k += 1
                    }
                    out.append(UInt8(truncatingIfNeeded: value))
                    i = k
                default:
                    out.append(escaped)
                    i += 2
                }
                continue
            }
            out.append(byte)
            i += 1
        }
        return nil
    }
}
