/// Looks for work that grows with the data: queries and awaits in loops, unbounded reads, list endpoints
/// without pagination, and PostgreSQL migrations that lock or rewrite big tables.
public struct ScaleAgent: ReviewAgent {
    /// Always ``AgentKind/scale``.
    public var kind: AgentKind { .scale }

    /// Creates the agent.
    public init() {}

    /// Reviews loops and queries in code, and DDL in migrations.
    public func review(_ input: ReviewInput) async throws -> [Finding] {
        var collector = FindingCollector(agent: .scale, configuration: input.configuration)
        let files = input.reviewableFiles.filter { !$0.isBinary && $0.diff.changeKind != .deleted }
        let createdTables = try MigrationReview.createdTables(in: files)
        for file in files {
            try Task.checkCancellation()
            if file.language.isCode && !file.traits.isTest {
                try CodeScaleReview(file: file).run(into: &collector)
            }
            if file.language == .sql && !file.traits.isMigration && !file.traits.isTest {
                try CodeScaleReview(file: file).sqlFile(into: &collector)
            }
            if file.language == .sql || file.traits.isMigration {
                try MigrationReview(file: file, createdTables: createdTables).run(into: &collector)
            }
        }
        return collector.finish()
    }
}

private struct CodeScaleReview {
    let file: SourceFile
    var language: Language { file.language }

    struct Frame {
        let indent: Int
        let header: LoopHeader
    }

    func run(into c: inout FindingCollector) throws {
        for hunk in file.hunks {
            var stack: [Frame] = []
            for (index, line) in hunk.enumerated() {
                try Task.checkCancellation()
                if line.isBlank || line.isCommentOnly { continue }
                while let top = stack.last, line.indent <= top.indent, !isContinuation(line) { stack.removeLast() }
                let header = LoopSyntax.header(line, language: language)
                if line.isAdded {
                    judge(line, in: stack, header: header, index: index, hunk: hunk, &c)
                }
                if let header, !header.isInline { stack.append(Frame(indent: line.indent, header: header)) }
            }
        }
        if file.traits.isMigration { return }
        for hunk in file.hunks {
            let onRequestPath =
                file.traits.isRequestPath
                || hunk.contains { $0.raw.has("request") || $0.raw.has("req.") || $0.raw.has("(req,") }
            for (index, line) in hunk.enumerated() where line.isAdded && !line.isCommentOnly {
                try Task.checkCancellation()
                unboundedQuery(line, onRequestPath: onRequestPath, &c)
                selectStar(line, &c)
                listEndpoint(line, index: index, hunk: hunk, &c)
            }
        }
    }

    /// A line that only closes brackets of the header's own statement (`})`, `]`) does not end the loop early.
    func isContinuation(_ line: SourceLine) -> Bool { false }

