/// Why a diff could not be parsed. Printing it never reveals the diff's content.
public struct DiffParseError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The kind of failure; compare with the static members (new kinds may be added).
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case inputTooLarge = "input_too_large"
            case tooManyFiles = "too_many_files"
            case malformedHunkHeader = "malformed_hunk_header"
            case unexpectedLine = "unexpected_line"
            case notADiff = "not_a_diff"
            case combinedDiff = "combined_diff"
            case tooManyLines = "too_many_lines"
            case emptyDiff = "empty_diff"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The input is larger than ``DiffLimits/maxBytes``.
        public static let inputTooLarge = Code(.inputTooLarge)
        /// The diff touches more files than ``DiffLimits/maxFiles``.
        public static let tooManyFiles = Code(.tooManyFiles)
        /// A line starting with `@@` is not a valid hunk header.
        public static let malformedHunkHeader = Code(.malformedHunkHeader)
        /// A line inside a hunk, or right after it, does not fit the hunk's announced line counts.
        public static let unexpectedLine = Code(.unexpectedLine)
        /// The input is not empty but holds no file header at all.
        public static let notADiff = Code(.notADiff)
        /// The input is a combined diff of a merge (`diff --cc`), which is not supported.
        public static let combinedDiff = Code(.combinedDiff)
        /// The input has more lines than ``DiffLimits/maxLines``.
        public static let tooManyLines = Code(.tooManyLines)
        /// The diff changes nothing (``ParsedDiff/isEmpty``) and the caller asked for a change to review.
        public static let emptyDiff = Code(.emptyDiff)

        /// A stable snake_case name for the code.
        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// The 1-based line of the input where the problem was found, if it concerns one line.
    public let line: Int?
    private let message: String

    private init(code: Code, line: Int?, message: String) {
        self.code = code
        self.line = line
        self.message = message
    }

    /// The usual message: what is wrong, after where.
    private init(code: Code, line: Int?, detail: String) {
        let place = line.map { " at line \($0)" } ?? ""
        self.init(code: code, line: line, message: "invalid diff\(place): \(detail)")
    }

    static func inputTooLarge(bytes: Int, limit: Int) -> Self {
        .init(code: .inputTooLarge, line: nil, detail: "the diff is \(bytes) bytes, over the limit of \(limit) bytes")
    }

    static func tooManyFiles(limit: Int) -> Self {
        .init(code: .tooManyFiles, line: nil, detail: "the diff touches more than \(limit) files, the limit")
    }

    static func tooManyLines(limit: Int) -> Self {
        .init(code: .tooManyLines, line: nil, detail: "the diff has more than \(limit) lines, the limit")
    }

    static func malformedHunkHeader(line: Int) -> Self {
        .init(code: .malformedHunkHeader, line: line, detail: "expected a hunk header like '@@ -1,2 +1,3 @@'")
    }

    static func unexpectedLine(line: Int, reason: String) -> Self {
        .init(code: .unexpectedLine, line: line, detail: reason)
    }

    /// A hunk line beyond the counts of the hunk's header, inside the hunk or right after it.
    static func hunkLongerThanHeader(header: String, path: String, line: Int) -> Self {
        .init(
            code: .unexpectedLine, line: line,
            message: "invalid diff: hunk \(header) of \(path) has more lines than its header says (line \(line))")
    }

    static func notADiff() -> Self {
        .init(code: .notADiff, line: nil, detail: "the input holds no 'diff --git' or '---'/'+++' file header")
    }

    static func combinedDiff(line: Int) -> Self {
        .init(code: .combinedDiff, line: line, detail: "combined diffs of merge commits (diff --cc) are not supported")
    }

    static func emptyDiff() -> Self {
        .init(code: .emptyDiff, line: nil, message: "the diff is empty: nothing to review")
    }

    /// A one-line message safe to show to users and logs: it names lines, paths and limits, never content.
    public var description: String { message }

    /// The same message with the error code, for debugging.
    public var debugDescription: String { "DiffParseError(\(code)): \(description)" }
}

/// Bounds that keep a hostile or accidental input from exhausting a worker.
public struct DiffLimits: Sendable, Hashable {
    /// The largest accepted input, in bytes. Defaults to 50 MiB.
    public var maxBytes: Int
    /// The largest accepted number of files. Defaults to 20,000.
    public var maxFiles: Int
    /// The largest accepted number of input lines. Defaults to 2,000,000: each parsed line costs memory beyond
    /// its bytes, so 50 MiB of very short lines would otherwise hold tens of millions of them.
    public var maxLines: Int

    /// Creates limits; the defaults are the ones the worker and `queuectl review` use.
    public init(maxBytes: Int = 50 * 1024 * 1024, maxFiles: Int = 20_000, maxLines: Int = 2_000_000) {
        self.maxBytes = maxBytes
        self.maxFiles = maxFiles
        self.maxLines = maxLines
    }

    /// 50 MiB, 20,000 files and 2,000,000 lines.
    public static let `default` = DiffLimits()
}
