/// How the first argument of a call is written.
enum ArgumentShape {
    /// No argument.
    case empty
    /// A constant string literal.
    case plainLiteral
    /// A string assembled with interpolation, `+`, `%` or `.format`.
    case builtString
    /// A variable or another expression.
    case expression
}

extension SourceLine {
    /// The literal that begins at `index` (its prefix or its quote).
    func literal(startingAt index: Int) -> StringLiteral? {
        literals.first { $0.start == index || $0.start + $0.prefix.count == index }
    }

    /// Whether the literal is followed by string building (`+`, `%`, `.format(`, `..`, `<<`).
    func isConcatenated(_ literal: StringLiteral) -> Bool {
        let after = raw.skipSpaces(from: literal.end)
        if after < raw.count {
            let c = raw[after]
            if c == UInt8(ascii: "+") && !(after + 1 < raw.count && raw[after + 1] == UInt8(ascii: "+")) { return true }
            if c == UInt8(ascii: "%") && after + 1 < raw.count
                && (raw[after + 1] == 0x20 || raw[after + 1] == UInt8(ascii: "(") || raw[after + 1].isIdentifierByte)
            {
                return true
            }
            if raw.matches(".format(", at: after) || raw.matches("..", at: after) || raw.matches("<<", at: after) {
                return true
            }
        }
        let before = raw.skipSpacesBackward(from: literal.start - 1)
        if before >= 0 && raw[before] == UInt8(ascii: "+") { return true }
        return false
    }

    /// The shape of the first argument of the call whose `(` is at `openParen`.
    func argumentShape(openParen: Int) -> ArgumentShape {
        let start = raw.skipSpaces(from: openParen + 1)
        guard start < raw.count else { return .expression }
        if raw[start] == UInt8(ascii: ")") { return .empty }
        if let literal = literal(startingAt: start) {
            if literal.isInterpolated || isConcatenated(literal) { return .builtString }
            return .plainLiteral
        }
        // An identifier followed by "+ "…"" is still built.
        var end = start
        var depth = 0
        while end < raw.count {
            let c = raw[end]
            if c == UInt8(ascii: "(") || c == UInt8(ascii: "[") { depth += 1 }
            if c == UInt8(ascii: ")") || c == UInt8(ascii: "]") {
                if depth == 0 { break }
                depth -= 1
            }
            if c == UInt8(ascii: ",") && depth == 0 { break }
            end += 1
        }
        for literal in literals where literal.start >= start && literal.start < end {
            if literal.isInterpolated || isConcatenated(literal) { return .builtString }
        }
        if code.find(Needle("fmt.Sprintf").bytes, from: start, until: end) != nil
            || code.find(Needle("String.format").bytes, from: start, until: end) != nil
        {
            return .builtString
        }
        return .expression
    }

    /// Indices of `(` for calls named `name` in the code part. `bare` requires that no identifier character or `.`
    /// precedes the name (so `eval(` does not match `model.eval(` or `literal_eval(`).
    func calls(_ name: Needle, bare: Bool = false) -> [Int] {
        var result: [Int] = []
        var from = 0
        while let index = code.find(name, from: from) {
            from = index + 1
            if bare && index > 0
                && (code[index - 1].isIdentifierByte || code[index - 1] == UInt8(ascii: ".")
                    || code[index - 1] == UInt8(ascii: "$"))
            {
                continue
            }
            if name.bytes.first?.isIdentifierByte == true && !bare && index > 0 && code[index - 1].isIdentifierByte {
                continue
            }
            var paren = index + name.count - 1
            if code[paren] != UInt8(ascii: "(") {
                paren = code.skipSpaces(from: index + name.count)
                guard paren < code.count, code[paren] == UInt8(ascii: "(") else { continue }
            }
            result.append(paren)
        }
        return result
    }

    /// Whether the code part (strings blanked, comments removed) contains `needle`.
    @inline(__always) func codeHas(_ needle: Needle) -> Bool { code.find(needle.bytes) != nil }

    /// The identifier assigned on this line (`name = …`, `let name = …`, `name := …`), if any.
    var assignedIdentifier: String? {
        var i = code.skipSpaces(from: 0)
        for keyword: Needle in ["let ", "var ", "const ", "val ", "final ", "auto ", "String ", "my "]
        where code.matches(keyword, at: i) {
            i = code.skipSpaces(from: i + keyword.count)
        }
        let start = i
        while i < code.count && code[i].isIdentifierByte { i += 1 }
        guard i > start else { return nil }
        let name = code.string(start..<i)
        var j = code.skipSpaces(from: i)
        // Optional type annotation: "name: Type =".
        if j < code.count && code[j] == UInt8(ascii: ":") && !(j + 1 < code.count && code[j + 1] == UInt8(ascii: "=")) {
            while j < code.count && code[j] != UInt8(ascii: "=") { j += 1 }
        }
        guard j < code.count else { return nil }
        if code.matches(":=", at: j) { return name }
        if code[j] == UInt8(ascii: "=") && !(j + 1 < code.count && code[j + 1] == UInt8(ascii: "=")) { return name }
        return nil
    }
}

/// Whether any of the identifiers occurs in `bytes` as a whole word.
func containsWord(_ bytes: [UInt8], anyOf words: Set<String>) -> Bool {
    guard !words.isEmpty else { return false }
    var i = 0
    while i < bytes.count {
        if bytes[i].isIdentifierByte && (i == 0 || !bytes[i - 1].isIdentifierByte) {
            var end = i
            while end < bytes.count && bytes[end].isIdentifierByte { end += 1 }
            if words.contains(bytes.string(i..<end)) { return true }
            i = end
        } else {
            i += 1
        }
    }
    return false
}