    func judge(
        _ line: SourceLine, in stack: [Frame], header: LoopHeader?, index: Int, hunk: [SourceLine],
        _ c: inout FindingCollector
    ) {
        // The loop's own line counts as inside it when the body is inline (comprehensions, forEach(x => …)).
        var frames = stack
        if let header, header.isInline { frames.append(Frame(indent: line.indent, header: header)) }
        guard !frames.isEmpty else { return }
        let outerLoops = stack.filter { $0.header.iteratesCollection && $0.header.kind != .asyncIteration }
        let outerVariables = outerLoops.reduce(into: Set<String>()) { $0.formUnion($1.header.variables) }
        // Iterating a part of the outer element (`for x in group` inside `for group in groups`) is linear overall.
        if let header, !header.isInline, header.iteratesCollection, language != .c, language != .cpp,
            !outerLoops.isEmpty, !containsWord(header.collection, anyOf: outerVariables)
        {
            c.add(
                Rules.nestedLoop, file: file, line: line,
                message: "A loop over a collection is nested inside another; the work is O(n·m).",
                suggestion: "Build a dictionary or set from one collection first, then make a single pass over the "
                    + "other.")
        }
        let bodyLine = header == nil || header?.isInline == true
        guard bodyLine else { return }
        if let call = databaseCall(line) {
            c.add(
                Rules.queryInLoop, file: file, line: line,
                message: "\(call) runs once per loop iteration (N+1 queries).",
                suggestion: "Fetch all the rows before the loop in one query (WHERE id = ANY($1), IN (…), a join, "
                    + "select_related/prefetch_related, includes) and look them up in memory.")
            return
        }
        if hasAwait(line), !file.traits.isCommandLine, let innermost = frames.last,
            innermost.header.kind != .mapCallback,
            innermost.header.kind != .asyncIteration
        {
            let forEach = innermost.header.kind == .forEachCallback
            c.add(
                Rules.awaitInLoop, file: file, line: line,
                message: forEach
                    ? "await inside forEach: forEach does not wait, so errors and ordering are lost."
                    : "await inside a loop runs the iterations one after another.",
                suggestion: forEach
                    ? "Use for…of for sequential work or Promise.all(items.map(…)) for concurrent work."
                    : "If the iterations are independent, run them concurrently with a bound (Promise.all, "
                        + "asyncio.gather, withThrowingTaskGroup).")
            return
        }
        if let sleep = sleepCall(line), !file.traits.isCommandLine {
            let window = hunk[max(0, index - 6)...min(hunk.count - 1, index + 2)]
            let backoff = window.contains { other in
                let lower = other.raw.asciiLowercased
                return lower.has("backoff") || lower.has("jitter") || lower.has("attempt") || lower.has("retry")
                    || lower.has("retries") || lower.has("**") || lower.has("pow(") || lower.has("<<")
            }
            if !backoff {
                c.add(
                    Rules.sleepInLoop, file: file, line: line,
                    message: "\(sleep) inside a loop: fixed-interval polling.",
                    suggestion: "Wait for an event (LISTEN/NOTIFY, a queue, a condition) or use exponential backoff "
                        + "with jitter and an upper bound.")
            }
        }
    }

    static let receiverWords: [Needle] = [
        "cursor", "cur", "db", "conn", "connection", "session", "stmt", "statement", "tx", "transaction", "client",
        "pool", "query", "jdbc", "database", "sql", "pg", "repo", "repository", "dao", "store", "collection", "model",
        "table", "knex", "prisma", "orm", "em", "entitymanager",
    ]
    static let receiverCalls: [Needle] = [
        ".execute(", ".executemany(", ".query(", ".Query(", ".QueryRow(", ".QueryContext(", ".QueryRowContext(",
        ".Exec(", ".ExecContext(", ".raw(", ".get(", ".find(", ".fetch(", ".run(", ".all(", ".first(", ".one(",
        ".Get(", ".Select(", ".select(",
    ]
    static let ormCalls: [Needle] = [
        ".objects.", ".find_by(", ".find_by_", ".findOne(", ".findById(", ".findByPk(", ".findUnique(", ".findFirst(",
        ".findMany(", ".findAll(", ".createQuery(", ".getResultList(", "jdbcTemplate.",
        ".query(on:", "session.get(", "session.query(", ".get_or_create(", ".update_or_create(", ".pluck(",
        ".where(", "Model.find(", ".find_one(", ".find_many(", ".filter_by(", ".scalars(", ".findBy",
        ".QueryRow(", ".QueryRowContext(", ".sqlx.",
    ]

    func databaseCall(_ line: SourceLine) -> String? {
        let code = line.code
        for call in Self.ormCalls {
            guard let index = code.find(call) else { continue }
            if call.bytes == Needle(".where(").bytes && language != .ruby && !code.has("await") { continue }
            return "The query `\(Self.callExpression(in: code, around: index))`"
        }
        for call in Self.receiverCalls {
            var from = 0
            while let index = code.find(call, from: from) {
                from = index + 1
                var start = index
                while start > 0 && (code[start - 1].isIdentifierByte) { start -= 1 }
                let receiver = Array(code[start..<index]).asciiLowercased
                guard !receiver.isEmpty else { continue }
                if Self.receiverWords.contains(where: {
                    receiver == $0.bytes || receiver.hasSuffix($0.bytes) || receiver.starts(with: $0.bytes)
                }) {
                    // dict.get / list.find on plain containers are not queries.
                    if (call.bytes == Needle(".get(").bytes || call.bytes == Needle(".find(").bytes
                        || call.bytes == Needle(".first(").bytes || call.bytes == Needle(".select(").bytes)
                        && !code.has("await") && !receiver.has("db") && !receiver.has("repo")
                        && !receiver.has("session") && !receiver.has("model")
                    {
                        continue
                    }
                    return "The query `\(Self.callExpression(in: code, around: index))`"
                }
            }
        }
        for literal in line.literals where SecurityAgentSQL.looksLikeSQL(line.content(of: literal)) {
            return "An SQL statement"
        }
        return nil
    }

