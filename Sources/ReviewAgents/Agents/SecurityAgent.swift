/// Looks for credentials and for code that lets input reach a dangerous place: shells, `eval`, SQL, file
/// paths, HTML, deserialisers; and for weakened TLS, weak cryptography and predictable secrets.
public struct SecurityAgent: ReviewAgent {
    /// Always ``AgentKind/security``.
    public var kind: AgentKind { .security }

    /// Creates the agent.
    public init() {}

    /// Reviews the added lines of every text file.
    public func review(_ input: ReviewInput) async throws -> [Finding] {
        var collector = FindingCollector(agent: .security, configuration: input.configuration)
        for file in input.reviewableFiles where !file.isBinary && file.diff.changeKind != .deleted {
            try Task.checkCancellation()
            try SecurityFileReview(file: file).run(into: &collector)
        }
        return collector.finish()
    }
}

private struct SecurityFileReview {
    let file: SourceFile
    let language: Language

    init(file: SourceFile) {
        self.file = file
        language = file.language
    }

    func run(into collector: inout FindingCollector) throws {
        let name = file.fileName
        let bareValues: Bool =
            switch language {
            case .env, .yaml, .toml, .shell, .dockerfile: true
            case .other: name.hasPrefix(".") || !name.contains(".") || name.hasSuffix("rc")
            default: false
            }
        let scanner = SecretScanner(language: language, bareValues: bareValues, isTest: file.traits.isTest)
        let scanSecrets = !file.traits.isLockfile && !file.traits.isGenerated
        let judgeCode = language.isCode || language == .html
        let judgeConfig = [.yaml, .json, .toml, .env, .dockerfile, .xml, .other].contains(language)
        let fileMentionsChildProcess =
            language.isJavaScriptLike
            && file.hunks.contains { $0.contains { $0.raw.has("child_process") } }
        for hunk in file.hunks {
            var tainted: Set<String> = []
            for (index, line) in hunk.enumerated() {
                try Task.checkCancellation()
                if judgeCode && !line.isCommentOnly, language != .html, let name = taintedAssignment(line) {
                    tainted.insert(name)
                }
                guard line.isAdded, !line.isBlank else { continue }
                if scanSecrets && !SecretScanner.hashFieldMarkers.contains(where: { line.raw.has($0) }) {
                    let next = index + 1 < hunk.count ? hunk[index + 1] : nil
                    for hit in scanner.scan(line, next: next) {
                        collector.add(
                            hit.rule, file: file, line: line, message: hit.message, suggestion: hit.suggestion)
                    }
                }
                if judgeConfig || language == .shell {
                    tlsInConfig(line, &collector)
                }
                guard judgeCode, !line.isCommentOnly else { continue }
                commandInjection(line, childProcess: fileMentionsChildProcess, &collector)
                codeInjection(line, &collector)
                sqlInjection(line, &collector)
                pathTraversal(line, tainted: tainted, &collector)
                tlsInCode(line, &collector)
                weakCrypto(line, &collector)
                deserialization(line, &collector)
                randomness(line, &collector)
                xss(line, &collector)
                redos(line, &collector)
                if language.isJavaScriptLike { prototypePollution(line, index: index, hunk: hunk, &collector) }
            }
        }
    }

    // MARK: Command injection (CWE-78)

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

    // MARK: Code injection (CWE-95)

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

    // MARK: SQL injection (CWE-89)

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

    // MARK: Path traversal (CWE-22)

    static let requestSources: [Language: [Needle]] = [
        .python: [
            "request.args", "request.form", "request.values", "request.GET", "request.POST", "request.files",
            "request.json", "request.data", "request.query_params", "request.path_params", "request.match_info",
        ],
        .javascript: [
            "req.query", "req.params", "req.body", "request.query", "request.params", "request.body",
            "ctx.query", "ctx.params", "ctx.request.body",
        ],
        .typescript: [
            "req.query", "req.params", "req.body", "request.query", "request.params", "request.body",
            "ctx.query", "ctx.params", "ctx.request.body",
        ],
        .go: [
            "r.URL.Query()", "r.FormValue(", "r.PostFormValue(", "mux.Vars(r)", "c.Param(", "c.Query(", "chi.URLParam(",
            "r.PathValue(",
        ],
        .java: ["request.getParameter(", "req.getParameter(", "getPathInfo()", "@PathVariable", "@RequestParam"],
        .kotlin: ["request.getParameter(", "call.parameters[", "call.request.queryParameters["],
        .ruby: ["params["],
        .swift: [
            "req.parameters.get(", "req.query[", "request.uri.queryParameters", "context.parameters.get(",
            "req.query.get(",
        ],
        .php: ["$_GET[", "$_POST[", "$_REQUEST[", "$_FILES["],
    ]

