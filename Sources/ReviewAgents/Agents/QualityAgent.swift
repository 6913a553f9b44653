/// Looks for what a careful reviewer asks to clean up: debug output and breakpoints, TODOs, commented-out
/// code, swallowed errors, very long functions, files and lines, and source changed without tests.
public struct QualityAgent: ReviewAgent {
    /// Always ``AgentKind/quality``.
    public var kind: AgentKind { .quality }

    /// Creates the agent.
    public init() {}

    /// Reviews the added lines of source files.
    public func review(_ input: ReviewInput) async throws -> [Finding] {
        var collector = FindingCollector(agent: .quality, configuration: input.configuration)
        let thresholds = input.configuration.thresholds
        let files = input.reviewableFiles.filter {
            !$0.isBinary && $0.diff.changeKind != .deleted && !$0.traits.isGenerated && !$0.traits.isLockfile
        }
        for file in files {
            try Task.checkCancellation()
            try QualityFileReview(file: file, thresholds: thresholds).run(into: &collector)
        }
        missingTests(files, &collector)
        return collector.finish()
    }

    private func missingTests(_ files: [SourceFile], _ c: inout FindingCollector) {
        let sources = files.filter {
            $0.language.isCode && $0.language != .shell && !$0.traits.isTest && !$0.traits.isCommandLine
                && !$0.traits.isMigration && $0.addedCount > 0
        }
        guard let first = sources.first else { return }
        let testsTouched = files.contains { $0.traits.isTest }
        guard !testsTouched else { return }
        let count = sources.count
        c.add(
            Rules.missingTests, path: first.path, line: nil,
            message: count == 1
                ? "`\(first.path)` changes but no test file does."
                : "\(count) source files change (first: `\(first.path)`) but no test file does.",
            suggestion: "Add or update a test that fails without this change.",
            key: "missing-tests")
    }
}

private struct QualityFileReview {
    let file: SourceFile
    let thresholds: RepositoryConfiguration.Thresholds
    var language: Language { file.language }

    func run(into c: inout FindingCollector) throws {
        let isSource = language.isCode
        let hasComments = isSource || [.yaml, .toml, .dockerfile, .sql, .env].contains(language)
        var longLines: [SourceLine] = []
        let bracedFunctions = isSource && !file.traits.isTest && language != .python && language != .ruby
        for hunk in file.hunks {
            var commentRun: [SourceLine] = []
            let braces = bracedFunctions ? BraceIndex(hunk) : nil
            for (index, line) in hunk.enumerated() {
                try Task.checkCancellation()
                if line.isAdded && hasComments && line.commentStart != nil { todo(line, &c) }
                if isSource && line.isAdded && line.isCommentOnly && Self.looksLikeCode(line, language: language) {
                    commentRun.append(line)
                } else if !(line.isAdded && line.isBlank) {
                    flushCommentRun(&commentRun, &c)
                }
                guard line.isAdded, !line.isBlank else { continue }
                if isSource && !line.isCommentOnly {
                    debugOutput(line, &c)
                    emptyHandler(line, index: index, hunk: hunk, &c)
                    longFunction(line, index: index, hunk: hunk, braces: braces, &c)
                }
                if Self.measuresLineLength(file) && Self.width(line.raw) > thresholds.lineLength && !line.raw.has("://")
                {
                    longLines.append(line)
                }
            }
            flushCommentRun(&commentRun, &c)
        }
        if let first = longLines.first {
            let others = longLines.count - 1
            let more = others > 0 ? " (and \(others) more added line\(others == 1 ? "" : "s") in this file)" : ""
            c.add(
                Rules.longLine, file: file, line: first,
                message:
                    "Line is \(Self.width(first.raw)) characters, over the limit of \(thresholds.lineLength)\(more).",
                suggestion: "Break it up; name intermediate values.", key: "long-lines")
        }
        longFile(&c)
    }

    static func measuresLineLength(_ file: SourceFile) -> Bool {
        file.language.isCode && !file.traits.isTest
    }

