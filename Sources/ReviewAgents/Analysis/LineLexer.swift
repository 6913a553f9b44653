/// A string literal found on one line.
struct StringLiteral: Sendable {
    /// Index of the opening quote.
    let start: Int
    /// First byte of the content.
    let contentStart: Int
    /// One past the last byte of the content.
    let contentEnd: Int
    /// One past the closing quote, or the line's end for an unterminated literal.
    let end: Int
    /// The quote byte.
    let quote: UInt8
    /// Letters written before the quote (`f`, `r`, `b` in Python, `$` in C#).
    let prefix: [UInt8]
    /// Whether the literal interpolates expressions (f-strings, `${}`, `#{}`, `\()`).
    let isInterpolated: Bool
    /// Whether the closing quote is on this line.
    let isTerminated: Bool
}

/// One new-side line prepared for the rules: raw bytes, code without comments and string contents,
/// the string literals, and where a comment starts.
struct SourceLine: Sendable {
    /// The new-side line number.
    let number: Int
    /// Whether the diff adds this line (otherwise it is context).
    let isAdded: Bool
    /// The line's bytes.
    let raw: [UInt8]
    /// The line with comments removed and string contents replaced by spaces (quotes kept).
    let code: [UInt8]
    /// The string literals, left to right.
    let literals: [StringLiteral]
    /// Where a comment starts on this line, if one does.
    let commentStart: Int?
    /// Whether the whole line is a comment (or inside a block comment or docstring).
    let isCommentOnly: Bool
    /// Leading whitespace width (a tab counts 4).
    let indent: Int
    /// Whether the line is empty or whitespace.
    let isBlank: Bool

    var text: String { String(decoding: raw, as: UTF8.self) }

    /// The content of literal `literal`.
    func content(of literal: StringLiteral) -> ArraySlice<UInt8> { raw[literal.contentStart..<literal.contentEnd] }

    /// The literal that contains `index`, if any.
    func literal(containing index: Int) -> StringLiteral? {
        literals.first { $0.start <= index && index < $0.end }
    }

    /// The comment text after the marker, if the line has a comment.
    var commentText: ArraySlice<UInt8>? {
        guard let commentStart else { return nil }
        var i = commentStart
        while i < raw.count
            && (raw[i] == UInt8(ascii: "/") || raw[i] == UInt8(ascii: "#")
                || raw[i] == UInt8(ascii: "*")
                || raw[i] == UInt8(ascii: "-") && raw.count > i + 1 && raw[i + 1] == UInt8(ascii: "-"))
        {
            i += 1
        }
        return raw[min(i, raw.count)...]
    }
}

/// Splits lines into code, strings and comments. It keeps block-comment and triple-quoted-string state
/// between the lines of one hunk; it is a heuristic lexer, not a parser, and errs towards "code".
struct LineLexer {
    let language: Language
    private var inBlockComment = false
    private var inTripleQuote: UInt8?

    init(language: Language) { self.language = language }

    /// Forgets state carried between lines (call at each hunk start).
    mutating func reset() {
        inBlockComment = false
        inTripleQuote = nil
    }