    /// `Order.objects.filter` for a match inside `orders = Order.objects.filter(user=u)`.
    static func callExpression(in code: [UInt8], around index: Int) -> String {
        var start = index
        while start > 0 && (code[start - 1].isIdentifierByte || code[start - 1] == UInt8(ascii: ".")) { start -= 1 }
        var end = index
        while end < code.count && code[end] != UInt8(ascii: "(") && !code[end].isSpaceOrTab { end += 1 }
        return code.string(start..<end)
    }

    func hasAwait(_ line: SourceLine) -> Bool {
        switch language {
        case .javascript, .typescript, .python, .csharp:
            // Swift is left out: sequential awaits in loops are the norm there (actor isolation), and
            // concurrency is explicit through task groups.
            guard line.code.hasWord("await") else { return false }
            let concurrent: [Needle] = [
                "Promise.all", "Promise.allSettled", "asyncio.gather", "TaskGroup", "addTask",
                "async let", "asyncio.wait(", "Task.WhenAll",
            ]
            return !concurrent.contains(where: { line.code.has($0) })
        case .rust:
            return line.code.has(".await")
        default:
            return false
        }
    }

    func sleepCall(_ line: SourceLine) -> String? {
        let calls: [Needle]
        switch language {
        case .python: calls = ["time.sleep(", "asyncio.sleep(", "sleep("]
        case .javascript, .typescript:
            calls = [
                "await sleep(", "await delay(", "setTimeout(resolve", "setTimeout(r,",
                "await new Promise(r => setTimeout", "await wait(",
            ]
        case .go: calls = ["time.Sleep("]
        case .java, .kotlin: calls = ["Thread.sleep(", ".sleep(", "delay("]
        case .ruby: calls = ["sleep(", "sleep "]
        case .swift: calls = ["Task.sleep(", "usleep(", "sleep(", "Thread.sleep("]
        case .shell: calls = ["sleep "]
        case .csharp: calls = ["Thread.Sleep(", "Task.Delay("]
        default: return nil
        }
        for call in calls {
            guard let index = line.code.find(call) else { continue }
            if call.bytes.first?.isASCIILower == true && index > 0 && line.code[index - 1].isIdentifierByte { continue }
            return String(decoding: call.bytes, as: UTF8.self).trimmingCharacters
        }
        return nil
    }

    // MARK: Unbounded reads

    static let boundWords: [Needle] = [
        " where ", " limit ", " top ", " fetch first", " offset ", "count(", "max(", "min(", "sum(", "avg(", "exists",
        " group by ", " limit", "returning",
    ]