    /// Display width: UTF-8 continuation bytes do not count.
    static func width(_ raw: [UInt8]) -> Int {
        raw.reduce(0) { $0 + (($1 & 0xC0) == 0x80 ? 0 : ($1 == 0x09 ? 4 : 1)) }
    }

    // MARK: Debug output

    static let printCalls: [Language: [Needle]] = [
        .python: ["print(", "pprint("],
        .javascript: ["console.log(", "console.debug(", "console.dir(", "console.trace("],
        .typescript: ["console.log(", "console.debug(", "console.dir(", "console.trace("],
        .go: ["fmt.Println(", "fmt.Printf(", "fmt.Print(", "println(", "spew.Dump("],
        .java: ["System.out.println(", "System.out.print(", "System.err.println(", ".printStackTrace()"],
        .kotlin: ["println(", "System.out.println(", ".printStackTrace()"],
        .ruby: ["puts ", "pp ", "p ", "print ", "puts("],
        .swift: ["print(", "debugPrint(", "dump(", "NSLog("],
        .csharp: ["Console.WriteLine(", "Debug.WriteLine("],
        .php: ["var_dump(", "print_r(", "dd(", "dump("],
        .rust: ["dbg!(", "println!(", "eprintln!("],
        .c: ["printf("],
        .cpp: ["std::cout", "printf("],
    ]
    static let breakpoints: [Language: [Needle]] = [
        .python: ["breakpoint()", "pdb.set_trace()", "ipdb.set_trace()", "import pdb", "import ipdb"],
        .javascript: ["debugger;", "debugger"],
        .typescript: ["debugger;", "debugger"],
        .ruby: ["binding.pry", "byebug", "binding.irb", "debugger"],
        .php: ["xdebug_break()"],
        .go: ["runtime.Breakpoint()"],
    ]

    func debugOutput(_ line: SourceLine, _ c: inout FindingCollector) {
        let code = line.code
        if let marks = Self.breakpoints[language] {
            for mark in marks {
                guard let index = code.find(mark) else { continue }
                let isWord = mark.bytes.last?.isIdentifierByte != true || code.findWord(mark) != nil
                let standalone =
                    mark.bytes != Needle("debugger").bytes
                    || code.skipSpaces(from: 0) == index && code.skipSpaces(from: index + 8) >= code.count
                guard isWord && standalone else { continue }
                c.add(
                    Rules.debuggerStatement, file: file, line: line,
                    message: "`\(String(decoding: mark.bytes, as: UTF8.self))` stops the program when it is reached.",
                    suggestion: "Remove the breakpoint before merging.")
                return
            }
        }
        guard !file.traits.isTest, !file.traits.isCommandLine, !file.traits.isDocumentation,
            let calls = Self.printCalls[language]
        else { return }
        for call in calls {
            guard let index = code.find(call) else { continue }
            let bare = call.bytes.first?.isASCIILower == true && !call.bytes.contains(UInt8(ascii: "."))
            if bare {
                if index > 0 && (code[index - 1].isIdentifierByte || code[index - 1] == UInt8(ascii: ".")) { continue }
                // Ruby's "p x" and "puts x" must start the statement.
                if language == .ruby && code.skipSpaces(from: 0) != index { continue }
            }
            if language == .swift && call.bytes == Needle("print(").bytes && code.has("to: &") { continue }
            c.add(
                Rules.debugPrint, file: file, line: line,
                message: "`\(String(decoding: call.bytes, as: UTF8.self).trimmingCharacters)` writes debug output "
                    + "outside the logger.",
                suggestion: "Use the project's logger at debug level, or remove the line.")
            return
        }
    }

    // MARK: TODO

    func todo(_ line: SourceLine, _ c: inout FindingCollector) {
        guard let comment = line.commentText else { return }
        let text = Array(comment)
        for word: Needle in ["TODO", "FIXME", "HACK", "XXX"] {
            guard let index = text.findWord(word) else { continue }
            // "XXX" inside a masked value or a format string is not a marker.
            if word.bytes == Needle("XXX").bytes && index + 3 < text.count && text[index + 3] == UInt8(ascii: "X") {
                continue
            }
            let note = text.string(index..<text.count).trimmingSpaces
            c.add(
                Rules.todoComment, file: file, line: line,
                message: "\(String(decoding: word.bytes, as: UTF8.self)) added: \"\(note.prefix(80))\".",
                suggestion: "Finish it in this change or link it to an issue (TODO(#123): …).")
            return
        }
    }

