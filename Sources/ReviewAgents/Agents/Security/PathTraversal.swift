// MARK: Path traversal (CWE-22)

extension SecurityFileReview {
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
}
