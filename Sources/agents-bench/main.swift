// agents-bench: measures the diff parser and the four review agents on a large generated diff.
//
// Usage: agents-bench [LINES ...]   (default: 10000 100000)
// Prints, for each size, the best of several runs: parse, prepare (lexing), each agent alone on one core,
// and all four together; as lines per second and MB per second of diff text.
//
//        agents-bench --parse-scaling [LINES ...]   (default: 35000 350000 3500000)
// Parses one new file made of a single hunk of LINES added lines and prints the seconds and the time per line,
// which stays flat when parsing is linear; then reviews the diffs of up to 400,000 lines with each agent.
//
//        agents-bench --file PATH
// Parses the diff in PATH and reviews it with each agent, printing the seconds of each step.

import ReviewAgents

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Deterministic pseudo-random numbers (SplitMix64) so every run reviews the same diff.
struct Generator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func word() -> String {
        let words = [
            "order", "user", "item", "total", "price", "account", "queue", "task", "value", "result", "name",
            "count", "index", "record", "payload", "event", "config", "status", "cache", "limit",
        ]
        return words[below(words.count)]
    }
}

/// A language: how a function starts and ends, and typical body lines. Bodies never leave a brace open, so
/// functions have realistic lengths (8 to 40 lines).
struct Template: Sendable {
    let extensionName: String
    let directory: String
    let header: @Sendable (inout Generator, Int) -> String
    let footer: String?
    let body: @Sendable (inout Generator, Int) -> String
}

enum Templates {
    static let all: [Template] = [
        Template(
            extensionName: "py", directory: "app/services",
            header: { g, i in "def handle_\(g.word())_\(i)(\(g.word()), limit=50):" }, footer: nil
        ) { g, i in
            let w = g.word(), v = g.word()
            switch g.below(10) {
            case 0: return "    totals = [\(v).amount * rate for \(v) in \(w)s if \(v).active]"
            case 1: return "    # Compute the \(w) for the current \(v)."
            case 2: return "    result = {\"\(w)\": \(v), \"count\": len(\(w)s)}"
            case 3: return "    logger.info(\"processed %s\", \(v))"
            case 4: return "    cursor.execute(\"SELECT id, \(w) FROM \(v)s WHERE id = %s\", (\(v)_id,))"
            default: return "    \(w)_\(i % 97) = compute_\(v)(\(w), \(v), key=\"\(w)-\(i % 13)\")"
            }
        },
        Template(
            extensionName: "ts", directory: "web/src",
            header: { g, i in "export async function load\(g.word().capitalized)\(i)(id: string): Promise<void> {" },
            footer: "}"
        ) { g, i in
            let w = g.word(), v = g.word()
            switch g.below(8) {
            case 0: return "  const \(w)s = items.filter((\(v)) => \(v).enabled);"
            case 1: return "  // Keep the \(w) sorted by \(v)."
            case 2: return "  const \(w) = await api.get(`/\(v)s/${id}`);"
            default: return "  const \(w)\(i % 53) = \(v).map((x) => x.\(w) ?? defaultValue);"
            }
        },
        Template(
            extensionName: "go", directory: "internal/store",
            header: { g, i in "func (s *Store) \(g.word().capitalized)\(i)(ctx context.Context, id int64) error {" },
            footer: "}"
        ) { g, i in
            let w = g.word(), v = g.word()
            switch g.below(8) {
            case 0: return "\tif err := s.check(ctx, id); err != nil { return fmt.Errorf(\"\(w): %w\", err) }"
            case 1: return "\trow := s.db.QueryRowContext(ctx, \"SELECT \(w) FROM \(v)s WHERE id = $1\", id)"
            case 2: return "\t// The \(w) is read once per \(v)."
            default: return "\t\(w)\(i % 41) := \(v).\(w.capitalized)() + offset"
            }
        },
        Template(
            extensionName: "java", directory: "src/main/java/com/acme",
            header: { g, i in "    public Result get\(g.word().capitalized)\(i)(long id) {" }, footer: "    }"
        ) { g, i in
            let w = g.word(), v = g.word()
            switch g.below(6) {
            case 0: return "        // The \(w) is cached per \(v)."
            case 1: return "        LOG.debug(\"loaded {}\", \(w));"
            default: return "        final var \(w)\(i % 31) = \(v)Repository.findById(id).orElseThrow();"
            }
        },
        Template(
            extensionName: "rb", directory: "app/models",
            header: { g, i in "  def \(g.word())_\(i)(\(g.word()))" }, footer: "  end"
        ) { g, i in
            let w = g.word(), v = g.word()
            switch g.below(5) {
            case 0: return "    # Memoised per \(v)."
            default: return "    @\(w) ||= \(v).fetch(:\(w), \(i % 17))"
            }
        },
        Template(
            extensionName: "swift", directory: "Sources/Billing",
            header: { g, i in "    func \(g.word())\(i)(_ value: Value) async throws -> Output {" }, footer: "    }"
        ) { g, i in
            let w = g.word(), v = g.word()
            switch g.below(6) {
            case 0: return "        // The \(w) depends on the \(v)."
            case 1:
                return
                    "        guard let \(w) = \(v)s.first(where: { $0.id == value.id }) else { throw Failure.missing }"
            default: return "        let \(w)\(i % 29) = try await client.\(w)(for: value.id, limit: \(i % 100))"
            }
        },
        Template(
            extensionName: "sh", directory: "scripts",
            header: { g, i in "\(g.word())_\(i)() {" }, footer: "}"
        ) { g, i in
            let w = g.word().uppercased()
            return "  \(w)_\(i % 7)=\"${\(w):-default}\" && echo \"$\(w)_\(i % 7)\""
        },
        Template(extensionName: "sql", directory: "db/queries", header: { _, i in "-- query \(i)" }, footer: nil) {
            g, i in
            let w = g.word(), v = g.word()
            return
                "SELECT id, \(w), \(v) FROM \(w)s WHERE \(v)_id = $1 "
                + "AND created_at > now() - interval '\(i % 30) days';"
        },
        Template(extensionName: "yaml", directory: "deploy", header: { g, _ in "\(g.word()):" }, footer: nil) { g, i in
            "  \(g.word())_\(i % 23): \"${\(g.word().uppercased())_VALUE}\""
        },
        Template(extensionName: "json", directory: "config", header: { _, i in "  \"block\(i)\": {" }, footer: "  },") {
            g, i in
            "    \"\(g.word())_\(i)\": { \"\(g.word())\": \(i % 1000), \"enabled\": \(i % 2 == 0) },"
        },
    ]
}