    static let fileSinks: [Language: [Needle]] = [
        .python: [
            "open(", "send_file(", "os.path.join(", "os.remove(", "os.unlink(", "shutil.", "Path(", "FileResponse(",
        ],
        .javascript: ["fs.", "res.sendFile(", "res.download(", "path.join(", "path.resolve(", "createReadStream("],
        .typescript: ["fs.", "res.sendFile(", "res.download(", "path.join(", "path.resolve(", "createReadStream("],
        .go: [
            "os.Open(", "os.ReadFile(", "ioutil.ReadFile(", "filepath.Join(", "http.ServeFile(", "os.Create(",
            "os.Remove(", "os.OpenFile(", "path.Join(",
        ],
        .java: ["new File(", "Paths.get(", "Path.of(", "new FileInputStream(", "new FileOutputStream(", "Files."],
        .kotlin: ["File(", "Paths.get(", "Path.of(", "respondFile("],
        .ruby: ["File.", "send_file", "IO.read(", "IO.readlines(", "Pathname.new("],
        .swift: [
            "FileManager", "fileURLWithPath:", "contentsOfFile:", "FileHandle(", "streamFile(at:",
            "appendingPathComponent(", "Data(contentsOf:",
        ],
        .php: ["file_get_contents(", "fopen(", "include(", "require(", "readfile(", "unlink("],
    ]

    static let pathSanitisers: [Needle] = [
        "basename(", "secure_filename(", "filepath.Base(", "path.basename(", "File.basename(", "getFileName()",
        "lastPathComponent", "filepath.Clean(\"/\"", "normalize(", "realpath(", "safe_join(", "send_from_directory(",
        "isValidName(", "sanitize",
    ]

    /// `name = <request input>` marks `name` as tainted for the rest of the hunk.
    func taintedAssignment(_ line: SourceLine) -> String? {
        guard let sources = Self.requestSources[language],
            sources.contains(where: { line.code.has($0) || line.raw.has($0) })
        else { return nil }
        return line.assignedIdentifier
    }

    func pathTraversal(_ line: SourceLine, tainted: Set<String>, _ c: inout FindingCollector) {
        guard let sinks = Self.fileSinks[language], let sources = Self.requestSources[language] else { return }
        guard let sink = sinks.first(where: { line.code.has($0) }) else { return }
        let direct = sources.contains { line.raw.has($0) }
        var viaVariable = false
        if !direct, !tainted.isEmpty, let sinkIndex = line.code.find(sink) {
            viaVariable = containsWord(Array(line.code[sinkIndex...]), anyOf: tainted)
        }
        guard direct || viaVariable else { return }
        if Self.pathSanitisers.contains(where: { line.raw.has($0) }) { return }
        // The line that reads the input into a variable is not itself the sink use.
        if direct && line.assignedIdentifier != nil
            && !sources.contains(where: { source in
                guard let s = line.raw.find(source), let k = line.code.find(sink) else { return false }
                return s > k
            })
        {
            return
        }
        c.add(
            Rules.pathTraversal, file: file, line: line,
            message: "A file path comes from request input; '../' can reach files outside the intended directory.",
            suggestion: "Reduce the input to a base name (or look it up in an allow-list) and check the resolved "
                + "path stays under the root directory.")
    }

    // MARK: TLS (CWE-295)

    static let tlsCodePatterns: [Language: [Needle]] = [
        .python: [
            "verify=False", "verify = False", "_create_unverified_context", "CERT_NONE", "check_hostname = False",
            "check_hostname=False",
        ],
        .javascript: [
            "rejectUnauthorized: false", "rejectUnauthorized:false", "rejectUnauthorized = false",
            "NODE_TLS_REJECT_UNAUTHORIZED", "strictSSL: false",
        ],
        .typescript: [
            "rejectUnauthorized: false", "rejectUnauthorized:false", "rejectUnauthorized = false",
            "NODE_TLS_REJECT_UNAUTHORIZED", "strictSSL: false",
        ],
        .go: ["InsecureSkipVerify: true", "InsecureSkipVerify:true", "InsecureSkipVerify = true"],
        .java: [
            "NoopHostnameVerifier", "ALLOW_ALL_HOSTNAME_VERIFIER", "TrustAllCerts", "trustAllCerts",
            "(hostname, session) -> true", "TrustAllStrategy",
        ],
        .kotlin: [
            "NoopHostnameVerifier", "ALLOW_ALL_HOSTNAME_VERIFIER", "TrustAllCerts", "trustAllCerts",
            "{ _, _ -> true }",
        ],
        .ruby: ["VERIFY_NONE", "ssl_verify_mode: :none", "verify_ssl: false"],
        .swift: [
            "certificateVerification: .none", "certificateVerification = .none", ".disableCertificateVerification",
        ],
        .csharp: [
            "ServerCertificateValidationCallback", "ServerCertificateCustomValidationCallback",
            "DangerousAcceptAnyServerCertificateValidator",
        ],
        .php: [
            "CURLOPT_SSL_VERIFYPEER, false", "CURLOPT_SSL_VERIFYPEER, 0", "CURLOPT_SSL_VERIFYHOST, 0",
            "'verify_peer' => false",
        ],
    ]

