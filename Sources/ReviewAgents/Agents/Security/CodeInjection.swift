// MARK: Code injection (CWE-95)

extension SecurityFileReview {
    func codeInjection(_ line: SourceLine, _ c: inout FindingCollector) {
        let rule = Rules.codeInjection
        func report(_ what: String, _ fix: String) {
            c.add(
                rule, file: file, line: line, message: "\(what) evaluates a non-constant string as code.",
                suggestion: fix)
        }
        switch language {
        case .python:
            for name: Needle in ["eval(", "exec("] {
                for paren in line.calls(name, bare: true) {
                    let shape = line.argumentShape(openParen: paren)
                    if shape != .plainLiteral && shape != .empty {
                        report(
                            String(decoding: name.bytes.dropLast(), as: UTF8.self),
                            "Parse the data instead (ast.literal_eval, json.loads) or dispatch through a dict.")
                        return
                    }
                }
            }
        case .javascript, .typescript:
            for paren in line.calls("eval(", bare: true) where line.argumentShape(openParen: paren) != .plainLiteral {
                report("eval", "Use JSON.parse for data or a lookup table for behaviour.")
                return
            }
            if line.codeHas("new Function(") {
                report("new Function", "Build behaviour from code, not strings.")
                return
            }
            for name: Needle in ["setTimeout(", "setInterval("] {
                for paren in line.calls(name, bare: true) {
                    let shape = line.argumentShape(openParen: paren)
                    if shape == .plainLiteral || shape == .builtString {
                        report(
                            String(decoding: name.bytes.dropLast(), as: UTF8.self) + " with a string",
                            "Pass a function instead of a string.")
                        return
                    }
                }
            }
            for name: Needle in [
                "vm.runInThisContext(", "vm.runInNewContext(", "vm.runInContext(", "vm.compileFunction(",
            ] {
                for paren in line.calls(name) where line.argumentShape(openParen: paren) != .plainLiteral {
                    report("node:vm", "node:vm is not a sandbox; do not run strings from input.")
                    return
                }
            }
        case .ruby:
            for name: Needle in ["eval(", "instance_eval(", "class_eval(", "module_eval("] {
                for paren in line.calls(name, bare: name.bytes.first == UInt8(ascii: "e")) {
                    let shape = line.argumentShape(openParen: paren)
                    if shape == .builtString || shape == .expression {
                        report(
                            String(decoding: name.bytes.dropLast(), as: UTF8.self),
                            "Use a block form or define the methods explicitly.")
                        return
                    }
                }
            }
            if (line.codeHas(".send(params") || line.codeHas(".public_send(params") || line.codeHas("constantize"))
                && line.code.has("params")
            {
                report("Dispatch on request parameters", "Map allowed values to methods or classes explicitly.")
            }
        case .php:
            for paren in line.calls("eval(", bare: true) where line.argumentShape(openParen: paren) != .plainLiteral {
                report("eval", "Remove eval; parse the data instead.")
            }
        case .java, .kotlin:
            if line.code.asciiLowercased.has("engine.eval(") {
                for paren in line.calls(".eval(") where line.argumentShape(openParen: paren) != .plainLiteral {
                    report("ScriptEngine.eval", "Do not evaluate scripts built from input.")
                    return
                }
            }
        case .swift:
            for paren in line.calls("evaluateScript(") where line.argumentShape(openParen: paren) != .plainLiteral {
                report("JSContext.evaluateScript", "Pass data to the script through JSValue, not by string building.")
                return
            }
        case .shell:
            guard let index = line.code.findWord("eval") else { return }
            let rest = Array(line.raw[(index + 4)...])
            var i = 0
            while let dollar = rest.find("$", from: i) {
                i = dollar + 1
                guard dollar + 1 < rest.count else { break }
                let next = rest[dollar + 1]
                if next == UInt8(ascii: "(") { continue }  // eval "$(tool init)" is the usual idiom
                if next.isIdentifierByte || next == UInt8(ascii: "{") || next == UInt8(ascii: "@")
                    || next == UInt8(ascii: "*")
                {
                    report("eval", "Avoid eval; use arrays for commands and declare/printf -v for dynamic names.")
                    return
                }
            }
        default:
            break
        }
    }
}