    mutating func lex(_ raw: [UInt8], number: Int, isAdded: Bool) -> SourceLine {
        var code = raw
        var literals: [StringLiteral] = []
        var commentStart: Int?
        var wholeLineComment = false
        var i = 0
        let n = raw.count
        var indent = 0
        while indent < n && raw[indent].isSpaceOrTab { indent += 1 }
        let width = raw[..<indent].reduce(0) { $0 + ($1 == 0x09 ? 4 : 1) }
        let isBlank = indent == n

        // Continue a block comment or a triple-quoted string from the previous line.
        if inBlockComment {
            if let close = raw.find("*/") {
                for k in 0..<(close + 2) { code[k] = 0x20 }
                i = close + 2
                inBlockComment = false
                if raw.skipSpaces(from: i) == n { wholeLineComment = true }
            } else {
                return SourceLine(
                    number: number, isAdded: isAdded, raw: raw, code: [UInt8](repeating: 0x20, count: n),
                    literals: [], commentStart: indent, isCommentOnly: !isBlank, indent: width, isBlank: isBlank)
            }
        } else if let quote = inTripleQuote {
            let closing: [UInt8] = [quote, quote, quote]
            if let close = raw.find(closing) {
                for k in 0..<close { code[k] = 0x20 }
                i = close + 3
                inTripleQuote = nil
            } else {
                return SourceLine(
                    number: number, isAdded: isAdded, raw: raw, code: [UInt8](repeating: 0x20, count: n),
                    literals: [], commentStart: nil, isCommentOnly: !isBlank, indent: width, isBlank: isBlank)
            }
        }

        let hash = language.usesHashComments
        let slash = language.usesSlashComments
        let dash = language.usesDashComments
        let backtickIsString = language.isJavaScriptLike || language == .go || language == .shell || language == .ruby
        let singleQuoteIsString = language != .rust && language != .swift && language != .kotlin

        while i < n {
            let byte = raw[i]
            // Comments.
            if hash && byte == UInt8(ascii: "#") && !(language == .ruby && i + 1 < n && raw[i + 1] == UInt8(ascii: "{"))
                && (language != .shell || i == 0 || raw[i - 1].isSpaceOrTab || raw[i - 1] == UInt8(ascii: ";"))
            {
                commentStart = i
                break
            }
            if slash && byte == UInt8(ascii: "/") && i + 1 < n {
                let next = raw[i + 1]
                if next == UInt8(ascii: "/") {
                    commentStart = i
                    break
                }
                if next == UInt8(ascii: "*") {
                    if let close = raw.find("*/", from: i + 2) {
                        for k in i..<(close + 2) { code[k] = 0x20 }
                        if commentStart == nil && raw.skipSpaces(from: 0) == i { commentStart = i }
                        i = close + 2
                        continue
                    }
                    commentStart = i
                    inBlockComment = true
                    break
                }
            }
            if dash && byte == UInt8(ascii: "-") && i + 1 < n && raw[i + 1] == UInt8(ascii: "-") {
                commentStart = i
                break
            }
            // Strings.
            let isQuote =
                byte == UInt8(ascii: "\"") || (byte == UInt8(ascii: "'") && singleQuoteIsString)
                || (byte == UInt8(ascii: "`") && backtickIsString)
            if isQuote {
                // Triple quotes (Python docstrings, Swift multi-line strings).
                if (language == .python || language == .swift || language == .kotlin) && i + 2 < n
                    && raw[i + 1] == byte && raw[i + 2] == byte
                {
                    let closing: [UInt8] = [byte, byte, byte]
                    let prefix = Self.prefix(raw, before: i)
                    if let close = raw.find(closing, from: i + 3) {
                        let literal = makeLiteral(
                            raw, start: i, contentStart: i + 3, contentEnd: close, end: close + 3,
                            quote: byte, prefix: prefix, terminated: true)
                        literals.append(literal)
                        for k in (i + 3)..<close { code[k] = 0x20 }
                        i = close + 3
                        continue
                    }
                    let literal = makeLiteral(
                        raw, start: i, contentStart: i + 3, contentEnd: n, end: n,
                        quote: byte, prefix: prefix, terminated: false)
                    literals.append(literal)
                    for k in (i + 3)..<n { code[k] = 0x20 }
                    inTripleQuote = byte
                    if raw.skipSpaces(from: 0) == i && prefix.isEmpty { wholeLineComment = true }
                    break
                }
                let prefix = Self.prefix(raw, before: i)
                var k = i + 1
                var terminated = false
                while k < n {
                    let c = raw[k]
                    if c == UInt8(ascii: "\\") && byte != UInt8(ascii: "`")
                        || c == UInt8(ascii: "\\") && language.isJavaScriptLike
                    {
                        k += 2
                        continue
                    }
                    if c == byte {
                        terminated = true
                        break
                    }
                    k += 1
                }
                let contentEnd = min(k, n)
                let end = terminated ? k + 1 : n
                literals.append(
                    makeLiteral(
                        raw, start: i, contentStart: i + 1, contentEnd: contentEnd, end: end,
                        quote: byte, prefix: prefix, terminated: terminated))
                if i + 1 < contentEnd { for m in (i + 1)..<contentEnd { code[m] = 0x20 } }
                i = end
                continue
            }
            i += 1
        }
        if let commentStart {
            for k in commentStart..<n { code[k] = 0x20 }
            if raw.skipSpaces(from: 0) == commentStart { wholeLineComment = true }
        }
        // A line inside a C-style block comment often starts with "*".
        if slash && !wholeLineComment && indent < n && raw[indent] == UInt8(ascii: "*")
            && (indent + 1 == n || raw[indent + 1] == 0x20 || raw[indent + 1] == UInt8(ascii: "/"))
        {
            wholeLineComment = true
            commentStart = indent
            code = [UInt8](repeating: 0x20, count: n)
        }
        return SourceLine(
            number: number, isAdded: isAdded, raw: raw, code: code, literals: literals,
            commentStart: commentStart, isCommentOnly: wholeLineComment && !isBlank, indent: width, isBlank: isBlank)
    }

    private static func prefix(_ raw: [UInt8], before index: Int) -> [UInt8] {
        var k = index - 1
        while k >= 0 && (raw[k].isASCIILetter || raw[k] == UInt8(ascii: "$") || raw[k] == UInt8(ascii: "@"))
            && index - k <= 3
        {
            k -= 1
        }
        if k >= 0 && raw[k].isIdentifierByte { return [] }
        return Array(raw[(k + 1)..<index]).asciiLowercased
    }

    private func makeLiteral(
        _ raw: [UInt8], start: Int, contentStart: Int, contentEnd: Int, end: Int, quote: UInt8, prefix: [UInt8],
        terminated: Bool
    ) -> StringLiteral {
        let content = contentStart < contentEnd ? Array(raw[contentStart..<contentEnd]) : []
        var interpolated = false
        switch language {
        case .python:
            interpolated = prefix.contains(UInt8(ascii: "f"))
        case .javascript, .typescript:
            interpolated = quote == UInt8(ascii: "`") && content.has("${")
        case .ruby:
            interpolated = quote != UInt8(ascii: "'") && content.has("#{")
        case .swift:
            interpolated = content.has("\\(")
        case .kotlin, .shell, .php:
            interpolated = quote != UInt8(ascii: "'") && content.has("$")
        case .csharp:
            interpolated = prefix.contains(UInt8(ascii: "$"))
        default:
            interpolated = false
        }
        return StringLiteral(
            start: start - prefix.count, contentStart: contentStart, contentEnd: max(contentStart, contentEnd),
            end: end,
            quote: quote, prefix: prefix, isInterpolated: interpolated, isTerminated: terminated)
    }
}
