// MARK: SQL injection (CWE-89)

extension SecurityFileReview {
    static let sqlStarts: [Needle] = [
        "select ", "insert ", "update ", "delete ", "with ", "replace ", "merge ", "upsert ",
    ]
    static let sqlSecond: [Needle] = [" from ", " into ", " set ", " where ", " values", " as (", " join "]

    static func looksLikeSQL(_ content: ArraySlice<UInt8>) -> Bool {
        let lower = Array(content).asciiLowercased
        let start = lower.skipSpaces(from: 0)
        guard sqlStarts.contains(where: { lower.matches($0, at: start) }) else { return false }
        return sqlSecond.contains(where: { lower.has($0) })
    }

    func sqlInjection(_ line: SourceLine, _ c: inout FindingCollector) {
        guard !line.literals.isEmpty else { return }
        for literal in line.literals where Self.looksLikeSQL(line.content(of: literal)) {
            var how: String?
            if literal.isInterpolated {
                // Swift database clients (postgres-nio's PostgresQuery, SQLKit) turn "\(value)" into bind
                // parameters; only explicit raw interpolation splices text.
                if language == .swift {
                    let content = Array(line.content(of: literal))
                    guard content.has("\\(raw:") || content.has("\\(unsafeRaw:") || content.has("\\(unescaped:") else {
                        continue
                    }
                }
                how = "interpolation"
            } else if line.isConcatenated(literal) {
                how = "concatenation"
            } else {
                let content = Array(line.content(of: literal))
                let formats =
                    content.has("%s") || content.has("%d") || content.has("%v") || content.has("{}")
                    || content.has("{0}")
                if formats {
                    let before = Array(line.code[..<literal.start])
                    if before.has("Sprintf(") || before.has("String.format(") || before.has("format!(")
                        || line.code.find(Needle(".format(").bytes, from: literal.end) == literal.end
                    {
                        how = "a format function"
                    }
                }
            }
            guard let how else { continue }
            c.add(
                Rules.sqlInjection, file: file, line: line,
                message: "SQL statement is built with \(how); values can change the query.",
                suggestion: "Use bind parameters ($1, ?, :name, or %s with a parameter tuple) and pass the values "
                    + "separately.")
            return
        }
    }
}
