/// Extracts what a line imports, per language.
enum ImportParser {
    /// The imported module as written (`Foundation`, `app.db.models`, `./util`, `github.com/x/y`), or nil.
    static func imported(_ line: SourceLine, language: Language) -> String? {
        let code = line.code
        let raw = line.raw
        let start = code.skipSpaces(from: 0)
        guard start < code.count else { return nil }
        func word(at index: Int, extra: (UInt8) -> Bool = { _ in false }) -> String? {
            var end = index
            while end < raw.count && (raw[end].isIdentifierByte || extra(raw[end])) { end += 1 }
            return end > index ? raw.string(index..<end) : nil
        }
        func firstLiteral() -> String? { line.literals.first.map { line.content(of: $0).string } }
        switch language {
        case .swift:
            var i = start
            for prefix: Needle in [
                "@testable ", "@_exported ", "@_implementationOnly ", "@preconcurrency ", "internal ",
                "public ", "private ", "fileprivate ", "package ",
            ] where code.matches(prefix, at: i) {
                i = code.skipSpaces(from: i + prefix.count)
            }
            guard code.matches("import ", at: i) else { return nil }
            i = code.skipSpaces(from: i + 7)
            for kind: Needle in ["struct ", "class ", "enum ", "protocol ", "func ", "typealias ", "var ", "let "]
            where code.matches(kind, at: i) {
                i = code.skipSpaces(from: i + kind.count)
            }
            return word(at: i)
        case .python:
            if code.matches("import ", at: start) {
                return word(at: code.skipSpaces(from: start + 7), extra: { $0 == UInt8(ascii: ".") })
            }
            if code.matches("from ", at: start) {
                let i = code.skipSpaces(from: start + 5)
                guard let module = word(at: i, extra: { $0 == UInt8(ascii: ".") }) else { return nil }
                guard code.find(" import", from: i) != nil else { return nil }
                return module
            }
        case .javascript, .typescript:
            if code.matches("import ", at: start) || code.matches("export ", at: start) && code.has(" from ") {
                if let fromIndex = code.find(" from ") {
                    return line.literals.first(where: { $0.start > fromIndex }).map { line.content(of: $0).string }
                }
                return code.matches("import ", at: start) ? firstLiteral() : nil
            }
            for call: Needle in ["require(", "import("] {
                guard let index = code.find(call) else { continue }
                if index > 0 && (code[index - 1].isIdentifierByte || code[index - 1] == UInt8(ascii: ".")) { continue }
                return line.literal(startingAt: code.skipSpaces(from: index + call.count)).map {
                    line.content(of: $0).string
                }
            }
        case .go:
            // `import "x"`, or a lone `"x"` / `alias "x"` line inside an import block.
            if code.matches("import ", at: start) { return firstLiteral() }
            guard let literal = line.literals.first, literal.isTerminated else { return nil }
            let before = Array(code[start..<literal.start]).filter { !$0.isSpaceOrTab }
            let after = code.skipSpaces(from: literal.end)
            guard after >= code.count, before.allSatisfy({ $0.isIdentifierByte || $0 == UInt8(ascii: ".") }),
                literal.quote == UInt8(ascii: "\"")
            else { return nil }
            let path = line.content(of: literal).string
            return path.contains("/") || path.allSatisfy({ $0.isLetter }) ? path : nil
        case .java, .kotlin, .csharp:
            for keyword: Needle in ["import static ", "import ", "using "] where code.matches(keyword, at: start) {
                let i = code.skipSpaces(from: start + keyword.count)
                return word(at: i, extra: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "*") })
            }
        case .ruby:
            for keyword: Needle in ["require_relative ", "require_relative(", "require ", "require("]
            where code.matches(keyword, at: start) {
                guard let literal = firstLiteral() else { return nil }
                return keyword.bytes.starts(with: Array("require_relative".utf8)) ? "./" + literal : literal
            }
        case .rust:
            for keyword: Needle in ["use ", "pub use "] where code.matches(keyword, at: start) {
                let i = code.skipSpaces(from: start + keyword.count)
                return word(at: i, extra: { $0 == UInt8(ascii: ":") })?.replacingColons
            }
        case .php:
            if code.matches("use ", at: start) {
                return word(at: code.skipSpaces(from: start + 4), extra: { $0 == UInt8(ascii: "\\") })
            }
        default:
            break
        }
        return nil
    }

    /// Resolves `./x` and `../x` against the importing file's directory.
    static func resolveRelative(_ module: String, from directory: String) -> String? {
        guard module.hasPrefix("./") || module.hasPrefix("../") else { return nil }
        var parts = directory.split(separator: "/").map(String.init)
        for component in module.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(String(component))
            }
        }
        return parts.joined(separator: "/")
    }
}

extension String {
    var replacingColons: String {
        var out = ""
        var previousColon = false
        for ch in self {
            if ch == ":" {
                if previousColon { out.append(".") }
                previousColon.toggle()
                continue
            }
            previousColon = false
            out.append(ch)
        }
        return out
    }
}