    func tlsInCode(_ line: SourceLine, _ c: inout FindingCollector) {
        guard let patterns = Self.tlsCodePatterns[language] else { return }
        for pattern in patterns where line.raw.has(pattern) {
            if pattern.bytes == Needle("NODE_TLS_REJECT_UNAUTHORIZED").bytes
                && !(line.raw.has("'0'") || line.raw.has("\"0\"") || line.raw.has("= 0") || line.raw.has("=0"))
            {
                continue
            }
            if language == .csharp && !line.raw.has("true") { continue }
            reportTLS(line, &c)
            return
        }
    }

    static let tlsConfigPatterns: [Needle] = [
        "insecure_skip_verify: true", "insecureskipverify: true", "tls_skip_verify: true", "skip_tls_verify: true",
        "insecure-skip-tls-verify: true", "ssl_verify: false", "verify_ssl: false", "sslverify: false",
        "sslverify = false", "tlsverify: false", "tls_verify: false", "strict-ssl false", "strict-ssl=false",
        "node_tls_reject_unauthorized=0", "node_tls_reject_unauthorized: \"0\"", "node_tls_reject_unauthorized: '0'",
        "git_ssl_no_verify", "--no-check-certificate", "--insecure", "http.sslverify false",
        "pythonhttpsverify=0", "\"rejectunauthorized\": false", "\"strictssl\": false",
    ]

    func tlsInConfig(_ line: SourceLine, _ c: inout FindingCollector) {
        let lower = line.raw.asciiLowercased
        var hit = Self.tlsConfigPatterns.contains(where: { lower.has($0) })
        if !hit && (lower.hasWord("curl")) {
            // curl -k / curl -sk / curl -fsSLk
            var from = 0
            while let dash = line.raw.find(" -", from: from) {
                from = dash + 2
                var end = dash + 2
                while end < line.raw.count && line.raw[end].isASCIILetter { end += 1 }
                if end > dash + 2 && line.raw[(dash + 2)..<end].contains(UInt8(ascii: "k"))
                    && line.raw[dash + 2] != UInt8(ascii: "-")
                {
                    hit = true
                    break
                }
            }
        }
        if hit { reportTLS(line, &c) }
    }

    func reportTLS(_ line: SourceLine, _ c: inout FindingCollector) {
        c.add(
            Rules.tlsVerificationDisabled, file: file, line: line,
            message: "TLS certificate verification is turned off; a network attacker can impersonate the server.",
            suggestion: "Keep verification on; for a private CA, add its certificate to the trust store or pass "
                + "it explicitly (cafile, ca, RootCAs).")
    }

    // MARK: Weak cryptography (CWE-327, CWE-328)

    static let weakHashCalls: [Needle] = [
        "hashlib.md5(", "hashlib.sha1(", "hashlib.new('md5'", "hashlib.new(\"md5\"", "hashlib.new('sha1'",
        "createHash('md5')", "createHash(\"md5\")", "createHash('sha1')", "createHash(\"sha1\")", "md5.New()",
        "md5.Sum(",
        "sha1.New()", "sha1.Sum(", "getInstance(\"MD5\")", "getInstance(\"SHA-1\")", "getInstance(\"SHA1\")",
        "Digest::MD5", "Digest::SHA1", "Insecure.MD5", "Insecure.SHA1", "CC_MD5(", "CC_SHA1(", "DigestUtils.md5",
        "DigestUtils.sha1", "md5(", "sha1(",
    ]
    static let securityWords: [Needle] = [
        "password", "passwd", "secret", "token", "signature", "sign(", "auth", "session", "salt", "credential",
        "apikey", "api_key", "nonce", "otp", "verify",
    ]
    static let weakCipherPatterns: [Needle] = [
        "DES.new(", "ARC4.new(", "Blowfish.new(", "DES3.new(", "MODE_ECB", "modes.ECB(", "algorithms.TripleDES(",
        "algorithms.ARC4(", "algorithms.Blowfish(", "des.NewCipher(", "des.NewTripleDESCipher(", "rc4.NewCipher(",
        "blowfish.NewCipher(", "getInstance(\"DES", "getInstance(\"RC4", "getInstance(\"AES\")",
        "getInstance(\"AES/ECB", "getInstance(\"Blowfish", "getInstance(\"DESede", "createCipher(",
        "'des-", "\"des-", "'rc4'", "\"rc4\"", "-ecb'", "-ecb\"", "'bf-cbc'", "Cipher.new('des", "Cipher.new(\"des",
        "Cipher.new('rc4", "kCCAlgorithmDES", "kCCAlgorithm3DES", "kCCAlgorithmRC4", "kCCOptionECBMode",
    ]

