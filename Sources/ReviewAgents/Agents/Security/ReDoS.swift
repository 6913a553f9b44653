// MARK: ReDoS (CWE-1333)

extension SecurityFileReview {
    func redos(_ line: SourceLine, _ c: inout FindingCollector) {
        // Go's regexp and Rust's regex are linear-time engines: nested quantifiers are harmless there.
        guard language != .go && language != .rust else { return }
        let constructors: [Needle] = [
            "re.compile(", "re.match(", "re.search(", "re.fullmatch(", "re.sub(", "re.findall(", "re.split(",
            "re.finditer(", "new RegExp(", "RegExp(", "Pattern.compile(", ".matches(", "Regexp.new(", "Regex(",
            "NSRegularExpression(pattern:", ".replaceAll(", "preg_match(", "preg_replace(", "Regex.new(",
        ]
        var patterns: [ArraySlice<UInt8>] = []
        for constructor in constructors {
            guard let index = line.code.find(constructor) else { continue }
            let start = line.raw.skipSpaces(from: index + constructor.count)
            if let literal = line.literal(startingAt: start) { patterns.append(line.content(of: literal)) }
        }
        if language.isJavaScriptLike || language == .ruby || language == .swift {
            patterns += Self.regexLiterals(line)
        }
        for pattern in patterns where Self.hasCatastrophicBacktracking(Array(pattern)) {
            c.add(
                Rules.redos, file: file, line: line,
                message: "This regular expression nests quantifiers (like (a+)+); some inputs make it run for "
                    + "exponential time.",
                suggestion: "Remove the inner or outer quantifier, make the branches mutually exclusive, use "
                    + "possessive/atomic groups, or bound the input length.")
            return
        }
    }

    /// JavaScript / Ruby / Swift regex literals: `/…/` after `=`, `(`, `,`, `:` or `return`.
    static func regexLiterals(_ line: SourceLine) -> [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        let code = line.code
        var i = 0
        while i < code.count {
            guard code[i] == UInt8(ascii: "/") else { i += 1; continue }
            let before = code.skipSpacesBackward(from: i - 1)
            let opener =
                before < 0
                || [
                    UInt8(ascii: "="), UInt8(ascii: "("), UInt8(ascii: ","), UInt8(ascii: ":"),
                    UInt8(ascii: "["), UInt8(ascii: "!"), UInt8(ascii: "&"), UInt8(ascii: "|"),
                    UInt8(ascii: "?"), UInt8(ascii: "{"), UInt8(ascii: ";"), UInt8(ascii: "~"),
                    UInt8(ascii: "#"),
                ].contains(code[before])
                || (before >= 5 && code.matches("return", at: before - 5))
            guard opener, i + 1 < code.count, code[i + 1] != UInt8(ascii: "/"), code[i + 1] != UInt8(ascii: "*") else {
                i += 1
                continue
            }
            var j = i + 1
            var inClass = false
            while j < code.count {
                let ch = line.raw[j]
                if ch == UInt8(ascii: "\\") { j += 2; continue }
                if ch == UInt8(ascii: "[") { inClass = true }
                if ch == UInt8(ascii: "]") { inClass = false }
                if ch == UInt8(ascii: "/") && !inClass { break }
                j += 1
            }
            guard j < code.count else { break }
            result.append(line.raw[(i + 1)..<j])
            i = j + 1
        }
        return result
    }

    /// Whether a regex has a quantified group containing a quantifier, or a quantified alternation whose
    /// branches start alike: the two classic shapes of catastrophic backtracking.
    static func hasCatastrophicBacktracking(_ pattern: [UInt8]) -> Bool {
        struct Group {
            var hasInnerQuantifier = false
            var branchStarts: [[UInt8]] = []
            var atBranchStart = true
        }
        var stack: [Group] = []
        var i = 0
        let n = pattern.count
        func quantifierAt(_ k: Int) -> (unbounded: Bool, length: Int)? {
            guard k < n else { return nil }
            switch pattern[k] {
            case UInt8(ascii: "*"), UInt8(ascii: "+"): return (true, 1)
            case UInt8(ascii: "{"):
                var m = k + 1
                while m < n && (pattern[m].isASCIIDigit || pattern[m] == UInt8(ascii: ",")) { m += 1 }
                guard m < n, pattern[m] == UInt8(ascii: "}") else { return nil }
                let body = Array(pattern[(k + 1)..<m])
                if let comma = body.firstIndex(of: UInt8(ascii: ",")) {
                    let upper = body[(comma + 1)...]
                    if upper.isEmpty { return (true, m - k + 1) }
                    let value = Int(String(decoding: upper, as: UTF8.self)) ?? 0
                    return (value > 10, m - k + 1)
                }
                let value = Int(String(decoding: body, as: UTF8.self)) ?? 0
                return (value > 10, m - k + 1)
            default: return nil
            }
        }
        func noteAtom(_ atom: [UInt8]) {
            guard !stack.isEmpty, stack[stack.count - 1].atBranchStart else { return }
            stack[stack.count - 1].branchStarts.append(atom)
            stack[stack.count - 1].atBranchStart = false
        }
        while i < n {
            let ch = pattern[i]
            switch ch {
            case UInt8(ascii: "\\"):
                noteAtom(Array(pattern[i..<min(i + 2, n)]))
                i += 2
                continue
            case UInt8(ascii: "["):
                var j = i + 1
                if j < n && pattern[j] == UInt8(ascii: "^") { j += 1 }
                if j < n && pattern[j] == UInt8(ascii: "]") { j += 1 }
                while j < n && pattern[j] != UInt8(ascii: "]") {
                    if pattern[j] == UInt8(ascii: "\\") { j += 1 }
                    j += 1
                }
                noteAtom(Array(pattern[i..<min(j + 1, n)]))
                i = j + 1
                continue
            case UInt8(ascii: "("):
                noteAtom([UInt8(ascii: "(")])
                stack.append(Group())
                // Skip "(?:", "(?<name>", "(?=" and friends.
                if i + 1 < n && pattern[i + 1] == UInt8(ascii: "?") {
                    var j = i + 2
                    if j < n && (pattern[j] == UInt8(ascii: "<") || pattern[j] == UInt8(ascii: "P")) && j + 1 < n
                        && pattern[j + 1] != UInt8(ascii: "=") && pattern[j + 1] != UInt8(ascii: "!")
                    {
                        while j < n && pattern[j] != UInt8(ascii: ">") { j += 1 }
                    }
                    i = j + 1
                    continue
                }
            case UInt8(ascii: "|"):
                if !stack.isEmpty { stack[stack.count - 1].atBranchStart = true }
            case UInt8(ascii: ")"):
                guard let group = stack.popLast() else { break }
                if let quantifier = quantifierAt(i + 1), quantifier.unbounded {
                    if group.hasInnerQuantifier { return true }
                    let starts = group.branchStarts
                    if starts.count >= 2 && Set(starts).count < starts.count { return true }
                    if starts.count >= 2 && starts.contains([UInt8(ascii: ".")]) { return true }
                }
                if group.hasInnerQuantifier, !stack.isEmpty { stack[stack.count - 1].hasInnerQuantifier = true }
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "{"):
                if let quantifier = quantifierAt(i), quantifier.unbounded, !stack.isEmpty {
                    stack[stack.count - 1].hasInnerQuantifier = true
                }
                if let quantifier = quantifierAt(i) {
                    i += quantifier.length
                    continue
                }
            default:
                noteAtom([ch])
            }
            i += 1
        }
        return false
    }
}
