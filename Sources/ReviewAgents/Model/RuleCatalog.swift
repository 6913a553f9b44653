/// Every built-in rule, grouped by agent. Rule ids are part of the public contract: never rename one.
public enum RuleCatalog {
    /// All rules, in a stable order (by agent, then as declared).
    public static let all: [RuleDescriptor] = security + scale + quality + architecture

    /// Finds a rule by id.
    public static func rule(id: String) -> RuleDescriptor? { byID[id] }

    /// The rules of one agent.
    public static func rules(for agent: AgentKind) -> [RuleDescriptor] {
        switch agent {
        case .security: security
        case .scale: scale
        case .quality: quality
        case .architecture: architecture
        }
    }

    private static let byID: [String: RuleDescriptor] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })

    static let security: [RuleDescriptor] = [
        Rules.awsAccessKey, Rules.awsSecretKey, Rules.githubToken, Rules.gitlabToken, Rules.slackToken,
        Rules.slackWebhook, Rules.stripeKey, Rules.googleAPIKey, Rules.npmToken, Rules.pypiToken, Rules.sendgridKey,
        Rules.openAIKey, Rules.telegramBotToken, Rules.privateKey, Rules.jwt, Rules.urlPassword,
        Rules.hardcodedCredential, Rules.commandInjection, Rules.codeInjection, Rules.sqlInjection,
        Rules.pathTraversal, Rules.tlsVerificationDisabled, Rules.weakHash, Rules.weakCipher,
        Rules.unsafeDeserialization, Rules.insecureRandomness, Rules.xss, Rules.redos, Rules.prototypePollution,
    ]

    static let scale: [RuleDescriptor] = [
        Rules.queryInLoop, Rules.awaitInLoop, Rules.unboundedQuery, Rules.selectStar, Rules.sleepInLoop,
        Rules.nestedLoop, Rules.unpaginatedListEndpoint, Rules.indexWithoutConcurrently, Rules.notNullColumn,
        Rules.columnTypeChange, Rules.dropColumnOrTable, Rules.missingLockTimeout,
    ]

    static let quality: [RuleDescriptor] = [
        Rules.debugPrint, Rules.debuggerStatement, Rules.todoComment, Rules.longFunction, Rules.longFile,
        Rules.commentedOutCode, Rules.emptyCatch, Rules.missingTests, Rules.longLine,
    ]

    static let architecture: [RuleDescriptor] = [
        Rules.newDependency, Rules.manifestWithoutLockfile, Rules.layerViolation, Rules.wideChange,
        Rules.largeChange, Rules.importCycle,
    ]
}

/// The built-in rules. Each is written from public facts (token formats, CWE entries, database docs).
enum Rules {
    // MARK: Security: credentials