    // MARK: Commented-out code

    static let directivePrefixes: [Needle] = [
        "MARK:", "swiftlint:", "swift-format", "eslint", "prettier", "@ts-", "istanbul", "noqa", "type:", "pylint:",
        "go:", "nolint", "#!", "-*-", "region", "endregion", "rubocop:", "frozen_string_literal", "pragma", "NOSONAR",
        "fmt:", "isort:", "pyright:", "mypy:", "c8 ", "jshint", "global ", "@flow", "tslint:", "sourceMappingURL",
        "SPDX-", "Copyright", "copyright", "@", "<", "=", "-", "+", "*", "|",
    ]
    static let codeStarts: [Needle] = [
        "if (", "if ", "for (", "for ", "while (", "while ", "return ", "return;", "import ", "from ", "def ", "func ",
        "function ", "var ", "let ", "const ", "class ", "print(", "console.", "self.", "this.", "try {", "try:",
        "} else", "else:", "else {", "catch ", "except ", "await ", "async ", "public ", "private ", "static ",
        "package ", "#include", "fmt.", "log.", "println", "puts ", "end", "guard ", "switch ", "case ", "break",
        "continue", "elif ", "yield ", "raise ", "throw ", "new ",
    ]

    static func looksLikeCode(_ line: SourceLine, language: Language) -> Bool {
        guard let comment = line.commentText else { return false }
        // Doc comments and directives are not code.
        if let start = line.commentStart {
            let raw = line.raw
            if raw.matches("///", at: start) || raw.matches("/**", at: start) || raw.matches("//!", at: start)
                || raw.matches("#:", at: start) || raw.matches("##", at: start)
            {
                return false
            }
        }
        var text = Array(comment)
        let begin = text.skipSpaces(from: 0)
        // An indented block inside a comment is an example (Markdown's code-block convention), not dead code.
        if begin >= 3 { return false }
        text = Array(text[begin...])
        while let last = text.last, last.isSpaceOrTab { text.removeLast() }
        guard text.count >= 3 else { return false }
        if directivePrefixes.contains(where: { text.matches($0, at: 0) }) { return false }
        if text.has("http://") || text.has("https://") { return false }
        let last = text[text.count - 1]
        // Prose ends with a full stop, a colon, a question mark, or has sentence breaks.
        if last == UInt8(ascii: ".") || last == UInt8(ascii: ":") && !text.has("(") || last == UInt8(ascii: "?")
            || last == UInt8(ascii: "!") || text.has(". ")
        {
            return false
        }
        let words = text.split(separator: 0x20).count
        if last == UInt8(ascii: ";") || last == UInt8(ascii: "{") || last == UInt8(ascii: "}") { return true }
        if last == UInt8(ascii: ")") && text.has("(") && !text.has(" (") && words <= 6 { return true }
        if codeStarts.contains(where: { text.matches($0, at: 0) }) {
            return text.contains(where: {
                [
                    UInt8(ascii: "("), UInt8(ascii: "="), UInt8(ascii: "{"), UInt8(ascii: ":"),
                    UInt8(ascii: ";"), UInt8(ascii: "["),
                ].contains($0)
            })
                || words <= 3 && !text.contains(where: \.isASCIIUpper)
        }
        // name = value(...)
        var i = 0
        while i < text.count
            && (text[i].isIdentifierByte || text[i] == UInt8(ascii: ".") || text[i] == UInt8(ascii: "[")
                || text[i] == UInt8(ascii: "]") || text[i] == UInt8(ascii: "\"") || text[i] == UInt8(ascii: "'"))
        {
            i += 1
        }
        let op = text.skipSpaces(from: i)
        if i > 0 && op < text.count
            && (text.matches("= ", at: op) || text.matches(":= ", at: op) || text.matches("+= ", at: op))
        {
            let rhs = Array(text[(op + 2)...])
            return rhs.contains(where: {
                $0 == UInt8(ascii: "(") || $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "\"")
                    || $0 == UInt8(ascii: "'") || $0.isASCIIDigit
            }) || rhs.count < 25 && !rhs.contains(0x20)
        }
        return false
    }

    func flushCommentRun(_ run: inout [SourceLine], _ c: inout FindingCollector) {
        defer { run.removeAll() }
        guard run.count >= 2, let first = run.first else { return }
        c.add(
            Rules.commentedOutCode, file: file, line: first,
            message: "\(run.count) lines of commented-out code are added.",
            suggestion: "Delete them; version control keeps the old code.")
    }

    // MARK: Empty handlers

    func emptyHandler(_ line: SourceLine, index: Int, hunk: [SourceLine], _ c: inout FindingCollector) {
        let code = line.code
        var empty = false
        var what = "catch"
        func nextNonBlank(after k: Int) -> SourceLine? {
            var j = k + 1
            while j < hunk.count && hunk[j].isBlank { j += 1 }
            return j < hunk.count ? hunk[j] : nil
        }
        func trimmed(_ l: SourceLine) -> [UInt8] {
            let start = l.code.skipSpaces(from: 0)
            let end = l.code.skipSpacesBackward(from: l.code.count - 1)
            return end >= start ? Array(l.code[start...end]) : []
        }
        switch language {
        case .python:
            guard
                code.findWord("except") != nil
                    || code.skipSpaces(from: 0) < code.count && code.matches("except", at: code.skipSpaces(from: 0))
            else { break }
            guard code.matches("except", at: code.skipSpaces(from: 0)) else { break }
            what = "except"
            let afterColon = code.find(":").map { Array(code[($0 + 1)...]) } ?? []
            let inline =
                afterColon.skipSpaces(from: 0) < afterColon.count
                ? Array(afterColon[afterColon.skipSpaces(from: 0)...]) : []
            if !inline.isEmpty {
                empty = inline.starts(with: Array("pass".utf8)) || inline.starts(with: Array("...".utf8))
            } else if let next = nextNonBlank(after: index), next.indent > line.indent, !next.isCommentOnly,
                next.commentStart == nil
            {
                let body = trimmed(next)
                if body == Array("pass".utf8) || body == Array("...".utf8) {
                    let after = nextNonBlank(after: hunk.firstIndex(where: { $0.number == next.number }) ?? index)
                    empty = after == nil || after!.indent <= line.indent
                }
            }
        case .ruby:
            guard code.matches("rescue", at: code.skipSpaces(from: 0)) else { break }
            what = "rescue"
            if let next = nextNonBlank(after: index), trimmed(next) == Array("end".utf8), next.commentStart == nil {
                empty = true
            }
        case .go:
            if code.has("if err != nil {") {
                what = "if err != nil"
                if code.has("if err != nil {}") || code.has("if err != nil { }") {
                    empty = true
                } else if let next = nextNonBlank(after: index), trimmed(next) == [UInt8(ascii: "}")],
                    next.commentStart == nil
                {
                    empty = true
                }
            }
        case .javascript, .typescript, .java, .kotlin, .swift, .csharp, .cpp, .php, .c:
            guard let catchIndex = code.findWord("catch") else { break }
            if language.isJavaScriptLike && code.matches(".catch", at: max(0, catchIndex - 1)) {
                // promise.catch(() => {})
                if code.has("=> {})") || code.has("=> { })") || code.has("function() {})") { empty = true }
                what = ".catch"
                break
            }
            guard let brace = code.find("{", from: catchIndex) else { break }
            let after = code.skipSpaces(from: brace + 1)
            if after < code.count {
                empty = code[after] == UInt8(ascii: "}") && line.commentStart == nil
            } else if let next = nextNonBlank(after: index) {
                empty = trimmed(next).first == UInt8(ascii: "}") && next.commentStart == nil
            }
        default:
            break
        }
        guard empty else { return }
        c.add(
            Rules.emptyCatch, file: file, line: line,
            message: "An empty \(what) block swallows the error.",
            suggestion: "Handle it, log it with context, or rethrow; if ignoring it is right, say why in a comment.")
    }

    // MARK: Long functions and files

    func functionHeader(_ line: SourceLine) -> Bool {
        let code = line.code
        let start = code.skipSpaces(from: 0)
        func at(_ word: Needle) -> Bool { code.matches(word, at: start) }
        switch language {
        case .python: return at("def ") || at("async def ")
        case .ruby: return at("def ")
        case .go: return at("func ")
        case .swift:
            let modifiers: [Needle] = [
                "public ", "private ", "internal ", "fileprivate ", "open ", "static ", "override ",
                "final ", "mutating ", "nonisolated ", "@MainActor ", "class ", "package ",
                "convenience ", "required ", "@inlinable ", "@discardableResult ",
            ]
            var i = start
            var moved = true
            while moved {
                moved = false
                for modifier in modifiers where code.matches(modifier, at: i) {
                    i += modifier.count
                    moved = true
                }
            }
            return code.matches("func ", at: i) || code.matches("init(", at: i) || code.matches("init?(", at: i)
                || code.matches("deinit", at: i)
        case .javascript, .typescript:
            if at("function ") || at("async function ") || at("export function ") || at("export async function ")
                || at("export default function")
            {
                return true
            }
            if code.has("=> {") && (at("const ") || at("let ") || at("export const ")) { return true }
            return Self.methodLike(code, start: start)
        case .java, .kotlin, .csharp, .php, .c, .cpp:
            if at("fun ") || at("function ") || at("public function ") || at("private function ") { return true }
            return Self.methodLike(code, start: start)
        case .rust: return at("fn ") || at("pub fn ") || at("async fn ") || at("pub async fn ")
        case .shell: return at("function ") || code.has("() {")
        default: return false
        }
    }

    /// `name(args) {` or `Type name(args) throws X {` that is not a control statement or a call.
    static func methodLike(_ code: [UInt8], start: Int) -> Bool {
        let end = code.skipSpacesBackward(from: code.count - 1)
        guard end > start, code[end] == UInt8(ascii: "{"), let paren = code.find("(", from: start) else { return false }
        let control: [Needle] = [
            "if", "for", "while", "switch", "catch", "else", "do", "try", "synchronized", "return",
            "new", "}", "with", "using", "foreach", "lock", "when", "elseif", "fixed",
        ]
        for word in control where code.matches(word, at: start) {
            let after = start + word.count
            if after >= code.count || !code[after].isIdentifierByte { return false }
        }
        let head = Array(code[start..<paren])
        if head.contains(UInt8(ascii: "=")) || head.contains(UInt8(ascii: ".")) { return false }
        return head.last?.isIdentifierByte == true || head.last == UInt8(ascii: ">")
    }

    func longFunction(
        _ line: SourceLine, index: Int, hunk: [SourceLine], braces: BraceIndex?, _ c: inout FindingCollector
    ) {
        guard !file.traits.isTest, functionHeader(line) else { return }
        var last = line.number
        if language == .python || language == .ruby {
            var k = index + 1
            while k < hunk.count {
                let next = hunk[k]
                if !next.isBlank && !next.isCommentOnly {
                    if next.indent <= line.indent {
                        if language == .ruby
                            && next.raw.asciiLowercased.matches("end", at: next.raw.skipSpaces(from: 0))
                        {
                            last = next.number
                        }
                        break
                    }
                    last = next.number
                }
                k += 1
            }
        } else {
            switch braces?.end(ofFunctionAt: index) ?? BraceIndex(hunk).end(ofFunctionAt: index) {
            case .noBody: return  // a declaration without a body
            case .line(let end): last = hunk[end].number
            case .openAtEnd: last = hunk[hunk.count - 1].number
            }
        }
        let length = last - line.number + 1
        guard length > thresholds.functionLines else { return }
        c.add(
            Rules.longFunction, file: file, line: line,
            message: "This function is \(length) lines long (limit \(thresholds.functionLines)).",
            suggestion: "Split it into smaller functions with names that say what each step does.")
    }

    func longFile(_ c: inout FindingCollector) {
        guard file.diff.changeKind == .added || file.diff.changeKind == .copied, language.isCode,
            !file.traits.isTest
        else { return }
        let lines = file.diff.hunks.reduce(0) { $0 + $1.newCount }
        guard lines > thresholds.fileLines else { return }
        c.add(
            Rules.longFile, path: file.path, line: nil,
            message: "The new file has \(lines) lines (limit \(thresholds.fileLines)).",
            suggestion: "Split it by responsibility into smaller files.", key: "long-file")
    }
}