/// About one line in 200 is something a reviewer should flag.
func seededIssue(_ language: String, _ number: Int) -> String {
    switch language {
    case "py":
        number % 2 == 0
            ? "    cursor.execute(f\"SELECT name FROM users WHERE id = {uid}\")" : "    # TODO: retry on failure"
    case "ts": "  el.innerHTML = html;"
    case "go": "\tcfg := &tls.Config{InsecureSkipVerify: true}"
    case "java": "        System.out.println(order);"
    case "rb": "    obj = Marshal.load(data)"
    case "swift": "        process.arguments = [\"-c\", \"ls \\(directory)\"]"
    case "sh": "  curl -k https://internal.example/health"
    case "sql": "SELECT * FROM orders;"
    case "yaml": "  insecure_skip_verify: true"
    default: "  \"debug\": true,"
    }
}

extension String {
    var capitalized: String { prefix(1).uppercased() + dropFirst() }
}

/// A git-style diff adding `lines` lines over files of about 200 lines each, cycling through the templates.
func generateDiff(lines total: Int) -> String {
    var generator = Generator(state: 0xA9E7_5EED)
    var out = ""
    out.reserveCapacity(total * 64)
    var written = 0
    var fileIndex = 0
    while written < total {
        let template = Templates.all[fileIndex % Templates.all.count]
        let target = min(200, total - written)
        var lines: [String] = []
        while lines.count < target {
            let number = written + lines.count
            lines.append(template.header(&generator, number))
            let bodyLength = 8 + generator.below(33)
            for k in 0..<bodyLength where lines.count < target - (template.footer == nil ? 0 : 1) {
                let n = number + 1 + k
                lines.append(n % 211 == 17 ? seededIssue(template.extensionName, n) : template.body(&generator, n))
            }
            if let footer = template.footer, lines.count < target { lines.append(footer) }
        }
        let path =
            "\(template.directory)/module\(fileIndex / Templates.all.count)/file\(fileIndex).\(template.extensionName)"
        out +=
            "diff --git a/\(path) b/\(path)\nnew file mode 100644\nindex 0000000..1234567\n"
            + "--- /dev/null\n+++ b/\(path)\n"
        out += "@@ -0,0 +1,\(lines.count) @@\n"
        for line in lines { out += "+" + line + "\n" }
        written += lines.count
        fileIndex += 1
    }
    return out
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func format(_ value: Double, decimals: Int = 1) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(Int(rounded))
    if decimals > 0 {
        let fraction = Int(((rounded - Double(Int(rounded))) * scale).rounded())
        var digits = String(abs(fraction))
        while digits.count < decimals { digits = "0" + digits }
        text += "." + digits
    }
    // Thousands separators for readability.
    let parts = text.split(separator: ".", maxSplits: 1)
    var integer = String(parts[0])
    var grouped = ""
    while integer.count > 3 {
        grouped = "," + integer.suffix(3) + grouped
        integer.removeLast(3)
    }
    return integer + grouped + (parts.count > 1 ? "." + parts[1] : "")
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}