    static let awsAccessKey = RuleDescriptor(
        id: "security.secret.aws-access-key", agent: .security, defaultSeverity: .critical,
        title: "AWS access key ID committed",
        help: "An AWS access key ID (AKIA/ASIA followed by 16 characters) is in the change. Key IDs come in pairs "
            + "with a secret key; rotate the pair and load credentials from the environment or a secret store.",
        cwe: "CWE-798")
    static let awsSecretKey = RuleDescriptor(
        id: "security.secret.aws-secret-key", agent: .security, defaultSeverity: .critical,
        title: "AWS secret access key committed",
        help: "A 40-character value is assigned to an AWS secret access key setting. Rotate it and read it from "
            + "the environment or a secret store.",
        cwe: "CWE-798")
    static let githubToken = RuleDescriptor(
        id: "security.secret.github-token", agent: .security, defaultSeverity: .critical,
        title: "GitHub token committed",
        help: "A GitHub token (ghp_, gho_, ghu_, ghs_, ghr_ or github_pat_) is in the change. Revoke it on GitHub "
            + "and use an Actions secret or the environment.",
        cwe: "CWE-798")
    static let gitlabToken = RuleDescriptor(
        id: "security.secret.gitlab-token", agent: .security, defaultSeverity: .critical,
        title: "GitLab token committed",
        help: "A GitLab personal access token (glpat-) is in the change. Revoke it and use a CI variable.",
        cwe: "CWE-798")
    static let slackToken = RuleDescriptor(
        id: "security.secret.slack-token", agent: .security, defaultSeverity: .high,
        title: "Slack token committed",
        help: "A Slack API token (xoxb-, xoxp-, xoxe-, xoxa-, xoxr-, xoxs-, xapp-) is in the change. Revoke it in "
            + "the Slack app settings and load it from the environment.",
        cwe: "CWE-798")
    static let slackWebhook = RuleDescriptor(
        id: "security.secret.slack-webhook", agent: .security, defaultSeverity: .high,
        title: "Slack incoming webhook URL committed",
        help: "Anyone holding a Slack incoming-webhook URL can post to the channel. Regenerate it and keep it in a "
            + "secret store.",
        cwe: "CWE-798")
    static let stripeKey = RuleDescriptor(
        id: "security.secret.stripe-key", agent: .security, defaultSeverity: .critical,
        title: "Stripe live secret key committed",
        help: "A Stripe live secret or restricted key (sk_live_, rk_live_) can move money. Roll it in the Stripe "
            + "dashboard and load it from the environment.",
        cwe: "CWE-798")
    static let googleAPIKey = RuleDescriptor(
        id: "security.secret.google-api-key", agent: .security, defaultSeverity: .high,
        title: "Google API key committed",
        help: "A Google API key (AIza followed by 35 characters) is in the change. Restrict or regenerate it.",
        cwe: "CWE-798")
    static let npmToken = RuleDescriptor(
        id: "security.secret.npm-token", agent: .security, defaultSeverity: .critical,
        title: "npm access token committed",
        help: "An npm access token (npm_) can publish packages. Revoke it and use a CI secret.",
        cwe: "CWE-798")
    static let pypiToken = RuleDescriptor(
        id: "security.secret.pypi-token", agent: .security, defaultSeverity: .critical,
        title: "PyPI API token committed",
        help: "A PyPI upload token (pypi-AgEIcHlwaS5vcmc…) can publish releases. Revoke it and use trusted "
            + "publishing "
            + "or a CI secret.",
        cwe: "CWE-798")
    static let sendgridKey = RuleDescriptor(
        id: "security.secret.sendgrid-key", agent: .security, defaultSeverity: .high,
        title: "SendGrid API key committed",
        help: "A SendGrid API key (SG.xxx.yyy) can send mail as the account. Revoke it and use the environment.",
        cwe: "CWE-798")
    static let openAIKey = RuleDescriptor(
        id: "security.secret.openai-key", agent: .security, defaultSeverity: .high,
        title: "OpenAI API key committed",
        help:
            "An OpenAI-style secret key (sk-proj-, sk-) is in the change. Revoke it and read it from the environment.",
        cwe: "CWE-798")
    static let telegramBotToken = RuleDescriptor(
        id: "security.secret.telegram-bot-token", agent: .security, defaultSeverity: .high,
        title: "Telegram bot token committed",
        help: "A Telegram bot token (digits, a colon, 35 characters) controls the bot. Revoke it with BotFather.",
        cwe: "CWE-798")
    static let privateKey = RuleDescriptor(
        id: "security.secret.private-key", agent: .security, defaultSeverity: .critical,
        title: "Private key committed",
        help: "A PEM or OpenSSH private key block is in the change. Treat the key as compromised: replace it, and "
            + "keep keys out of the repository.",
        cwe: "CWE-321")
    static let jwt = RuleDescriptor(
        id: "security.secret.jwt", agent: .security, defaultSeverity: .high,
        title: "JSON Web Token committed",
        help: "A signed JWT is in the change; until it expires it authenticates whoever holds it.",
        cwe: "CWE-798")
    static let urlPassword = RuleDescriptor(
        id: "security.secret.url-password", agent: .security, defaultSeverity: .high,
        title: "Password embedded in a URL",
        help: "A URL carries a literal password (scheme://user:password@host). Pass credentials separately, from "
            + "the environment or a secret store.",
        cwe: "CWE-798")
    static let hardcodedCredential = RuleDescriptor(
        id: "security.secret.hardcoded-credential", agent: .security, defaultSeverity: .high,
        title: "Hard-coded password or API key",
        help: "A variable or setting named like a password, secret, token or API key is assigned a literal, "
            + "random-looking value. Read it from the environment or a secret store instead.",
        cwe: "CWE-798")

    // MARK: Security: code