/// The braces of one hunk's code, indexed so that the end of a function takes a binary search. Scanning from each
/// header to its closing brace instead costs the square of the hunk's length when many functions stay open to the
/// end of the hunk: 20,000 lines of `function f() {` took 3 s, 40,000 four times as long.
struct BraceIndex {
    /// Where a function whose header is on a given line ends.
    enum End: Equatable {
        /// The brace opened within the header's first five lines closes on this line (an index into the hunk).
        case line(Int)
        /// The function is still open at the end of the hunk.
        case openAtEnd
        /// No brace opens within the header's first five lines: a declaration without a body.
        case noBody
    }

    private let lineCount: Int
    /// For each brace in order: its line, whether it opens, and the depth after it (counted from the hunk's start).
    private var braceLines: [Int] = []
    private var opens: [Bool] = []
    private var depthAfter: [Int] = []
    /// For each brace, the index of the first closing brace after it (or the number of braces).
    private var nextClose: [Int] = []
    /// The closing braces after which the depth is a given value, in order.
    private var closesByDepth: [Int: [Int]] = [:]
    /// For each line, the index of its first brace (or of the next line's), and the depth before it.
    private var firstBrace: [Int] = []
    private var depthBefore: [Int] = []

    init(_ hunk: [SourceLine]) {
        lineCount = hunk.count
        var depth = 0
        for (index, line) in hunk.enumerated() {
            firstBrace.append(braceLines.count)
            depthBefore.append(depth)
            for byte in line.code where byte == UInt8(ascii: "{") || byte == UInt8(ascii: "}") {
                let isOpen = byte == UInt8(ascii: "{")
                depth += isOpen ? 1 : -1
                if !isOpen { closesByDepth[depth, default: []].append(braceLines.count) }
                braceLines.append(index)
                opens.append(isOpen)
                depthAfter.append(depth)
            }
        }
        nextClose = Array(repeating: braceLines.count, count: braceLines.count)
        var next = braceLines.count
        for brace in braceLines.indices.reversed() {
            nextClose[brace] = next
            if !opens[brace] { next = brace }
        }
    }

    /// Where the function whose header is line `header` ends, as a scan from the header would find it: the first
    /// opening brace within five lines, then the first closing brace that brings the depth back to (or below) the
    /// depth before the header.
    func end(ofFunctionAt header: Int) -> End {
        let base = depthBefore[header]
        var open = firstBrace[header]
        while open < braceLines.count && braceLines[open] <= header + 4 && !opens[open] { open += 1 }
        guard open < braceLines.count, braceLines[open] <= header + 4 else {
            return header + 4 < lineCount ? .noBody : .openAtEnd
        }
        // The depth moves one step per brace: after the first closing brace it is either back to the base or
        // above it, and then it comes back down through the base exactly at a closing brace.
        let first = nextClose[open]
        guard first < braceLines.count else { return .openAtEnd }
        if depthAfter[first] <= base { return .line(braceLines[first]) }
        guard let closes = closesByDepth[base] else { return .openAtEnd }
        var low = 0
        var high = closes.count
        while low < high {
            let middle = (low + high) / 2
            if closes[middle] > first { high = middle } else { low = middle + 1 }
        }
        return low < closes.count ? .line(braceLines[closes[low]]) : .openAtEnd
    }
}