    /// `EVP_des_cbc()`, `EVP_rc4()`, `EVP_aes_128_ecb()`, `DES_set_key(…)`: a weak OpenSSL cipher being called.
    static func callsWeakOpenSSLCipher(_ code: [UInt8]) -> Bool {
        if code.has("DES_set_key") || code.has("RC4_set_key") || code.has("BF_set_key") { return true }
        var from = 0
        while let start = code.find("EVP_", from: from) {
            var end = start + 4
            while end < code.count && code[end].isIdentifierByte { end += 1 }
            from = end
            // `EVP_rc4(void)` defines the cipher rather than using it.
            guard end < code.count, code[end] == UInt8(ascii: "("), !code.matches("(void)", at: end) else { continue }
            let name = Array(code[(start + 4)..<end]).asciiLowercased
            if name.matches("des_", at: 0) || name.matches("rc4", at: 0) || name.matches("bf_", at: 0)
                || name.hasSuffix(Array("_ecb".utf8))
            {
                return true
            }
        }
        return false
    }

    func weakCrypto(_ line: SourceLine, _ c: inout FindingCollector) {
        let raw = line.raw
        // C and C++ crypto libraries name every cipher in tables; only calls such as EVP_des_cbc() count there.
        let weakCipher =
            language == .c || language == .cpp
            ? Self.callsWeakOpenSSLCipher(line.code) : Self.weakCipherPatterns.contains(where: { raw.has($0) })
        if weakCipher {
            if raw.has("createCipher(") && raw.has("createCipheriv(") { return }
            c.add(
                Rules.weakCipher, file: file, line: line,
                message: "A broken cipher or ECB mode is used; it does not keep the data confidential.",
                suggestion: "Use AES-GCM or ChaCha20-Poly1305 from a maintained library, with a random nonce.")
            return
        }
        guard let call = Self.weakHashCalls.first(where: { line.code.has($0) || raw.has($0) }) else { return }
        if call.bytes.first == UInt8(ascii: "m") || call.bytes.first == UInt8(ascii: "s") {
            // Bare md5(/sha1( must be a call, not part of another name.
            guard line.calls(call, bare: true).isEmpty == false else { return }
        }
        let lower = raw.asciiLowercased
        guard Self.securityWords.contains(where: { lower.has($0) }), !lower.has("usedforsecurity=false"),
            !lower.has("hmac")
        else { return }
        c.add(
            Rules.weakHash, file: file, line: line,
            message: "MD5/SHA-1 is used on security-sensitive data; both are broken and fast to brute-force.",
            suggestion: "Use SHA-256 or better for integrity, an HMAC for signatures, and Argon2, bcrypt, scrypt or "
                + "PBKDF2 for passwords.")
    }

    // MARK: Deserialisation (CWE-502)