    static let commandInjection = RuleDescriptor(
        id: "security.command-injection", agent: .security, defaultSeverity: .high,
        title: "Shell command built from a string",
        help: "A command runs through a shell (os.system, shell=True, child_process.exec, sh -c, backticks) with a "
            + "string built by concatenation or interpolation. Pass an argument vector without a shell instead.",
        cwe: "CWE-78")
    static let codeInjection = RuleDescriptor(
        id: "security.code-injection", agent: .security, defaultSeverity: .high,
        title: "Dynamic code evaluation",
        help: "eval, exec, new Function, string timers or instance_eval run a string as code; if any part of it "
            + "comes from input, an attacker runs code. Use a parser or a dispatch table.",
        cwe: "CWE-95")
    static let sqlInjection = RuleDescriptor(
        id: "security.sql-injection", agent: .security, defaultSeverity: .high,
        title: "SQL built by concatenation or interpolation",
        help: "An SQL statement is assembled with +, f-strings, format, template literals or interpolation. Use "
            + "bind parameters ($1, ?, %s with a parameter tuple) so values never become SQL.",
        cwe: "CWE-89")
    static let pathTraversal = RuleDescriptor(
        id: "security.path-traversal", agent: .security, defaultSeverity: .high,
        title: "File path from request input",
        help: "A file is opened, sent or joined with a path taken from request input. '../' in the input escapes "
            + "the intended directory. Reduce it to a base name or resolve it and check it stays under the root.",
        cwe: "CWE-22")
    static let tlsVerificationDisabled = RuleDescriptor(
        id: "security.tls-verification-disabled", agent: .security, defaultSeverity: .high,
        title: "TLS certificate verification turned off",
        help: "Turning off certificate or host-name verification (verify=False, rejectUnauthorized: false, "
            + "InsecureSkipVerify, curl -k) lets anyone on the path read and change the traffic.",
        cwe: "CWE-295")
    static let weakHash = RuleDescriptor(
        id: "security.weak-hash", agent: .security, defaultSeverity: .medium,
        title: "MD5 or SHA-1 used for a security purpose",
        help: "MD5 and SHA-1 are broken for collision resistance and far too fast for passwords. Use SHA-256 for "
            + "integrity and a password hash (Argon2, bcrypt, scrypt, PBKDF2) for passwords.",
        cwe: "CWE-328")
    static let weakCipher = RuleDescriptor(
        id: "security.weak-cipher", agent: .security, defaultSeverity: .high,
        title: "Weak cipher or ECB mode",
        help: "DES, 3DES, RC4, Blowfish and ECB mode do not protect data today. Use an authenticated mode such as "
            + "AES-GCM or ChaCha20-Poly1305.",
        cwe: "CWE-327")
    static let unsafeDeserialization = RuleDescriptor(
        id: "security.unsafe-deserialization", agent: .security, defaultSeverity: .high,
        title: "Unsafe deserialisation",
        help: "pickle, marshal, yaml.load without a safe loader, torch.load without weights_only, Java "
            + "ObjectInputStream, Ruby Marshal or NSKeyedUnarchiver's insecure API can run code chosen by whoever "
            + "wrote the data. Use a data-only format or a safe loader.",
        cwe: "CWE-502")
    static let insecureRandomness = RuleDescriptor(
        id: "security.insecure-randomness", agent: .security, defaultSeverity: .medium,
        title: "Predictable random numbers for a secret",
        help: "A token, password, nonce or session value comes from a non-cryptographic generator (Math.random, "
            + "random module, java.util.Random, math/rand). Use secrets, crypto.randomBytes, SecureRandom or "
            + "crypto/rand.",
        cwe: "CWE-338")
    static let xss = RuleDescriptor(
        id: "security.xss", agent: .security, defaultSeverity: .high,
        title: "HTML written without escaping",
        help: "Dynamic content reaches an HTML sink that does not escape (innerHTML, document.write, "
            + "dangerouslySetInnerHTML, v-html, mark_safe, html_safe, |safe, template.HTML). Escape it or sanitise it.",
        cwe: "CWE-79")
    static let redos = RuleDescriptor(
        id: "security.redos", agent: .security, defaultSeverity: .medium,
        title: "Regular expression prone to catastrophic backtracking",
        help: "A quantified group that itself contains a quantifier, like (a+)+ or (\\w+\\s?)*, or a quantified "
            + "alternation of overlapping branches, takes exponential time on some inputs. Rewrite it without nested "
            + "quantifiers or use a linear-time engine.",
        cwe: "CWE-1333")
    static let prototypePollution = RuleDescriptor(
        id: "security.prototype-pollution", agent: .security, defaultSeverity: .high,
        title: "Prototype pollution",
        help: "Copying keys from untrusted objects onto another object (recursive merges, obj[a][b] = v, __proto__) "
            + "can change Object.prototype for the whole process. Skip __proto__, constructor and prototype keys, or "
            + "use Map or Object.create(null).",
        cwe: "CWE-1321")

