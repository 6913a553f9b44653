// MARK: XSS (CWE-79)

extension SecurityFileReview {
    func xss(_ line: SourceLine, _ c: inout FindingCollector) {
        var sink: String?
        switch language {
        case .javascript, .typescript, .html:
            for assignment: Needle in [".innerHTML", ".outerHTML"] {
                guard let index = line.code.find(assignment) else { continue }
                let op = line.code.skipSpaces(from: index + assignment.count)
                guard line.code.matches("=", at: op) || line.code.matches("+=", at: op),
                    !line.code.matches("==", at: op)
                else { continue }
                let valueStart = line.code.skipSpaces(from: op + (line.code[op] == UInt8(ascii: "+") ? 2 : 1))
                if let literal = line.literal(startingAt: valueStart), !literal.isInterpolated,
                    !line.isConcatenated(literal)
                {
                    continue
                }
                if line.raw.has("DOMPurify.sanitize(") || line.raw.has("sanitizeHtml(") || line.raw.has("escapeHtml(") {
                    continue
                }
                sink = String(decoding: assignment.bytes.dropFirst(), as: UTF8.self)
            }
            if sink == nil {
                for name: Needle in ["document.write(", "document.writeln(", ".insertAdjacentHTML("] {
                    for paren in line.calls(name) {
                        var argument = paren
                        if name.bytes == Needle(".insertAdjacentHTML(").bytes,
                            let comma = line.code.find(Needle(",").bytes, from: paren)
                        {
                            argument = comma
                        }
                        if line.argumentShape(openParen: argument) != .plainLiteral {
                            sink = String(decoding: name.bytes.dropLast(), as: UTF8.self)
                        }
                    }
                }
            }
            if sink == nil && (line.raw.has("dangerouslySetInnerHTML") && !line.raw.has("sanitize")) {
                sink = "dangerouslySetInnerHTML"
            }
            if sink == nil && line.raw.has("v-html=") { sink = "v-html" }
            if sink == nil && line.raw.has("bypassSecurityTrustHtml(") { sink = "bypassSecurityTrustHtml" }
            if sink == nil && (line.raw.has("{{{") || line.raw.has("<%-")) && language == .html {
                sink = "unescaped template output"
            }
            if sink == nil && language == .html
                && (line.raw.has("|safe") || line.raw.has("| safe")
                    || line.raw.has("autoescape false") || line.raw.has("autoescape off") || line.raw.has("<%==")
                    || line.raw.has("#unsafeHTML(") || line.raw.has(".html_safe") || line.raw.has("raw("))
            {
                sink = "unescaped template output"
            }
        case .python:
            for name: Needle in ["mark_safe(", "Markup(", "SafeString("] {
                for paren in line.calls(name) where line.argumentShape(openParen: paren) != .plainLiteral {
                    if line.argumentShape(openParen: paren) == .empty { continue }
                    sink = String(decoding: name.bytes.dropLast(), as: UTF8.self)
                }
            }
            if sink == nil && (line.raw.has("autoescape=False") || line.raw.has("autoescape = False")) {
                sink = "autoescape=False"
            }
        case .ruby:
            if line.code.has(".html_safe") {
                let before = Array(line.code[..<line.code.find(".html_safe")!])
                if before.contains(where: \.isIdentifierByte) || line.literals.contains(where: \.isInterpolated) {
                    sink = "html_safe"
                }
            } else {
                for paren in line.calls("raw(", bare: true) where line.argumentShape(openParen: paren) != .plainLiteral
                {
                    sink = "raw"
                }
            }
        case .go:
            for paren in line.calls("template.HTML(") where line.argumentShape(openParen: paren) != .plainLiteral {
                sink = "template.HTML"
            }
            if sink == nil, line.code.has("w.Write([]byte(") || line.code.has("fmt.Fprintf(w,"),
                Self.requestSources[.go]!.contains(where: { line.raw.has($0) })
            {
                sink = "a response written from request input"
            }
        case .java, .kotlin:
            if line.code.has("getWriter()."),
                Self.requestSources[.java]!.contains(where: { line.raw.has($0) })
            {
                sink = "a response written from request input"
            }
        case .php:
            if (line.code.has("echo ") || line.code.has("print "))
                && Self.requestSources[.php]!.contains(where: { line.raw.has($0) })
                && !line.raw.has("htmlspecialchars(")
            {
                sink = "echo of request input"
            }
        default:
            break
        }
        guard let sink else { return }
        c.add(
            Rules.xss, file: file, line: line,
            message: "Dynamic content reaches \(sink) without escaping (cross-site scripting).",
            suggestion: "Insert text with textContent or the template's escaping; if HTML is required, sanitise it "
                + "(DOMPurify, bleach, sanitize).")
    }
}
