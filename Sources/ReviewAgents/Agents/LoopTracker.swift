/// What kind of loop a line opens.
struct LoopHeader {
    enum Kind { case statement, forEachCallback, mapCallback, asyncIteration }
    let kind: Kind
    /// Whether it iterates over a collection (rather than a small literal range or an open `while`).
    let iteratesCollection: Bool
    /// Whether the loop body is on the same line.
    let isInline: Bool
    /// The names the loop binds (`x` in `for x in xs`, `k, v` in `for (k, v) in d`), when they can be read.
    var variables: Set<String> = []
    /// The code of the iterated expression (`xs`), when it can be read.
    var collection: [UInt8] = []
}

/// Recognises loop headers in the languages the agents read.
enum LoopSyntax {
    static func header(_ line: SourceLine, language: Language) -> LoopHeader? {
        guard var header = kind(line, language: language) else { return nil }
        (header.variables, header.collection) = bindings(line.code)
        return header
    }

    static let keywords: Set<String> = [
        "for", "const", "let", "var", "await", "async", "case", "try", "in", "of", "range", "final", "auto",
    ]

    /// Reads `for VARS in|of|:|:= range EXPR` and `EXPR.forEach`/`EXPR.each do |VARS|`.
    static func bindings(_ code: [UInt8]) -> (Set<String>, [UInt8]) {
        func identifiers(_ bytes: ArraySlice<UInt8>) -> Set<String> {
            var names: Set<String> = []
            var i = bytes.startIndex
            while i < bytes.endIndex {
                guard bytes[i].isIdentifierByte, !bytes[i].isASCIIDigit else { i += 1; continue }
                var end = i
                while end < bytes.endIndex && bytes[end].isIdentifierByte { end += 1 }
                let name = String(decoding: bytes[i..<end], as: UTF8.self)
                if !keywords.contains(name) && name.first?.isUppercase != true { names.insert(name) }
                i = end
            }
            return names
        }
        if let forIndex = code.findWord("for") {
            for separator: Needle in [" in ", " of ", " := range ", " = range ", " : "] {
                guard let split = code.find(separator, from: forIndex + 3) else { continue }
                return (identifiers(code[(forIndex + 3)..<split]), Array(code[(split + separator.count)...]))
            }
        }
        for method: Needle in [".forEach", ".each", ".map"] {
            guard let index = code.find(method) else { continue }
            var names: Set<String> = []
            if let open = code.find("|", from: index), let close = code.find("|", from: open + 1) {
                names = identifiers(code[(open + 1)..<close])
            } else if let arrow = code.find("=>", from: index) {
                names = identifiers(code[(index + method.count)..<arrow])
            }
            return (names, Array(code[..<index]))
        }
        return ([], [])
    }