    // MARK: Scale

    static let queryInLoop = RuleDescriptor(
        id: "scale.query-in-loop", agent: .scale, defaultSeverity: .medium,
        title: "Database query inside a loop (N+1)",
        help: "A query runs once per loop iteration. Load the rows in one query (IN/ANY, a join, prefetch/include) "
            + "before the loop.")
    static let awaitInLoop = RuleDescriptor(
        id: "scale.await-in-loop", agent: .scale, defaultSeverity: .low,
        title: "Sequential await inside a loop",
        help: "Each iteration waits for the previous one. When the calls are independent, run them concurrently "
            + "with a bound (Promise.all, asyncio.gather, a task group).")
    static let unboundedQuery = RuleDescriptor(
        id: "scale.unbounded-query", agent: .scale, defaultSeverity: .medium,
        title: "Unbounded query",
        help: "A query reads a whole table (SELECT without WHERE or LIMIT, .all() on a request path). Its cost grows "
            + "with the data; add a LIMIT, pagination or a filter.")
    static let selectStar = RuleDescriptor(
        id: "scale.select-star", agent: .scale, defaultSeverity: .low,
        title: "SELECT *",
        help: "SELECT * reads every column, including ones added later, and breaks index-only scans. Name the "
            + "columns you need.")
    static let sleepInLoop = RuleDescriptor(
        id: "scale.sleep-in-loop", agent: .scale, defaultSeverity: .low,
        title: "Sleep inside a loop",
        help: "A fixed sleep in a loop is polling: it wastes time when the event is early and load when it is late. "
            + "Prefer an event, a notification or exponential backoff with jitter and a bound.")
    static let nestedLoop = RuleDescriptor(
        id: "scale.nested-loop", agent: .scale, defaultSeverity: .low,
        title: "Nested loops over collections",
        help: "A loop over one collection inside a loop over another is O(n·m). Index one side in a dictionary or "
            + "set first when the collections can grow.")
    static let unpaginatedListEndpoint = RuleDescriptor(
        id: "scale.unpaginated-list-endpoint", agent: .scale, defaultSeverity: .medium,
        title: "List endpoint without pagination",
        help: "A new endpoint returns a collection without limit, offset, cursor or page parameters. Responses grow "
            + "with the data; add pagination with a maximum page size.")
    static let indexWithoutConcurrently = RuleDescriptor(
        id: "scale.migration.index-without-concurrently", agent: .scale, defaultSeverity: .high,
        title: "CREATE INDEX without CONCURRENTLY",
        help: "CREATE INDEX takes a SHARE lock that blocks writes to the table for the whole build. On an existing "
            + "table use CREATE INDEX CONCURRENTLY (outside a transaction).")
    static let notNullColumn = RuleDescriptor(
        id: "scale.migration.not-null-column", agent: .scale, defaultSeverity: .high,
        title: "NOT NULL column added or enforced on an existing table",
        help: "ADD COLUMN … NOT NULL without a default fails on a non-empty table; with a volatile default "
            + "(now(), random(), gen_random_uuid()) it rewrites the table under an ACCESS EXCLUSIVE lock; SET NOT NULL "
            + "scans it under that lock. Add the column nullable, backfill in batches, then add a CHECK … NOT VALID "
            + "constraint and validate it.")
    static let columnTypeChange = RuleDescriptor(
        id: "scale.migration.column-type-change", agent: .scale, defaultSeverity: .high,
        title: "Column type change",
        help: "ALTER COLUMN … TYPE usually rewrites the table and its indexes under an ACCESS EXCLUSIVE lock. Add a "
            + "new column, backfill it in batches and switch readers over.")
    static let dropColumnOrTable = RuleDescriptor(
        id: "scale.migration.drop", agent: .scale, defaultSeverity: .high,
        title: "Column or table dropped",
        help: "Code still deployed may read the dropped column or table, and the data is gone. Stop using it in one "
            + "release, drop it in a later one, and keep a backup.")
    static let missingLockTimeout = RuleDescriptor(
        id: "scale.migration.missing-lock-timeout", agent: .scale, defaultSeverity: .medium,
        title: "Migration without lock_timeout",
        help: "A migration alters a table without SET lock_timeout (or statement_timeout). Waiting for its lock "
            + "queues every later query on the table; set lock_timeout so it fails fast and retry.")

    // MARK: Quality