    func unboundedQuery(_ line: SourceLine, onRequestPath: Bool, _ c: inout FindingCollector) {
        for literal in line.literals where literal.isTerminated {
            let content = Array(line.content(of: literal)).asciiLowercased
            let start = content.skipSpaces(from: 0)
            guard content.matches("select ", at: start), content.has(" from ") else { continue }
            if Self.boundWords.contains(where: { content.has($0) }) || content.hasSuffix(Array(" limit".utf8)) {
                continue
            }
            if content.has("information_schema") || content.has("pg_catalog") || content.has("sqlite_master") {
                continue
            }
            // A statement split over several literals or lines may carry its WHERE elsewhere.
            let after = line.raw.skipSpaces(from: literal.end)
            if after < line.raw.count && (line.raw[after] == UInt8(ascii: "+") || line.raw[after] == UInt8(ascii: "\\"))
            {
                continue
            }
            c.add(
                Rules.unboundedQuery, file: file, line: line,
                message: "This SELECT has no WHERE and no LIMIT: it reads the whole table on every call.",
                suggestion: "Filter it, or page through it with LIMIT and a keyset (WHERE id > $1 ORDER BY id).")
            return
        }
        guard onRequestPath else { return }
        let code = line.code
        var what: String?
        switch language {
        case .python:
            if let index = code.find(".objects.all()") {
                let after = code.skipSpaces(from: index + 14)
                if after >= code.count || ![UInt8(ascii: "["), UInt8(ascii: ".")].contains(code[after]) {
                    what = ".objects.all()"
                }
            } else if code.has(".query(") && code.has(".all()") && !code.has(".limit(") && !code.has(".filter") {
                what = "query(...).all()"
            } else if code.has("select(") && code.has(".all()") && !code.has(".limit(") && !code.has(".where(") {
                what = "select(...).all()"
            }
        case .ruby:
            if let index = code.find(".all") {
                let after = index + 4
                let ends = after >= code.count || !code[after].isIdentifierByte
                let receiverIsModel =
                    index > 0
                    && code[..<index].last(where: { _ in true }).map { _ in
                        var s = index
                        while s > 0 && code[s - 1].isIdentifierByte { s -= 1 }
                        return s < index && code[s].isASCIIUpper
                    } ?? false
                let bounded = [
                    ".limit", ".page", ".find_each", ".find_in_batches", ".count", ".first", ".exists?",
                    ".where", ".paginate", ".per(",
                ].contains { code.has(Needle($0)) }
                if ends && receiverIsModel && !bounded { what = "Model.all" }
            }
        case .javascript, .typescript:
            if code.has(".findAll()") || code.has(".find({})") || code.has(".findMany()") { what = "findAll()" }
            if what == nil, code.has(".findAll({") || code.has(".findMany({"), !line.raw.has("limit"),
                !line.raw.has("take"),
                !line.raw.has("where")
            {
                what = "findAll({...}) without limit"
            }
        case .swift:
            if code.has(".query(on:") && code.has(".all()") && !code.has(".limit(") && !code.has(".paginate(")
                && !code.has(".range(") && !code.has(".filter(")
            {
                what = "query(on:).all()"
            }
        case .java, .kotlin:
            if code.has(".findAll()") { what = "findAll()" }
        case .go:
            if code.has(".Find(&") && !code.has(".Limit(") && !code.has(".Where(") { what = "db.Find(&…)" }
        default:
            break
        }
        guard let what else { return }
        c.add(
            Rules.unboundedQuery, file: file, line: line,
            message: "\(what) on a request path loads every row; the response time grows with the table.",
            suggestion: "Filter the query and paginate it (limit/offset or a keyset cursor with a maximum page size).")
    }

    /// Queries kept in `.sql` files (not migrations).
    func sqlFile(into c: inout FindingCollector) throws {
        for line in file.addedLines where !line.isCommentOnly {
            try Task.checkCancellation()
            if Self.isSelectStar(line.code.asciiLowercased) {
                c.add(
                    Rules.selectStar, file: file, line: line,
                    message: "SELECT * reads every column, including ones added later.",
                    suggestion: "List the columns the code uses.")
            }
        }
    }

    func selectStar(_ line: SourceLine, _ c: inout FindingCollector) {
        for literal in line.literals {
            let content = Array(line.content(of: literal)).asciiLowercased
            if Self.isSelectStar(content) {
                c.add(
                    Rules.selectStar, file: file, line: line,
                    message: "SELECT * reads every column, including ones added later.",
                    suggestion: "List the columns the code uses.")
                return
            }
        }
    }

    static func isSelectStar(_ lower: [UInt8]) -> Bool {
        var from = 0
        while let index = lower.findWord("select", from: from) {
            from = index + 6
            let star = lower.skipSpaces(from: index + 6)
            guard star < lower.count, lower[star] == UInt8(ascii: "*") else { continue }
            let next = lower.skipSpaces(from: star + 1)
            if next >= lower.count || lower.matches("from", at: next) { return true }
        }
        return false
    }

    // MARK: List endpoints

    static let stopRoutes: Set<String> = [
        "status", "health", "healthz", "metrics", "settings", "stats", "analytics", "news", "terms", "docs", "assets",
        "robots", "login", "logout", "readyz", "livez", "ping", "version", "openapi", "swagger", "graphql", "webhooks",
        "callbacks", "details", "preferences", "permissions", "credentials", "params", "uploads", "downloads",
    ]

