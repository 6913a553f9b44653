// MARK: Prototype pollution (CWE-1321)

extension SecurityFileReview {
    static let mergeGuards: [Needle] = [
        "__proto__", "hasOwnProperty", "Object.hasOwn(", "Object.create(null)", "new Map(", "isSafeKey",
        "'constructor'", "\"constructor\"", "Object.freeze(",
    ]

    func prototypePollution(_ line: SourceLine, index: Int, hunk: [SourceLine], _ c: inout FindingCollector) {
        var reason: String?
        let raw = line.raw
        if raw.has("__proto__") {
            let guarded =
                raw.has("=== '__proto__'") || raw.has("=== \"__proto__\"") || raw.has("== '__proto__'")
                || raw.has("!== '__proto__'") || raw.has("!== \"__proto__\"") || raw.has("'__proto__' in")
                || raw.has("\"__proto__\" in") || raw.has("hasOwnProperty") || raw.has("includes(")
                || raw.has("case '__proto__'") || raw.has("case \"__proto__\"")
            if !guarded && (line.code.has("__proto__") || raw.has("[\"__proto__\"]") || raw.has("['__proto__']")) {
                reason = "writes through __proto__"
            }
        }
        if reason == nil {
            for name: Needle in [
                "_.merge(", "_.mergeWith(", "_.defaultsDeep(", "$.extend(true", "jQuery.extend(true",
                "deepmerge(", "merge.recursive(", "_.set(", "_.setWith(",
            ] where line.code.has(name) {
                if ["req.body", "req.query", "req.params", "JSON.parse(", "request.body", "ctx.request.body"]
                    .contains(where: { raw.has(Needle($0)) })
                {
                    reason = "deep-merges untrusted input"
                }
            }
        }
        if reason == nil, Self.isComputedCopy(line) {
            // Only inside a loop over keys, without a guard nearby.
            let window = hunk[max(0, index - 12)..<min(hunk.count, index + 4)]
            let iteratesKeys = window.contains { other in
                other.code.has("for (const ") && other.code.has(" in ")
                    || other.code.has("for (let ") && other.code.has(" in ")
                    || other.code.has("for (var ") && other.code.has(" in ") || other.code.has("Object.keys(")
                    || other.code.has("Object.entries(")
            }
            let guarded = window.contains { other in Self.mergeGuards.contains(where: { other.raw.has($0) }) }
            if iteratesKeys && !guarded { reason = "copies keys from another object without skipping __proto__" }
        }
        guard let reason else { return }
        c.add(
            Rules.prototypePollution, file: file, line: line,
            message: "This code \(reason); a key like \"__proto__\" or \"constructor\" changes Object.prototype.",
            suggestion: "Skip __proto__, constructor and prototype keys (or check Object.hasOwn), or copy into a "
                + "Map or Object.create(null).")
    }

    /// `target[key] = source[key]` or `obj[a][b] = value`.
    static func isComputedCopy(_ line: SourceLine) -> Bool {
        let code = line.code
        guard let equals = code.find(" = "), !code.matches("==", at: equals + 1) else { return false }
        let left = Array(code[..<equals])
        let right = Array(code[(equals + 3)...])
        let leftBrackets = left.count(where: { $0 == UInt8(ascii: "[") })
        guard leftBrackets >= 1, left.last == UInt8(ascii: "]") else { return false }
        // Literal keys like obj["name"] are safe.
        if let open = left.lastIndex(of: UInt8(ascii: "[")), open + 1 < left.count,
            left[open + 1] == UInt8(ascii: "\"") || left[open + 1] == UInt8(ascii: "'") || left[open + 1].isASCIIDigit
        {
            return false
        }
        return leftBrackets >= 2 || right.contains(UInt8(ascii: "["))
    }
}
