/// PostgreSQL migration hazards, from the locking behaviour the PostgreSQL documentation describes for each
/// DDL command. Reads `.sql` files and SQL strings in migration files, plus the Rails, Alembic and Django
/// migration helpers that map to the same DDL.
struct MigrationReview {
    let file: SourceFile
    let createdTables: Set<String>

    struct Statement {
        /// Lowercased, whitespace collapsed.
        var text: [UInt8]
        var firstAdded: SourceLine?
    }

    func run(into c: inout FindingCollector) throws {
        var statements: [Statement] = []
        if file.language == .sql {
            statements = try sqlStatements()
        } else {
            for hunk in file.hunks {
                for line in hunk where line.isAdded {
                    try Task.checkCancellation()
                    for literal in line.literals {
                        let text = Self.normalise(Array(line.content(of: literal)))
                        if Self.isDDL(text) { statements.append(Statement(text: text, firstAdded: line)) }
                    }
                }
            }
        }
        let hasTimeout = file.hunks.contains { hunk in
            hunk.contains {
                $0.raw.asciiLowercased.has("lock_timeout") || $0.raw.asciiLowercased.has("statement_timeout")
            }
        }
        var firstLocking: SourceLine?
        for statement in statements {
            guard let line = statement.firstAdded else { continue }
            if judge(statement.text, line: line, &c) && firstLocking == nil { firstLocking = line }
        }
        if !hasTimeout, let firstLocking {
            c.add(
                Rules.missingLockTimeout, file: file, line: firstLocking,
                message: "This migration takes locks on existing tables but sets no lock_timeout.",
                suggestion: "Start the migration with SET lock_timeout = '5s' (and a statement_timeout) so a blocked "
                    + "lock fails fast instead of queueing every query behind it; retry it later.",
                key: "lock-timeout")
        }
        if file.language == .ruby || file.language == .python { frameworkHelpers(&c) }
    }

    /// Splits the new side of each hunk into statements at `;`.
    func sqlStatements() throws -> [Statement] {
        var statements: [Statement] = []
        for hunk in file.hunks {
            var current = Statement(text: [], firstAdded: nil)
            for line in hunk {
                try Task.checkCancellation()
                let code = line.code
                var start = 0
                for (i, byte) in code.enumerated() where byte == UInt8(ascii: ";") {
                    current.text += Array(code[start..<i]) + [0x20]
                    if line.isAdded && current.firstAdded == nil && !Array(code[start..<i]).allSatisfy(\.isSpaceOrTab) {
                        current.firstAdded = line
                    }
                    statements.append(Statement(text: Self.normalise(current.text), firstAdded: current.firstAdded))
                    current = Statement(text: [], firstAdded: nil)
                    start = i + 1
                }
                let rest = Array(code[start...])
                if line.isAdded && current.firstAdded == nil && !rest.allSatisfy(\.isSpaceOrTab) {
                    current.firstAdded = line
                }
                current.text += rest + [0x20]
            }
            if !current.text.allSatisfy(\.isSpaceOrTab) {
                statements.append(Statement(text: Self.normalise(current.text), firstAdded: current.firstAdded))
            }
        }
        return statements
    }