    static func kind(_ line: SourceLine, language: Language) -> LoopHeader? {
        let code = line.code
        let start = code.skipSpaces(from: 0)
        guard start < code.count else { return nil }
        func at(_ word: Needle) -> Bool { code.matches(word, at: start) }
        let trimmedEnd = code.skipSpacesBackward(from: code.count - 1)
        let last: UInt8 = trimmedEnd >= 0 ? code[trimmedEnd] : 0
        switch language {
        case .python:
            if at("async for ") {
                return LoopHeader(kind: .asyncIteration, iteratesCollection: true, isInline: last != UInt8(ascii: ":"))
            }
            if at("for ") {
                return LoopHeader(
                    kind: .statement, iteratesCollection: !smallRange(line), isInline: last != UInt8(ascii: ":"))
            }
            if at("while ") {
                return LoopHeader(kind: .statement, iteratesCollection: false, isInline: last != UInt8(ascii: ":"))
            }
            // Comprehensions: [f(x) for x in xs]
            if code.has(" for ") && code.has(" in ") && (code.has("[") || code.has("(") || code.has("{")) {
                return LoopHeader(kind: .mapCallback, iteratesCollection: !smallRange(line), isInline: true)
            }
        case .javascript, .typescript:
            if at("for await") {
                return LoopHeader(kind: .asyncIteration, iteratesCollection: true, isInline: last != UInt8(ascii: "{"))
            }
            if at("for (") || at("for(") {
                let numeric = code.has("; i <") && !code.has(".length") && !code.has(".size")
                return LoopHeader(kind: .statement, iteratesCollection: !numeric, isInline: last != UInt8(ascii: "{"))
            }
            if at("while (") || at("while(") || at("do {") {
                return LoopHeader(kind: .statement, iteratesCollection: false, isInline: last != UInt8(ascii: "{"))
            }
            if code.has(".forEach(") {
                return LoopHeader(kind: .forEachCallback, iteratesCollection: true, isInline: last != UInt8(ascii: "{"))
            }
            if code.has(".map(") && (code.has("=>") || code.has("function")) {
                return LoopHeader(kind: .mapCallback, iteratesCollection: true, isInline: last != UInt8(ascii: "{"))
            }
        case .go:
            if at("for ") || at("for{") {
                let collection = code.has("range ") && !smallRange(line)
                return LoopHeader(kind: .statement, iteratesCollection: collection, isInline: last != UInt8(ascii: "{"))
            }
        case .java, .kotlin, .csharp, .c, .cpp, .php:
            if at("for (") || at("for(") || at("foreach (") || at("foreach(") {
                let numeric = code.has("; i <") && !code.has(".length") && !code.has(".size") && !code.has(".count")
                return LoopHeader(kind: .statement, iteratesCollection: !numeric, isInline: last != UInt8(ascii: "{"))
            }
            if at("while (") || at("while(") || at("do {") {
                return LoopHeader(kind: .statement, iteratesCollection: false, isInline: last != UInt8(ascii: "{"))
            }
            if code.has(".forEach(") || code.has(".forEach {") {
                return LoopHeader(kind: .forEachCallback, iteratesCollection: true, isInline: last != UInt8(ascii: "{"))
            }
        case .swift:
            if at("for await ") || at("for try await ") {
                return LoopHeader(kind: .asyncIteration, iteratesCollection: true, isInline: last != UInt8(ascii: "{"))
            }
            if at("for ") {
                return LoopHeader(
                    kind: .statement, iteratesCollection: !smallRange(line), isInline: last != UInt8(ascii: "{"))
            }
            if at("while ") || at("repeat {") {
                return LoopHeader(kind: .statement, iteratesCollection: false, isInline: last != UInt8(ascii: "{"))
            }
            if code.has(".forEach {") || code.has(".forEach({") {
                return LoopHeader(kind: .forEachCallback, iteratesCollection: true, isInline: last != UInt8(ascii: "{"))
            }
        case .ruby:
            if at("for ") || at("while ") || at("until ") || at("loop do") {
                return LoopHeader(kind: .statement, iteratesCollection: at("for "), isInline: false)
            }
            for each: Needle in [
                ".each do", ".each {", ".each_with_index", ".each_with_object", ".map do", ".map {",
                ".find_each", ".times do",
            ] where code.has(each) {
                let collection = each.bytes != Needle(".times do").bytes
                return LoopHeader(kind: .statement, iteratesCollection: collection, isInline: code.has("}"))
            }
        case .shell:
            if at("for ") || at("while ") || at("until ") {
                return LoopHeader(kind: .statement, iteratesCollection: at("for "), isInline: code.has("done"))
            }
        default:
            break
        }
        return nil
    }

    /// `range(3)`, `0..<5`, `i < 10`: loops with a small literal bound.
    static func smallRange(_ line: SourceLine) -> Bool {
        let code = line.code
        for marker: Needle in ["range(", "..<", "...", "< "] {
            guard let index = code.find(marker) else { continue }
            var i = code.skipSpaces(from: index + marker.count)
            var digits = 0
            while i < code.count && code[i].isASCIIDigit { i += 1; digits += 1 }
            if digits > 0 && digits <= 3 {
                let next = code.skipSpaces(from: i)
                if next >= code.count || !code[next].isIdentifierByte && code[next] != UInt8(ascii: ".") { return true }
            }
        }
        return false
    }
}