    static let debugPrint = RuleDescriptor(
        id: "quality.debug-print", agent: .quality, defaultSeverity: .low,
        title: "Debug print left in",
        help: "print, console.log, System.out.println and friends in library code bypass the logger. Use the "
            + "project's logger with a level, or remove the line.")
    static let debuggerStatement = RuleDescriptor(
        id: "quality.debugger-statement", agent: .quality, defaultSeverity: .medium,
        title: "Debugger breakpoint left in",
        help: "debugger, breakpoint(), pdb.set_trace(), binding.pry and byebug stop the program when reached.")
    static let todoComment = RuleDescriptor(
        id: "quality.todo-comment", agent: .quality, defaultSeverity: .low,
        title: "TODO or FIXME added",
        help: "A TODO, FIXME, HACK or XXX comment records unfinished work. Link it to an issue or finish it.")
    static let longFunction = RuleDescriptor(
        id: "quality.long-function", agent: .quality, defaultSeverity: .medium,
        title: "Very long function added",
        help: "A new function is longer than the configured limit (thresholds.function_lines, default 80). Split it "
            + "into named steps.")
    static let longFile = RuleDescriptor(
        id: "quality.long-file", agent: .quality, defaultSeverity: .low,
        title: "Very long file added",
        help: "A new source file is longer than the configured limit (thresholds.file_lines, default 1000). Split it "
            + "by responsibility.")
    static let commentedOutCode = RuleDescriptor(
        id: "quality.commented-out-code", agent: .quality, defaultSeverity: .low,
        title: "Commented-out code",
        help: "Lines of code are added inside comments. Version control keeps old code; delete it.")
    static let emptyCatch = RuleDescriptor(
        id: "quality.empty-catch", agent: .quality, defaultSeverity: .medium,
        title: "Error swallowed by an empty handler",
        help: "An empty catch, except: pass or rescue hides failures. Handle the error, log it, or say in a comment "
            + "why ignoring it is right.",
        cwe: "CWE-1069")
    static let missingTests = RuleDescriptor(
        id: "quality.missing-tests", agent: .quality, defaultSeverity: .low,
        title: "Source changed without tests",
        help: "The change adds or modifies source code but no test file. Add or update a test that covers it.")
    static let longLine = RuleDescriptor(
        id: "quality.long-line", agent: .quality, defaultSeverity: .low,
        title: "Very long lines",
        help: "Added lines exceed the configured length (thresholds.line_length, default 120).")

    // MARK: Architecture

    static let newDependency = RuleDescriptor(
        id: "architecture.new-dependency", agent: .architecture, defaultSeverity: .medium,
        title: "New dependency",
        help: "A dependency is added to a manifest. Check its licence, maintenance, size and transitive "
            + "dependencies, and whether the standard library or an existing dependency already does the job.",
        cwe: "CWE-1357")
    static let manifestWithoutLockfile = RuleDescriptor(
        id: "architecture.manifest-without-lockfile", agent: .architecture, defaultSeverity: .medium,
        title: "Dependencies changed without the lockfile",
        help: "A manifest's dependencies change but its lockfile (package-lock.json, go.sum, Gemfile.lock, "
            + "Cargo.lock, poetry.lock, Pipfile.lock) does not, so builds resolve versions nobody reviewed.")
    static let layerViolation = RuleDescriptor(
        id: "architecture.layer-violation", agent: .architecture, defaultSeverity: .high,
        title: "Import across a forbidden layer",
        help: "A file imports a module that the repository's layer rules (.agentqueue.yml, layers) forbid for its "
            + "layer.")
    static let wideChange = RuleDescriptor(
        id: "architecture.wide-change", agent: .architecture, defaultSeverity: .low,
        title: "Change spread over many modules",
        help: "The change touches more top-level modules than the configured limit (thresholds.modules, default 5). "
            + "Several focused changes are easier to review and to revert.")
    static let largeChange = RuleDescriptor(
        id: "architecture.large-change", agent: .architecture, defaultSeverity: .medium,
        title: "Very large change",
        help: "The change adds or removes more lines than the configured limit (thresholds.change_lines, default "
            + "1000, lockfiles and generated files excluded). Review quality drops fast with size; split it.")
    static let importCycle = RuleDescriptor(
        id: "architecture.import-cycle", agent: .architecture, defaultSeverity: .high,
        title: "New import cycle between modules",
        help: "An added import makes two modules import each other (directly or through changed modules). Cycles "
            + "make modules impossible to build, test or reason about separately; move the shared part out.")
}