    func deserialization(_ line: SourceLine, _ c: inout FindingCollector) {
        var what: String?
        switch language {
        case .python:
            for name: Needle in [
                "pickle.load(", "pickle.loads(", "cPickle.load", "dill.load", "marshal.load",
                "jsonpickle.decode(", "shelve.open(", "yaml.unsafe_load(", "pandas.read_pickle(",
                "pd.read_pickle(",
            ] where line.code.has(name) {
                what = String(decoding: name.bytes.filter { $0 != UInt8(ascii: "(") }, as: UTF8.self)
            }
            if what == nil, line.code.has("yaml.load(") || line.code.has("yaml.load_all(") {
                let safe = line.raw.has("SafeLoader") || line.raw.has("CSafeLoader") || line.raw.has("BaseLoader")
                if !safe { what = "yaml.load without SafeLoader" }
            }
            if what == nil, line.code.has("torch.load("), !line.raw.has("weights_only=True"),
                !line.raw.has("weights_only = True")
            {
                what = "torch.load without weights_only=True"
            }
        case .java, .kotlin:
            for name: Needle in [
                "new ObjectInputStream(", "ObjectInputStream(", "new XMLDecoder(", ".fromXML(",
                "SerializationUtils.deserialize(",
            ] where line.code.has(name) {
                what = "Java deserialisation (\(String(decoding: name.bytes.dropLast(), as: UTF8.self)))"
                break
            }
        case .ruby:
            for name: Needle in [
                "Marshal.load(", "Marshal.restore(", "YAML.unsafe_load(", "Psych.unsafe_load(",
                "YAML.load(", "Oj.load(",
            ] where line.code.has(name) {
                if name.bytes == Needle("YAML.load(").bytes && !line.raw.has("permitted_classes") {
                    // YAML.load is safe since Psych 4 (Ruby 3.1); flag it only with unsafe options.
                    if !line.raw.has("aliases: true") { continue }
                }
                what = String(decoding: name.bytes.dropLast(), as: UTF8.self)
                break
            }
        case .javascript, .typescript:
            if line.code.has("unserialize(") || line.code.has("serialize.unserialize(") {
                what = "node-serialize unserialize"
            }
        case .swift:
            if line.code.has("unarchiveObject(with") || line.code.has("unarchiveTopLevelObjectWithData(")
                || line.code.has("unarchiveObject(withFile")
            {
                what = "NSKeyedUnarchiver without secure coding"
            }
        case .php:
            if !line.calls("unserialize(", bare: true).isEmpty { what = "unserialize" }
        default:
            break
        }
        guard let what else { return }
        c.add(
            Rules.unsafeDeserialization, file: file, line: line,
            message: "\(what) can run code chosen by whoever produced the data.",
            suggestion: "Use a data-only format (JSON), a safe loader (yaml.safe_load, weights_only=True, "
                + "unarchivedObject(ofClass:from:)) or sign and verify the data first.")
    }

    // MARK: Randomness (CWE-338)

    static let insecureRandomCalls: [Language: [Needle]] = [
        .python: [
            "random.random(", "random.randint(", "random.choice(", "random.choices(", "random.getrandbits(",
            "random.sample(", "random.randrange(", "random.uniform(",
        ],
        .javascript: ["Math.random("],
        .typescript: ["Math.random("],
        .java: ["new Random(", "Math.random(", "ThreadLocalRandom.current()", "RandomStringUtils.random"],
        .kotlin: ["Random.nextInt(", "Random.nextLong(", "Math.random(", "kotlin.random.Random"],
        .go: [
            "rand.Intn(", "rand.Int63(", "rand.Int31(", "rand.Float64(", "rand.Perm(", "rand.Uint32(", "rand.Uint64(",
            "rand.Int()",
        ],
        .ruby: ["rand(", "Random.rand(", "Random.new", ".shuffle", ".sample"],
        .php: ["rand(", "mt_rand(", "uniqid("],
        .shell: ["$RANDOM"],
        .c: ["rand()", "srand("],
        .cpp: ["rand()", "srand("],
    ]
    static let secretWords: [Needle] = [
        "token", "secret", "password", "passwd", "nonce", "salt", "otp", "session", "csrf", "apikey", "api_key",
        "reset_code", "resetcode", "verification", "invite_code", "auth_code", "one_time", "onetime",
    ]

    func randomness(_ line: SourceLine, _ c: inout FindingCollector) {
        guard let calls = Self.insecureRandomCalls[language],
            let call = calls.first(where: { line.code.has($0) || (language == .shell && line.raw.has($0)) })
        else { return }
        if language == .go && (line.raw.has("rand.Reader") || line.raw.has("crypto/rand")) { return }
        if language == .ruby && (line.raw.has("SecureRandom")) { return }
        if language == .python && line.raw.has("SystemRandom") { return }
        let lower = line.raw.asciiLowercased
        guard Self.secretWords.contains(where: { lower.has($0) }) else { return }
        let name = String(decoding: call.bytes, as: UTF8.self)
        c.add(
            Rules.insecureRandomness, file: file, line: line,
            message: "A secret-looking value comes from \(name), which is predictable.",
            suggestion: "Use a cryptographic generator: secrets.token_urlsafe (Python), crypto.randomBytes or "
                + "crypto.randomUUID (Node), SecureRandom (Java, Ruby), crypto/rand (Go).")
    }

    // MARK: XSS (CWE-79)

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

    // MARK: ReDoS (CWE-1333)

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

    // MARK: Prototype pollution (CWE-1321)

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

extension ArraySlice where Element == UInt8 {
    var string: String { String(decoding: self, as: UTF8.self) }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return String(text)
    }
}