    static func normalise(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var space = false
        for byte in bytes {
            if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                space = !out.isEmpty
                continue
            }
            if space { out.append(0x20) }
            space = false
            out.append(byte.asciiLowercased)
        }
        return out
    }

    static func isDDL(_ text: [UInt8]) -> Bool {
        ["create ", "alter ", "drop "].contains { text.matches(Needle($0), at: 0) }
    }

    /// The table name after `keyword`, lowercased, without schema or quotes.
    static func tableName(in text: [UInt8], after keyword: Needle) -> String? {
        guard let index = text.find(keyword) else { return nil }
        var i = index + keyword.count
        for filler: Needle in ["if not exists ", "if exists ", "only "] where text.matches(filler, at: i) {
            i += filler.count
        }
        let start = i
        while i < text.count
            && (text[i].isIdentifierByte || text[i] == UInt8(ascii: ".") || text[i] == UInt8(ascii: "\"")
                || text[i] == UInt8(ascii: "`"))
        {
            i += 1
        }
        let raw = text.string(start..<i).filter { $0 != "\"" && $0 != "`" }
        guard let name = raw.split(separator: ".").last, !name.isEmpty else { return nil }
        return String(name)
    }

    static func createdTables(in files: [SourceFile]) throws -> Set<String> {
        var tables: Set<String> = []
        for file in files where file.language == .sql || file.traits.isMigration {
            for line in file.addedLines {
                try Task.checkCancellation()
                let lower = line.raw.asciiLowercased
                if let name = tableName(in: Self.normalise(lower), after: "create table ") { tables.insert(name) }
                if let index = lower.find("create_table") {
                    var i = index + 12
                    while i < lower.count && !lower[i].isIdentifierByte { i += 1 }
                    let start = i
                    while i < lower.count && lower[i].isIdentifierByte { i += 1 }
                    if i > start { tables.insert(lower.string(start..<i)) }
                }
            }
        }
        return tables
    }

    static let volatileDefaults: [Needle] = [
        "now()", "current_timestamp", "clock_timestamp()", "random()", "gen_random_uuid()", "uuid_generate_v4()",
        "uuid_generate_v1()", "nextval(", "statement_timestamp()", "timeofday()",
    ]

    /// Judges one statement; returns whether it locks an existing table.
    func judge(_ text: [UInt8], line: SourceLine, _ c: inout FindingCollector) -> Bool {
        if text.matches("create index ", at: 0) || text.matches("create unique index ", at: 0) {
            if text.has(" concurrently ") { return false }
            let table = Self.tableName(in: text, after: " on ")
            if let table, createdTables.contains(table) { return false }
            c.add(
                Rules.indexWithoutConcurrently, file: file, line: line,
                message: "CREATE INDEX on `\(table ?? "?")` without CONCURRENTLY blocks writes to the table while the "
                    + "index builds.",
                suggestion: "Use CREATE INDEX CONCURRENTLY (outside a transaction block) and check for an INVALID "
                    + "index if it fails.")
            return true
        }
        if text.matches("drop table ", at: 0) {
            let table = Self.tableName(in: text, after: "drop table ") ?? "?"
            if createdTables.contains(table) || table.hasPrefix("tmp") || table.hasPrefix("temp") { return false }
            c.add(
                Rules.dropColumnOrTable, file: file, line: line,
                message: "DROP TABLE `\(table)`: deployed code that still reads it will fail, and the data is gone.",
                suggestion: "Remove all uses in an earlier release, take a backup, then drop it.")
            return true
        }
        guard text.matches("alter table ", at: 0) else { return false }
        let table = Self.tableName(in: text, after: "alter table ") ?? "?"
        if createdTables.contains(table) { return false }
        let harmlessDrops: [Needle] = [
            " drop constraint ", " drop default", " drop not null", " drop index", " drop expression", " drop identity",
        ]
        if text.has(" drop column ") || text.has(" drop ") && !harmlessDrops.contains(where: { text.has($0) }) {
            c.add(
                Rules.dropColumnOrTable, file: file, line: line,
                message: "A column of `\(table)` is dropped; deployed code that still reads it will fail.",
                suggestion: "Stop reading and writing the column in an earlier release (ignore it in the ORM), then "
                    + "drop it.")
        }
        if text.has(" type ") && text.has(" alter column ") || text.has(" set data type ") {
            c.add(
                Rules.columnTypeChange, file: file, line: line,
                message: "Changing a column type on `\(table)` usually rewrites the table and its indexes under an "
                    + "ACCESS EXCLUSIVE lock.",
                suggestion: "Add a new column, backfill it in batches, switch the code, then drop the old one.")
        }
        if text.has(" add column ") || text.has(" add ") && !text.has(" add constraint ") && !text.has(" add index ") {
            if text.has(" not null") {
                if !text.has(" default ") {
                    c.add(
                        Rules.notNullColumn, file: file, line: line,
                        message: "ADD COLUMN … NOT NULL without a default on `\(table)` fails as soon as the table "
                            + "has rows.",
                        suggestion: "Add the column nullable (or with a constant default), backfill it, then add "
                            + "CHECK (col IS NOT NULL) NOT VALID and VALIDATE it.")
                } else if Self.volatileDefaults.contains(where: { text.has($0) }) {
                    c.add(
                        Rules.notNullColumn, file: file, line: line,
                        message: "ADD COLUMN with a volatile default on `\(table)` rewrites the whole table under an "
                            + "ACCESS EXCLUSIVE lock.",
                        suggestion: "Add the column without a default (or with a constant one), backfill it in "
                            + "batches, then set the default for new rows.")
                }
            }
        }
        if text.has(" set not null") {
            c.add(
                Rules.notNullColumn, file: file, line: line,
                message: "SET NOT NULL on `\(table)` scans the whole table under an ACCESS EXCLUSIVE lock.",
                suggestion: "Add CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT it (weaker lock), then SET NOT "
                    + "NULL (PostgreSQL 12+ uses the constraint and skips the scan).")
        }
        return true
    }

    /// Rails, Alembic and Django helpers with the same hazards.
    func frameworkHelpers(_ c: inout FindingCollector) {
        for line in file.addedLines where !line.isCommentOnly {
            let code = line.code
            let raw = line.raw
            if file.language == .ruby {
                if code.has("add_index ") || code.has("add_index(") {
                    let table = Self.symbolArgument(raw, after: "add_index")
                    if !raw.has("algorithm: :concurrently") && !(table.map(createdTables.contains) ?? false) {
                        indexFinding(
                            line, table: table, fix: "Add algorithm: :concurrently and disable_ddl_transaction!.", &c)
                    }
                }
                if code.has("remove_column") || code.has("drop_table") {
                    dropFinding(line, &c)
                }
                if code.has("change_column ") || code.has("change_column(") {
                    typeFinding(line, &c)
                }
                if code.has("add_column") && raw.has("null: false") && !raw.has("default:") {
                    notNullFinding(line, &c)
                }
                if code.has("change_column_null") && raw.has("false") {
                    notNullFinding(line, &c)
                }
            } else if file.language == .python {
                if code.has("op.create_index(") && !raw.has("postgresql_concurrently=True") {
                    indexFinding(
                        line, table: nil, fix: "Pass postgresql_concurrently=True inside an autocommit block.", &c)
                }
                if code.has("migrations.AddIndex(") {
                    indexFinding(line, table: nil, fix: "Use AddIndexConcurrently in a non-atomic migration.", &c)
                }
                if code.has("op.drop_column(") || code.has("op.drop_table(") || code.has("migrations.RemoveField(")
                    || code.has("migrations.DeleteModel(")
                {
                    dropFinding(line, &c)
                }
                if code.has("op.alter_column(") && raw.has("type_=") {
                    typeFinding(line, &c)
                }
                if code.has("op.add_column(") && raw.has("nullable=False") && !raw.has("server_default") {
                    notNullFinding(line, &c)
                }
            }
        }
    }

    static func symbolArgument(_ raw: [UInt8], after name: Needle) -> String? {
        guard let index = raw.find(name), let colon = raw.find(":", from: index + name.count) else { return nil }
        var end = colon + 1
        while end < raw.count && raw[end].isIdentifierByte { end += 1 }
        return end > colon + 1 ? raw.string((colon + 1)..<end) : nil
    }

    func indexFinding(_ line: SourceLine, table: String?, fix: String, _ c: inout FindingCollector) {
        c.add(
            Rules.indexWithoutConcurrently, file: file, line: line,
            message: "The index is built without CONCURRENTLY; writes to \(table.map { "`\($0)`" } ?? "the table") "
                + "block until it finishes.",
            suggestion: fix)
    }

    func dropFinding(_ line: SourceLine, _ c: inout FindingCollector) {
        c.add(
            Rules.dropColumnOrTable, file: file, line: line,
            message: "A column or table is dropped; deployed code that still uses it will fail.",
            suggestion: "Stop using it in an earlier release, then drop it.")
    }

    func typeFinding(_ line: SourceLine, _ c: inout FindingCollector) {
        c.add(
            Rules.columnTypeChange, file: file, line: line,
            message: "A column type changes; PostgreSQL usually rewrites the table under an ACCESS EXCLUSIVE lock.",
            suggestion: "Add a new column, backfill it in batches, switch the code, then drop the old column.")
    }

    func notNullFinding(_ line: SourceLine, _ c: inout FindingCollector) {
        c.add(
            Rules.notNullColumn, file: file, line: line,
            message: "A NOT NULL column is added or enforced without a default; it fails or scans on a big table.",
            suggestion: "Add it nullable, backfill it in batches, then enforce NOT NULL through a validated CHECK "
                + "constraint.")
    }
}