    func routePath(_ line: SourceLine) -> String? {
        let code = line.code
        let routeMarkers: [Needle] = [
            "@app.get(", "@router.get(", "@app.route(", "@bp.route(", "@blueprint.route(", "@api.get(",
            "app.get(", "router.get(", "r.GET(", "e.GET(", "router.GET(", "g.GET(", "group.GET(", "api.GET(",
            "@GetMapping(", "routes.get(", "app.get(", "router.get(", "get(\"", "get('", "get \"", "get '",
            "@Get(", "HandleFunc(",
        ]
        guard let marker = routeMarkers.first(where: { code.has($0) || line.raw.has($0) }),
            let index = line.raw.find(marker)
        else { return nil }
        if marker.bytes == Needle("@app.route(").bytes || marker.bytes == Needle("@bp.route(").bytes,
            line.raw.has("methods="), !line.raw.has("GET")
        {
            return nil
        }
        guard let literal = line.literals.first(where: { $0.start >= index }) else { return nil }
        return line.content(of: literal).string
    }

    func listEndpoint(_ line: SourceLine, index: Int, hunk: [SourceLine], _ c: inout FindingCollector) {
        guard [.python, .javascript, .typescript, .go, .java, .kotlin, .ruby, .swift].contains(language),
            let path = routePath(line)
        else { return }
        let segments = path.split(whereSeparator: { $0 == "/" || $0 == "," || $0 == " " || $0 == "\"" })
        guard let lastSegment = segments.last else { return }
        let last = lastSegment.lowercased()
        guard last.hasSuffix("s"), !last.hasSuffix("ss"), !last.hasSuffix("us"), !last.hasSuffix("ics"),
            last.count > 3, !Self.stopRoutes.contains(last),
            !last.contains(":"), !last.contains("{"), !last.contains("<"), !last.contains("*"), !last.contains(".")
        else { return }
        // The handler body: following lines until the next route or a dedent to the route's level after the body.
        var body: [SourceLine] = [line]
        var k = index + 1
        var sawDeeper = false
        while k < hunk.count && body.count < 60 {
            let next = hunk[k]
            if !next.isBlank {
                if next.indent > line.indent { sawDeeper = true }
                if sawDeeper && next.indent <= line.indent && !next.raw.has(")") && !next.raw.has("}") { break }
                if routePath(next) != nil { break }
            }
            body.append(next)
            k += 1
        }
        let pagination: [Needle] = [
            "limit", "offset", "page", "cursor=", "cursor:", "cursor)", "next_cursor", "nextcursor", "starting_after",
            "per_page", "perpage", "page_size", "pagesize", "paginat", "take:", "take(", "skip(", "first:", "after:",
            "after=", "[:", ".prefix(", "pageable", "range(", "batch",
        ]
        let queries: [Needle] = [
            ".all(", ".find", "query", "select", ".objects.", "fetch", ".where(", "repository.", "findall", ".list(",
            "scan(", ".rows", "getresultlist",
        ]
        var paginated = false
        var queried = false
        for bodyLine in body {
            let lower = bodyLine.raw.asciiLowercased
            if pagination.contains(where: { lower.has($0) }) { paginated = true }
            if queries.contains(where: { lower.has($0) }) { queried = true }
        }
        guard queried && !paginated else { return }
        c.add(
            Rules.unpaginatedListEndpoint, file: file, line: line,
            message: "The endpoint `\(path)` returns a collection without pagination.",
            suggestion: "Accept limit/cursor parameters, cap the page size, and return a next-page cursor.")
    }
}

/// Exposes the SQL recogniser shared by the security and scale agents.
enum SecurityAgentSQL {
    static func looksLikeSQL(_ content: ArraySlice<UInt8>) -> Bool {
        let lower = Array(content).asciiLowercased
        let start = lower.skipSpaces(from: 0)
        let starts: [Needle] = ["select ", "insert into ", "update ", "delete from "]
        guard starts.contains(where: { lower.matches($0, at: start) }) else { return false }
        let second: [Needle] = [" from ", " set ", " values", " where "]
        return second.contains(where: { lower.has($0) }) || lower.matches("insert into ", at: start)
            || lower.matches("delete from ", at: start)
    }
}

extension String {
    var trimmingCharacters: String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "." || first == "(" { text.removeFirst() }
        while let last = text.last, last == " " || last == "(" || last == "," { text.removeLast() }
        return String(text)
    }
}

extension Array where Element == UInt8 {
    func hasSuffix(_ suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