/// Runs `body` `runs` times and returns the fastest time in seconds.
func best(runs: Int, _ body: () async throws -> Void) async rethrows -> Double {
    let clock = ContinuousClock()
    var fastest = Double.infinity
    for _ in 0..<runs {
        let elapsed = try await clock.measure { try await body() }
        fastest = min(fastest, seconds(elapsed))
    }
    return fastest
}

/// One new file `a.py` whose single hunk adds `lines` lines, like the diff of a large generated file.
func oneHunkDiff(lines: Int) -> [UInt8] {
    var out = Array("diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -0,0 +1,\(lines) @@\n".utf8)
    out.reserveCapacity(out.count + lines * 24)
    for index in 0..<lines {
        out += "+v_\(index) = f(\(index))\n".utf8
    }
    return out
}

/// Limits large enough for the biggest scaling input (3.5 million lines are about 80 MB).
let benchLimits = DiffLimits(maxBytes: 1 << 30, maxLines: 10_000_000)

/// Reviews `diff` with each agent alone and prints a table of seconds.
func agentTable(_ diff: ParsedDiff, runs: Int) async throws {
    var input = ReviewInput(diff: diff)
    print("| stage | seconds | findings |")
    print("| --- | ---: | ---: |")
    print("| prepare (lex) | \(format(await best(runs: runs) { input = ReviewInput(diff: diff) }, decimals: 4)) | |")
    for kind in AgentKind.allCases {
        let agent = ReviewAgents.agent(kind)
        var count = 0
        let time = try await best(runs: runs) { count = try await agent.review(input).count }
        print("| \(kind.rawValue) agent | \(format(time, decimals: 4)) | \(count) |")
    }
}

/// Reads a whole file, or exits with a message.
func readFile(_ path: String) -> [UInt8] {
    guard let handle = fopen(path, "rb") else {
        print("agents-bench: cannot open \(path)")
        exit(1)
    }
    defer { fclose(handle) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = fread(&buffer, 1, buffer.count, handle)
        if count == 0 { break }
        bytes += buffer[..<count]
    }
    return bytes
}

let clock = ContinuousClock()

