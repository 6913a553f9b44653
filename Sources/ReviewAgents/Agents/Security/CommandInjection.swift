// MARK: Command injection (CWE-78)

extension SecurityFileReview {
    func commandInjection(_ line: SourceLine, childProcess: Bool, _ c: inout FindingCollector) {
        let rule = Rules.commandInjection
        func report(_ what: String, _ fix: String) {
            c.add(
                rule, file: file, line: line, message: "\(what) runs a shell command built from a non-constant string.",
                suggestion: fix)
        }
        switch language {
        case .python:
            for name: Needle in ["os.system(", "os.popen(", "commands.getoutput(", "commands.getstatusoutput("] {
                for paren in line.calls(name) where line.argumentShape(openParen: paren) != .plainLiteral {
                    report(
                        String(decoding: name.bytes.dropLast(), as: UTF8.self),
                        "Use subprocess.run([...]) with an argument list and no shell.")
                    return
                }
            }
            if line.codeHas("shell=True") || line.codeHas("shell = True") {
                for name: Needle in [
                    "subprocess.run(", "subprocess.call(", "subprocess.Popen(", "subprocess.check_output(",
                    "subprocess.check_call(", "subprocess.getoutput(",
                ] {
                    for paren in line.calls(name) where line.argumentShape(openParen: paren) != .plainLiteral {
                        report("subprocess with shell=True", "Pass an argument list and drop shell=True.")
                        return
                    }
                }
            }
        case .javascript, .typescript:
            var names: [Needle] = [
                "child_process.exec(", "child_process.execSync(", "cp.exec(", "cp.execSync(",
                "childProcess.exec(", "childProcess.execSync(",
            ]
            if childProcess { names += ["exec(", "execSync("] }
            for name in names {
                let bare = name.bytes.first == UInt8(ascii: "e")
                for paren in line.calls(name, bare: bare) where line.argumentShape(openParen: paren) != .plainLiteral {
                    report("child_process.exec", "Use execFile or spawn with an argument array (no shell).")
                    return
                }
            }
            if line.codeHas("shell: true") {
                for paren in line.calls("spawn(") where line.argumentShape(openParen: paren) == .builtString {
                    report("spawn with shell: true", "Drop shell: true and pass the arguments as an array.")
                    return
                }
            }
        case .go:
            guard line.codeHas("exec.Command") else { return }
            let shells: Set<String> = ["sh", "bash", "/bin/sh", "/bin/bash", "zsh", "cmd", "cmd.exe", "powershell"]
            let hasShell = line.literals.contains { shells.contains(line.content(of: $0).string) }
            let dashC = line.literals.first { ["-c", "/c", "-Command"].contains(line.content(of: $0).string) }
            if hasShell, let dashC {
                let rest = Array(line.code[dashC.end...])
                if rest.has("+") || rest.has("Sprintf") || rest.contains(where: \.isASCIILetter) {
                    report("exec.Command with a shell", "Call the program directly: exec.Command(name, args...).")
                }
            } else if line.codeHas("exec.Command(fmt.Sprintf") || line.codeHas("exec.CommandContext(ctx, fmt.Sprintf") {
                report("exec.Command", "Pass the program and each argument separately.")
            }
        case .java, .kotlin:
            for name: Needle in ["getRuntime().exec(", "runtime.exec(", "Runtime.exec("] {
                for paren in line.calls(name) where line.argumentShape(openParen: paren) != .plainLiteral {
                    report("Runtime.exec", "Use ProcessBuilder with a list of arguments and no shell.")
                    return
                }
            }
            if line.codeHas("ProcessBuilder("), line.literals.contains(where: { line.content(of: $0).string == "-c" }),
                line.literals.contains(where: { line.isConcatenated($0) }) || line.codeHas("String.format")
            {
                report("ProcessBuilder with sh -c", "Pass the program and its arguments separately, without sh -c.")
            }
        case .ruby:
            for literal in line.literals where literal.isInterpolated && literal.quote == UInt8(ascii: "`") {
                report("A backtick command", "Use system(\"cmd\", arg1, arg2) or Open3 with separate arguments.")
                return
            }
            if line.codeHas("%x(") || line.codeHas("%x{") {
                if line.raw.has("#{") { report("%x()", "Use Open3.capture2 with separate arguments.") }
                return
            }
            for name: Needle in [
                "system(", "exec(", "spawn(", "IO.popen(", "Open3.capture2(", "Open3.capture3(",
                "Open3.popen3(", "Kernel.system(",
            ] {
                for paren in line.calls(name, bare: name.bytes.first?.isASCIILower == true)
                where line.argumentShape(openParen: paren) == .builtString {
                    report(
                        String(decoding: name.bytes.dropLast(), as: UTF8.self),
                        "Pass the command and its arguments separately so no shell parses them.")
                    return
                }
            }
        case .swift:
            if line.literals.contains(where: { line.content(of: $0).string == "-c" }),
                line.codeHas("arguments") || line.codeHas("Process"),
                line.literals.contains(where: { $0.isInterpolated || line.isConcatenated($0) })
            {
                report("Process with sh -c", "Set executableURL to the program and pass each argument separately.")
            }
        case .shell:
            for needle: Needle in ["sh -c ", "bash -c ", "zsh -c "] {
                guard let index = line.raw.find(needle) else { continue }
                if let literal = line.literals.first(where: { $0.start >= index + needle.count - 1 }),
                    literal.isInterpolated, literal.quote == UInt8(ascii: "\"")
                {
                    report(
                        "\(String(decoding: needle.bytes, as: UTF8.self).trimmingSpaces)",
                        "Pass values as positional parameters: sh -c 'cmd \"$1\"' sh \"$value\".")
                    return
                }
            }
        case .php:
            for name: Needle in ["shell_exec(", "system(", "exec(", "passthru(", "popen(", "proc_open("] {
                for paren in line.calls(name, bare: true) where line.argumentShape(openParen: paren) != .plainLiteral {
                    report(
                        String(decoding: name.bytes.dropLast(), as: UTF8.self), "Use escapeshellarg on every argument.")
                    return
                }
            }
        default:
            break
        }
    }
}