if CommandLine.arguments.count >= 2, CommandLine.arguments[1] == "--parse-scaling" {
    let requested = CommandLine.arguments.dropFirst(2).compactMap { Int($0) }
    let sizes = requested.isEmpty ? [35_000, 350_000, 3_500_000] : requested
    print("## Parsing one hunk of N added lines")
    print("")
    print("| lines | MB | seconds | ns per line |")
    print("| ---: | ---: | ---: | ---: |")
    for lines in sizes {
        let bytes = oneHunkDiff(lines: lines)
        let runs = lines <= 400_000 ? 3 : 2
        var parsed = ParsedDiff(files: [])
        let time = try await best(runs: runs) { parsed = try DiffParser.parse(bytes: bytes, limits: benchLimits) }
        precondition(parsed.additions == lines, "parsed \(parsed.additions) of \(lines) lines")
        print(
            "| \(format(Double(lines), decimals: 0)) | \(format(Double(bytes.count) / 1_048_576, decimals: 1)) | "
                + "\(format(time, decimals: 4)) | \(format(time / Double(lines) * 1e9, decimals: 0)) |")
    }
    // The agents too must stay linear on one big hunk: compare their seconds per size.
    for lines in sizes where lines <= 400_000 {
        print("")
        print("## The four agents on one hunk of \(format(Double(lines), decimals: 0)) added lines")
        print("")
        try await agentTable(try DiffParser.parse(bytes: oneHunkDiff(lines: lines), limits: benchLimits), runs: 3)
    }
    exit(0)
}

if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "--file" {
    let bytes = readFile(CommandLine.arguments[2])
    var parsed = ParsedDiff(files: [])
    let time = seconds(try clock.measure { parsed = try DiffParser.parse(bytes: bytes, limits: benchLimits) })
    print("## \(CommandLine.arguments[2]): \(parsed.files.count) files, +\(parsed.additions) -\(parsed.deletions)")
    print("")
    print("parse: \(format(time, decimals: 4)) s")
    print("")
    try await agentTable(parsed, runs: 1)
    exit(0)
}

// `agents-bench --print-diff N` writes the generated diff instead of measuring (for inspection and SARIF checks).
if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "--print-diff",
    let lines = Int(CommandLine.arguments[2])
{
    print(generateDiff(lines: lines), terminator: "")
    exit(0)
}

let sizes = CommandLine.arguments.dropFirst().compactMap { Int($0) }
for lines in sizes.isEmpty ? [10_000, 100_000] : sizes {
    let text = generateDiff(lines: lines)
    let megabytes = Double(text.utf8.count) / 1_048_576
    let runs = lines <= 20_000 ? 7 : 3
    let diff = try DiffParser.parse(text)
    print(
        "## \(format(Double(lines), decimals: 0)) added lines, \(diff.files.count) files, "
            + "\(format(megabytes, decimals: 2)) MB "
            + "(best of \(runs) runs)")
    print("")
    print("| stage | seconds | lines/s | MB/s | findings |")
    print("| --- | ---: | ---: | ---: | ---: |")
    func row(_ name: String, _ time: Double, _ findings: String = "") {
        print(
            "| \(name) | \(format(time, decimals: 4)) | \(format(Double(lines) / time, decimals: 0)) | "
                + "\(format(megabytes / time, decimals: 1)) | \(findings) |")
    }
    row("parse", try await best(runs: runs) { _ = try DiffParser.parse(text) })
    var input = ReviewInput(diff: diff)
    row("prepare (lex)", await best(runs: runs) { input = ReviewInput(diff: diff) })
    var serial = 0.0
    for kind in AgentKind.allCases {
        let agent = ReviewAgents.agent(kind)
        var count = 0
        let time = try await best(runs: runs) { count = try await agent.review(input).count }
        serial += time
        row("\(kind.rawValue) agent", time, String(count))
    }
    row("four agents, one after another", serial)
    var total = 0
    let parallel = try await best(runs: runs) { total = try await ReviewAgents.reviewAll(input).count }
    row("four agents in parallel (reviewAll)", parallel, String(total))
    let endToEnd = try await best(runs: runs) {
        let parsed = try DiffParser.parse(text)
        let findings = try await ReviewAgents.reviewAll(ReviewInput(diff: parsed))
        _ = try ReportFormat.sarif.render(ReviewReport(diff: parsed, findings: findings))
    }
    row("end to end: parse + prepare + reviewAll + SARIF", endToEnd)
    print("")
}
