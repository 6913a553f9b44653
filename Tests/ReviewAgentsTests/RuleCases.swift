import Testing

@testable import ReviewAgents

/// One example for one rule: a diff, and whether the rule must report on it.
struct RuleCase: Sendable, CustomTestStringConvertible {
    let rule: String
    let expected: Bool
    let name: String
    let diff: String
    var configuration: RepositoryConfiguration = .default

    var testDescription: String { "\(expected ? "+" : "−") \(rule): \(name)" }
}

private func added(_ path: String, _ lines: [String]) -> String {
    var builder = DiffBuilder()
    builder.newFile(path, lines)
    return builder.text
}

private func modified(_ path: String, context: [String] = [], removed: [String] = [], added: [String]) -> String {
    var builder = DiffBuilder()
    builder.modify(path, context: context, removed: removed, added: added)
    return builder.text
}

private func many(_ build: (inout DiffBuilder) -> Void) -> String {
    var builder = DiffBuilder()
    build(&builder)
    return builder.text
}

private func positive(_ rule: String, _ name: String, _ diff: String) -> RuleCase {
    RuleCase(rule: rule, expected: true, name: name, diff: diff)
}

private func negative(_ rule: String, _ name: String, _ diff: String) -> RuleCase {
    RuleCase(rule: rule, expected: false, name: name, diff: diff)
}

/// Positive and negative examples for every built-in rule. `RuleTests` checks that each rule has both.
enum RuleCases {
    static var all: [RuleCase] { secrets + securityCode + scale + migrations + quality + architecture }

    // Fake credentials, assembled at run time so that no token-shaped literal is committed.
    static let awsKey = "AKIA" + Fake.string(16, from: Fake.upperDigits, seed: 11)
    static let awsSecret = Fake.string(40, from: Fake.base64, seed: 12)
    static let githubToken = "ghp_" + Fake.alnum(36, seed: 13)
    static let gitlabToken = "glpat-" + Fake.alnum(20, seed: 14)
    static let slackToken = "xoxb-" + "2417" + "0193" + "8841-" + "1093847561029-" + Fake.alnum(24, seed: 15)
    static let slackWebhook =
        "https://hooks.slack.com/services/T" + Fake.string(8, from: Fake.upperDigits, seed: 16)
        + "/B" + Fake.string(10, from: Fake.upperDigits, seed: 17) + "/" + Fake.alnum(24, seed: 18)
    // One of each Slack token type, in the shapes Slack documents (IDs of 8 to 14 digits, then the secret).
    static let slackLegacyBotToken = "xoxb-" + Fake.digits(12, seed: 101) + "-" + Fake.alnum(24, seed: 102)
    static let slackUserToken =
        "xoxp-" + Fake.digits(12, seed: 103) + "-" + Fake.digits(12, seed: 104) + "-" + Fake.digits(13, seed: 105)
        + "-" + Fake.hex(32, seed: 106)
    static let slackRotatedUserToken =
        "xoxe-" + Fake.digits(13, seed: 107) + "-" + Fake.digits(13, seed: 108) + "-" + Fake.digits(13, seed: 109)
        + "-" + Fake.hex(32, seed: 110)
    static let slackConfigToken = "xoxe." + "xoxp-1-" + Fake.alnum(163, seed: 111)
    static let slackConfigRefreshToken = "xoxe-1-" + Fake.alnum(146, seed: 112)
    static let slackWorkspaceToken = "xoxa-2-" + Fake.alnum(12, seed: 113)
    static let slackRefreshToken = "xoxr-" + Fake.alnum(40, seed: 114)
    static let slackLegacyToken =
        "xoxs-" + Fake.digits(10, seed: 115) + "-" + Fake.digits(10, seed: 116) + "-" + Fake.digits(10, seed: 117)
        + "-" + Fake.hex(10, seed: 118)
    static let slackAppToken =
        "xapp-1-A" + Fake.string(10, from: Fake.upperDigits, seed: 119) + "-" + Fake.digits(13, seed: 120) + "-"
        + Fake.hex(64, seed: 121)
    static let stripeKey = "sk_" + "live_" + Fake.alnum(24, seed: 19)
    static let googleKey = "AI" + "za" + Fake.alnum(35, seed: 20)
    static let npmToken = "npm_" + Fake.alnum(36, seed: 21)
    static let pypiToken = "pypi-" + "AgEIcHlwaS5vcmc" + Fake.alnum(70, seed: 22)
    static let sendgridKey = "SG." + Fake.alnum(22, seed: 23) + "." + Fake.alnum(43, seed: 24)
    static let openAIKey = "sk-" + "proj-" + Fake.alnum(48, seed: 25)
    static let telegramToken = "7012345678:" + "AA" + Fake.alnum(33, seed: 26)
    static let jwtToken =
        "ey" + "J" + Fake.alnum(30, seed: 27) + ".ey" + "J" + Fake.alnum(60, seed: 28) + "."
        + Fake.alnum(43, seed: 29)
    static let jwtIOExample =
        "ey" + "JhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.ey"
        + "JzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
        + "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    static let password = "Xk9#mP2$vL8qR" + Fake.alnum(4, seed: 30)

    static let secrets: [RuleCase] = [
        positive(
            "security.secret.aws-access-key", "key id in Python",
            added("app/settings.py", ["AWS_KEY_ID = \"\(awsKey)\""])),
        negative(
            "security.secret.aws-access-key", "AWS documented example key",
            added("app/settings.py", ["AWS_KEY_ID = \"AKIAIOSFODNN7EXAMPLE\""])),
        negative(
            "security.secret.aws-access-key", "inside a longer identifier",
            added("app/settings.py", ["value = \"X\(awsKey)\""])),
        positive(
            "security.secret.aws-secret-key", ".env secret", added(".env", ["AWS_SECRET_ACCESS_KEY=\(awsSecret)"])),
        negative(
            "security.secret.aws-secret-key", "documented example secret",
            added(".env", ["AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"])),
        negative(
            "security.secret.aws-secret-key", "environment look-up",
            added("deploy.py", ["secret = os.environ[\"AWS_SECRET_ACCESS_KEY\"]"])),
        positive(
            "security.secret.github-token", "classic token", added("ci/config.js", ["const token = '\(githubToken)';"])),
        negative(
            "security.secret.github-token", "low-entropy filler",
            added("ci/config.js", ["const token = 'ghp_000000000000000000000000000000000000';"])),
        negative(
            "security.secret.github-token", "process.env",
            added("ci/config.js", ["const token = process.env.GITHUB_TOKEN;"])),
        positive("security.secret.gitlab-token", "personal access token", added("ci.yml", ["token: \(gitlabToken)"])),
        negative("security.secret.gitlab-token", "placeholder", added("ci.yml", ["token: glpat-xxxxxxxxxxxxxxxxxxxx"])),
        positive("security.secret.slack-token", "bot token", added("bot.rb", ["TOKEN = '\(slackToken)'"])),
        positive(
            "security.secret.slack-token", "legacy bot token",
            added("bot.py", ["client = WebClient('\(slackLegacyBotToken)')"])),
        positive("security.secret.slack-token", "user token", added(".env", ["SLACK_USER=\(slackUserToken)"])),
        positive(
            "security.secret.slack-token", "rotated token in a URL",
            added("docs/links.md", ["![x](https://files.slack.com/files-pri/T1-F2/x.png?t=\(slackRotatedUserToken))"])),
        positive(
            "security.secret.slack-token", "configuration access token",
            added("deploy/slack.yml", ["config_token: \(slackConfigToken)"])),
        positive(
            "security.secret.slack-token", "configuration refresh token",
            added("deploy/slack.yml", ["refresh: \(slackConfigRefreshToken)"])),
        positive(
            "security.secret.slack-token", "legacy workspace token",
            added("app/slack.js", ["const t = '\(slackWorkspaceToken)';"])),
        positive(
            "security.secret.slack-token", "refresh token", added("app/slack.js", ["const r = '\(slackRefreshToken)';"])
        ),
        positive(
            "security.secret.slack-token", "legacy xoxs token",
            added("tools/export.go", ["t := \"\(slackLegacyToken)\""])),
        positive(
            "security.secret.slack-token", "app-level token", added("app/socket.ts", ["appToken: '\(slackAppToken)',"])),
        positive(
            "security.secret.slack-token", "provider tokens count in tests too",
            added("tests/test_bot.py", ["TOKEN = '\(slackToken)'"])),
        negative("security.secret.slack-token", "placeholder", added("bot.rb", ["TOKEN = 'xoxb-your-token-here'"])),
        negative(
            "security.secret.slack-token", "words in the shape of a token",
            added("bot.rb", ["TOKEN = 'xoxb-this-is-not-a-real-token-123'"])),
        negative(
            "security.secret.slack-token", "configuration token placeholder",
            added("deploy/slack.yml", ["config_token: xoxe.xoxp-1-SlackAppConfigurationAccessTokenHere"])),
        negative("security.secret.slack-token", "IDs too short", added("bot.rb", ["TOKEN = 'xoxb-12345-abcd234'"])),
        negative(
            "security.secret.slack-token", "filler user token",
            added(
                ".env.example",
                ["SLACK_USER=xoxp-XXXXXXXXXX-XXXXXXXXXX-XXXXXXXXXXX-" + String(repeating: "X", count: 32)])),
        negative(
            "security.secret.slack-token", "prefixes named in prose",
            added("docs/slack.md", ["Bot tokens start with xoxb- and user tokens with xoxp-; see the xoxe- docs."])),
        negative(
            "security.secret.slack-token", "inside a longer identifier",
            added("bot.rb", ["value = 'abc\(slackToken)'"])),
        positive("security.secret.slack-webhook", "webhook", added("notify.sh", ["curl -X POST \(slackWebhook)"])),
        positive(
            "security.secret.slack-webhook", "webhook in JSON",
            added("config/alerts.json", ["  \"webhook\": \"\(slackWebhook)\","])),
        negative(
            "security.secret.slack-webhook", "truncated example",
            added("notify.sh", ["curl -X POST https://hooks.slack.com/services/T000/B000/XXXX"])),
        negative(
            "security.secret.slack-webhook", "Slack's documented example",
            added(
                "notify.sh",
                ["curl -X POST https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"])),
        negative(
            "security.secret.slack-webhook", "no integration ID",
            added(
                "notify.sh",
                [
                    "curl -X POST https://hooks.slack.com/services/T"
                        + Fake.string(9, from: Fake.upperDigits, seed: 122)
                        + "/" + Fake.alnum(24, seed: 123)
                ])),
        positive("security.secret.stripe-key", "live key", added("pay.go", ["const key = \"\(stripeKey)\""])),
        negative(
            "security.secret.stripe-key", "test key",
            added("pay.go", ["const key = \"sk_test_\(Fake.alnum(24, seed: 40))\""])),
        positive(
            "security.secret.google-api-key", "maps key", added("web/map.ts", ["const mapsKey = \"\(googleKey)\";"])),
        negative("security.secret.google-api-key", "too short", added("web/map.ts", ["const prefix = \"AIzaSy\";"])),
        positive(
            "security.secret.npm-token", ".npmrc", added(".npmrc", ["//registry.npmjs.org/:_authToken=\(npmToken)"])),
        negative(
            "security.secret.npm-token", "environment reference",
            added(".npmrc", ["//registry.npmjs.org/:_authToken=${NPM_TOKEN}"])),
        positive("security.secret.pypi-token", ".pypirc", added(".pypirc", ["password = \(pypiToken)"])),
        negative("security.secret.pypi-token", "username line", added(".pypirc", ["username = __token__"])),
        positive("security.secret.sendgrid-key", "mail key", added("mail.py", ["SENDGRID = \"\(sendgridKey)\""])),
        negative("security.secret.sendgrid-key", "short", added("mail.py", ["prefix = \"SG.abc\""])),
        positive(
            "security.secret.openai-key", "project key", added(".env.production", ["OPENAI_API_KEY=\(openAIKey)"])),
        negative(
            "security.secret.openai-key", "placeholder", added(".env.example", ["OPENAI_API_KEY=sk-your-key-here"])),
        positive("security.secret.telegram-bot-token", "bot token", added("bot.py", ["BOT = \"\(telegramToken)\""])),
        negative("security.secret.telegram-bot-token", "time of day", added("bot.py", ["AT = \"12:30\""])),
        positive(
            "security.secret.private-key", "PEM block",
            added(
                "deploy/key.pem",
                ["-----BEGIN RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA" + Fake.string(48, from: Fake.base64, seed: 31)])),
        positive(
            "security.secret.private-key", "escaped in JSON",
            added(
                "sa.json",
                [
                    "  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg"
                        + Fake.string(50, from: Fake.base64, seed: 32) + "\","
                ])),
        negative(
            "security.secret.private-key", "code that looks for a key header",
            added("pem.py", ["    if line.startswith(\"-----BEGIN RSA PRIVATE KEY-----\"):", "        return True"])),
        negative(
            "security.secret.private-key", "public key",
            added(
                "deploy/key.pub",
                [
                    "-----BEGIN PUBLIC KEY-----",
                    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A" + Fake.string(40, from: Fake.base64, seed: 33),
                ])),
        positive(
            "security.secret.jwt", "bearer token",
            added("api_test.sh", ["curl -H \"Authorization: Bearer \(jwtToken)\" http://localhost"])),
        negative("security.secret.jwt", "jwt.io example token", added("docs/auth.md", ["Example: `\(jwtIOExample)`"])),
        positive(
            "security.secret.url-password", "database URL",
            added(".env", ["DATABASE_URL=postgres://app:\(Fake.alnum(16, seed: 34))@db.internal:5432/app"])),
        negative(
            "security.secret.url-password", "local default",
            added(".env", ["DATABASE_URL=postgres://postgres:postgres@localhost/db"])),
        negative(
            "security.secret.url-password", "environment placeholder",
            added("docker-compose.yml", ["      DATABASE_URL: postgres://app:${DB_PASSWORD}@db/app"])),
        positive(
            "security.secret.hardcoded-credential", "password in Python",
            added("db.py", ["DB_PASSWORD = \"\(password)\""])),
        positive(
            "security.secret.hardcoded-credential", "api key in YAML",
            added("config/prod.yaml", ["api_key: \(Fake.alnum(32, seed: 35))"])),
        negative(
            "security.secret.hardcoded-credential", "os.environ",
            added("db.py", ["password = os.environ[\"DB_PASSWORD\"]"])),
        negative(
            "security.secret.hardcoded-credential", "placeholder", added("db.py", ["password = \"YOUR_PASSWORD\""])),
        negative(
            "security.secret.hardcoded-credential", "process.env",
            added("db.js", ["const apiKey = process.env.API_KEY;"])),
        negative(
            "security.secret.hardcoded-credential", "low entropy", added("db.py", ["password = \"aaaaaaaaaaaa\""])),
        negative(
            "security.secret.hardcoded-credential", "lockfile integrity hash",
            added(
                "package-lock.json",
                ["      \"integrity\": \"sha512-\(Fake.string(86, from: Fake.base64, seed: 36))==\","])),
        negative(
            "security.secret.hardcoded-credential", "test fixture",
            added("tests/test_login.py", ["PASSWORD = \"\(password)\""])),
        negative(
            "security.secret.hardcoded-credential", "qualified name",
            added("app/settings.py", ["auth_token = \"Config.Defaults.AuthToken\""])),
        negative(
            "security.secret.private-key", "key in a test fixture",
            added(
                "Tests/CryptoTests/PEMTests.swift",
                [
                    "    -----BEGIN PRIVATE KEY-----",
                    "    MIIEvQIBADANBg" + Fake.string(50, from: Fake.base64, seed: 37),
                ])),
        negative(
            "security.secret.hardcoded-credential", "field name, not a value",
            added("forms.py", ["password_field = \"password_confirmation\""])),
    ]

    static let securityCode: [RuleCase] = [
        positive(
            "security.command-injection", "os.system with concatenation",
            added("tools/clean.py", ["os.system(\"rm -rf \" + path)"])),
        positive(
            "security.command-injection", "shell=True f-string",
            added("app/run.py", ["subprocess.run(f\"ls {d}\", shell=True)"])),
        positive(
            "security.command-injection", "child_process.exec template",
            added("src/git.js", ["const { exec } = require('child_process');", "exec(`git log ${branch}`, cb);"])),
        positive(
            "security.command-injection", "Go sh -c",
            added("run.go", ["cmd := exec.Command(\"sh\", \"-c\", \"ls \" + dir)"])),
        positive("security.command-injection", "Ruby backticks", added("lib/x.rb", ["out = `ls #{dir}`"])),
        positive(
            "security.command-injection", "Swift Process with sh -c",
            added("Sources/App/Run.swift", ["process.arguments = [\"-c\", \"ls \\(directory)\"]"])),
        positive(
            "security.command-injection", "Java Runtime.exec",
            added("src/Ping.java", ["Runtime.getRuntime().exec(\"ping \" + host);"])),
        positive(
            "security.command-injection", "shell sh -c with a variable", added("deploy.sh", ["sh -c \"ls $DIR\""])),
        negative("security.command-injection", "argument list", added("app/run.py", ["subprocess.run([\"ls\", d])"])),
        negative(
            "security.command-injection", "execFile", added("src/git.js", ["execFile('git', ['log', branch], cb);"])),
        negative(
            "security.command-injection", "Go without a shell", added("run.go", ["cmd := exec.Command(\"ls\", dir)"])),
        negative("security.command-injection", "RegExp exec", added("src/parse.js", ["const m = /\\d+/.exec(input);"])),
        negative(
            "security.command-injection", "constant command", added("tools/clean.py", ["os.system(\"make clean\")"])),
        positive("security.code-injection", "Python eval", added("calc.py", ["result = eval(user_input)"])),
        positive("security.code-injection", "JavaScript eval", added("calc.js", ["const r = eval(code);"])),
        positive("security.code-injection", "new Function", added("calc.js", ["const f = new Function('a', body);"])),
        positive("security.code-injection", "string timer", added("calc.js", ["setTimeout(\"run()\", 10);"])),
        positive("security.code-injection", "instance_eval", added("lib/dsl.rb", ["obj.instance_eval(params[:code])"])),
        positive("security.code-injection", "shell eval of a variable", added("run.sh", ["eval \"$CMD\""])),
        negative("security.code-injection", "literal_eval", added("calc.py", ["value = ast.literal_eval(s)"])),
        negative("security.code-injection", "model.eval()", added("train.py", ["model.eval()"])),
        negative("security.code-injection", "function timer", added("calc.js", ["setTimeout(() => run(), 10);"])),
        negative(
            "security.code-injection", "eval of a command substitution", added("setup.sh", ["eval \"$(ssh-agent -s)\""])
        ),
        negative("security.code-injection", "regex exec", added("calc.js", ["const m = re.exec(text);"])),
        positive(
            "security.sql-injection", "f-string",
            added("app/db.py", ["cursor.execute(f\"SELECT * FROM users WHERE id = {uid}\")"])),
        positive(
            "security.sql-injection", "concatenation",
            added("app/db.py", ["cursor.execute(\"SELECT name FROM users WHERE id = \" + uid)"])),
        positive(
            "security.sql-injection", "percent operator",
            added("app/db.py", ["cursor.execute(\"DELETE FROM t WHERE id = %s\" % uid)"])),
        positive(
            "security.sql-injection", "template literal",
            added("src/db.ts", ["const rows = await db.query(`SELECT * FROM t WHERE id = ${id}`);"])),
        positive(
            "security.sql-injection", "Go Sprintf",
            added("store.go", ["rows, err := db.Query(fmt.Sprintf(\"SELECT name FROM t WHERE id = %s\", id))"])),
        positive(
            "security.sql-injection", "Ruby interpolation",
            added("app/models/x.rb", ["conn.execute(\"DELETE FROM t WHERE id = #{id}\")"])),
        positive(
            "security.sql-injection", "Swift concatenation",
            added("Sources/App/Store.swift", ["let sql = \"SELECT name FROM t WHERE name = '\" + name + \"'\""])),
        negative(
            "security.sql-injection", "bind parameters",
            added("app/db.py", ["cursor.execute(\"SELECT * FROM users WHERE id = %s\", (uid,))"])),
        negative(
            "security.sql-injection", "numbered placeholders",
            added("src/db.js", ["db.query(\"SELECT * FROM t WHERE id = $1\", [id]);"])),
        negative(
            "security.sql-injection", "log message", added("app/log.py", ["logger.info(f\"Update {name} failed\")"])),
        negative(
            "security.sql-injection", "Swift bind interpolation (PostgresQuery)",
            added(
                "Sources/App/Store.swift", ["let rows = try await db.query(\"SELECT name FROM t WHERE id = \\(id)\")"])),
        positive(
            "security.path-traversal", "send_file from query",
            added("app/views.py", ["    return send_file(request.args.get(\"name\"))"])),
        positive(
            "security.path-traversal", "fs.readFile from req.query",
            added("src/routes.js", ["fs.readFile(req.query.file, cb);"])),
        positive(
            "security.path-traversal", "through a variable",
            added("src/routes.js", ["  const name = req.params.name;", "  res.sendFile(path.join(root, name));"])),
        positive(
            "security.path-traversal", "Go os.Open", added("files.go", ["f, err := os.Open(r.URL.Query().Get(\"f\"))"])),
        negative(
            "security.path-traversal", "secure_filename",
            added("app/views.py", ["    return send_file(secure_filename(request.args[\"f\"]))"])),
        negative(
            "security.path-traversal", "basename",
            added("src/routes.js", ["fs.readFile(path.join(root, path.basename(req.query.file)), cb);"])),
        negative(
            "security.path-traversal", "constant path", added("src/routes.js", ["fs.readFile(\"config.json\", cb);"])),
        positive(
            "security.tls-verification-disabled", "requests verify=False",
            added("client.py", ["r = requests.get(url, verify=False)"])),
        positive(
            "security.tls-verification-disabled", "rejectUnauthorized",
            added("client.js", ["const agent = new https.Agent({ rejectUnauthorized: false });"])),
        positive(
            "security.tls-verification-disabled", "InsecureSkipVerify",
            added("client.go", ["tls := &tls.Config{InsecureSkipVerify: true}"])),
        positive(
            "security.tls-verification-disabled", "curl -k",
            added("fetch.sh", ["curl -sk https://example.internal/health"])),
        positive(
            "security.tls-verification-disabled", "YAML setting", added("config.yml", ["insecure_skip_verify: true"])),
        positive(
            "security.tls-verification-disabled", "NIOSSL certificateVerification",
            added("Sources/App/TLS.swift", ["config.certificateVerification = .none"])),
        negative(
            "security.tls-verification-disabled", "verify=True",
            added("client.py", ["r = requests.get(url, verify=True)"])),
        negative(
            "security.tls-verification-disabled", "InsecureSkipVerify false",
            added("client.go", ["tls := &tls.Config{InsecureSkipVerify: false}"])),
        negative(
            "security.tls-verification-disabled", "curl with long options",
            added("fetch.sh", ["curl -fsSL --keepalive-time 5 https://example.com"])),
        positive(
            "security.weak-hash", "MD5 of a password",
            added("auth.py", ["digest = hashlib.md5(password.encode()).hexdigest()"])),
        positive(
            "security.weak-hash", "SHA-1 of a token",
            added("auth.js", ["const h = crypto.createHash('sha1').update(token).digest('hex');"])),
        negative(
            "security.weak-hash", "MD5 cache key", added("cache.py", ["cache_id = hashlib.md5(data).hexdigest()"])),
        negative(
            "security.weak-hash", "usedforsecurity=False",
            added("auth.py", ["digest = hashlib.md5(password, usedforsecurity=False)"])),
        negative("security.weak-hash", "HMAC-SHA1", added("auth.py", ["sig = hmac.new(secret, msg, hashlib.sha1)"])),
        positive("security.weak-cipher", "DES in Python", added("crypto.py", ["cipher = DES.new(key, DES.MODE_ECB)"])),
        positive(
            "security.weak-cipher", "AES/ECB in Java",
            added("Crypto.java", ["Cipher c = Cipher.getInstance(\"AES/ECB/PKCS5Padding\");"])),
        positive("security.weak-cipher", "Go DES", added("crypto.go", ["block, err := des.NewCipher(key)"])),
        positive("security.weak-cipher", "OpenSSL DES call", added("src/legacy.c", ["    cipher = EVP_des_cbc();"])),
        negative(
            "security.weak-cipher", "cipher name table in C",
            added("crypto/get_cipher.cc", ["    {NID_des_cbc, \"des-cbc\", EVP_des_cbc},"])),
        negative(
            "security.weak-cipher", "AES-GCM in Java",
            added("Crypto.java", ["Cipher c = Cipher.getInstance(\"AES/GCM/NoPadding\");"])),
        negative(
            "security.weak-cipher", "AES-GCM in Python", added("crypto.py", ["cipher = AES.new(key, AES.MODE_GCM)"])),
        positive(
            "security.unsafe-deserialization", "pickle.loads", added("api.py", ["obj = pickle.loads(request.data)"])),
        positive("security.unsafe-deserialization", "yaml.load", added("conf.py", ["cfg = yaml.load(f)"])),
        positive(
            "security.unsafe-deserialization", "ObjectInputStream",
            added("Server.java", ["ObjectInputStream in = new ObjectInputStream(socket.getInputStream());"])),
        positive(
            "security.unsafe-deserialization", "Marshal.load", added("lib/cache.rb", ["obj = Marshal.load(data)"])),
        positive("security.unsafe-deserialization", "torch.load", added("model.py", ["state = torch.load(path)"])),
        negative("security.unsafe-deserialization", "yaml.safe_load", added("conf.py", ["cfg = yaml.safe_load(f)"])),
        negative(
            "security.unsafe-deserialization", "SafeLoader",
            added("conf.py", ["cfg = yaml.load(f, Loader=yaml.SafeLoader)"])),
        negative("security.unsafe-deserialization", "json.loads", added("conf.py", ["cfg = json.loads(s)"])),
        negative(
            "security.unsafe-deserialization", "torch.load weights_only",
            added("model.py", ["state = torch.load(path, weights_only=True)"])),
        negative(
            "security.unsafe-deserialization", "Ruby YAML.load (safe since Psych 4)",
            added("lib/conf.rb", ["cfg = YAML.load(data)"])),
        positive(
            "security.insecure-randomness", "Math.random token",
            added("src/auth.js", ["const token = Math.random().toString(36).slice(2);"])),
        positive(
            "security.insecure-randomness", "random reset code",
            added("auth.py", ["reset_code = random.randint(100000, 999999)"])),
        positive(
            "security.insecure-randomness", "math/rand session id", added("session.go", ["sessionID := rand.Int63()"])),
        negative(
            "security.insecure-randomness", "secrets module", added("auth.py", ["reset_code = secrets.token_hex(16)"])),
        negative(
            "security.insecure-randomness", "random layout", added("src/ui.js", ["const x = Math.random() * width;"])),
        negative("security.insecure-randomness", "random colour", added("ui.py", ["c = random.choice(colors)"])),
        positive("security.xss", "innerHTML from a variable", added("src/ui.js", ["el.innerHTML = userInput;"])),
        positive("security.xss", "innerHTML template", added("src/ui.js", ["el.innerHTML = `<b>${name}</b>`;"])),
        positive(
            "security.xss", "dangerouslySetInnerHTML",
            added("src/Comment.jsx", ["  return <div dangerouslySetInnerHTML={{ __html: html }} />;"])),
        positive("security.xss", "mark_safe", added("app/views.py", ["    body = mark_safe(comment.body)"])),
        positive("security.xss", "Jinja |safe", added("templates/comment.html", ["<p>{{ comment.body|safe }}</p>"])),
        positive("security.xss", "html_safe", added("app/helpers/x.rb", ["  @comment.body.html_safe"])),
        negative("security.xss", "textContent", added("src/ui.js", ["el.textContent = userInput;"])),
        negative("security.xss", "clearing innerHTML", added("src/ui.js", ["el.innerHTML = \"\";"])),
        negative("security.xss", "sanitised", added("src/ui.js", ["el.innerHTML = DOMPurify.sanitize(html);"])),
        negative("security.xss", "constant mark_safe", added("app/views.py", ["    br = mark_safe(\"<br>\")"])),
        positive("security.redos", "Python nested plus", added("check.py", ["PATTERN = re.compile(r\"(a+)+$\")"])),
        positive("security.redos", "JavaScript literal", added("src/check.js", ["const re = /^(\\w+\\s?)*$/;"])),
        positive("security.redos", "Java Pattern", added("Check.java", ["Pattern p = Pattern.compile(\"(x+x+)+y\");"])),
        positive("security.redos", "overlapping alternation", added("check.py", ["m = re.match(\"(a|a)*b\", s)"])),
        negative("security.redos", "simple class", added("check.py", ["PATTERN = re.compile(r\"^[a-z]+$\")"])),
        negative("security.redos", "Go RE2 is linear", added("check.go", ["var re = regexp.MustCompile(\"(a+)+\")"])),
        negative(
            "security.redos", "quantified group without inner quantifier",
            added("src/check.js", ["const re = /(ab)+c/;"])),
        negative("security.redos", "two groups", added("check.py", ["RANGE = re.compile(r\"(\\d+)-(\\d+)\")"])),
        positive(
            "security.prototype-pollution", "recursive merge without a guard",
            added(
                "src/merge.js",
                [
                    "function merge(target, source) {", "  for (const key in source) {",
                    "    target[key] = source[key];", "  }", "}",
                ])),
        positive(
            "security.prototype-pollution", "nested computed assignment",
            added("src/set.js", ["Object.keys(input).forEach((a) => {", "  obj[a][input[a].k] = input[a].v;", "});"])),
        positive(
            "security.prototype-pollution", "lodash merge of the body",
            added("src/api.js", ["_.merge(config, req.body);"])),
        positive(
            "security.prototype-pollution", "__proto__ write", added("src/x.js", ["obj.__proto__.isAdmin = true;"])),
        negative(
            "security.prototype-pollution", "guarded merge",
            added(
                "src/merge.js",
                [
                    "function merge(target, source) {", "  for (const key in source) {",
                    "    if (key === '__proto__' || key === 'constructor') continue;",
                    "    target[key] = source[key];", "  }", "}",
                ])),
        negative(
            "security.prototype-pollution", "Map",
            added("src/merge.js", ["for (const key in source) {", "  map.set(key, source[key]);", "}"])),
        negative("security.prototype-pollution", "literal key", added("src/merge.js", ["result[\"name\"] = value;"])),
    ]

    static let scale: [RuleCase] = [
        positive(
            "scale.query-in-loop", "Django filter per user",
            added("app/report.py", ["for u in users:", "    orders = Order.objects.filter(user=u)"])),
        positive(
            "scale.query-in-loop", "await db.query in for…of",
            added(
                "src/report.ts",
                [
                    "for (const id of ids) {",
                    "  const row = await db.query(\"SELECT name FROM t WHERE id = $1\", [id]);", "}",
                ])),
        positive(
            "scale.query-in-loop", "Go QueryRow in range",
            added(
                "report.go",
                ["for _, id := range ids {", "\trow := db.QueryRow(\"SELECT name FROM t WHERE id = $1\", id)", "}"])),
        positive(
            "scale.query-in-loop", "Rails find_by in each",
            added("app/x.rb", ["users.each do |u|", "  Order.find_by(user_id: u.id)", "end"])),
        negative(
            "scale.query-in-loop", "one query",
            added("app/report.py", ["orders = Order.objects.filter(user__in=users)"])),
        negative(
            "scale.query-in-loop", "loop without queries",
            added("app/report.py", ["for u in users:", "    names.append(u.name)"])),
        negative(
            "scale.query-in-loop", "executor, not a database",
            added("src/Run.java", ["for (Task t : tasks) {", "    executor.execute(t);", "}"])),
        positive(
            "scale.await-in-loop", "fetch per URL",
            added("src/crawl.js", ["for (const url of urls) {", "  const r = await fetch(url);", "}"])),
        positive(
            "scale.await-in-loop", "Python post per item",
            added("app/sync.py", ["for item in items:", "    await client.post(item)"])),
        negative(
            "scale.await-in-loop", "for await",
            added("src/crawl.js", ["for await (const chunk of stream) {", "  await write(chunk);", "}"])),
        negative(
            "scale.await-in-loop", "Promise.all",
            added("src/crawl.js", ["const pages = await Promise.all(urls.map(async (u) => fetch(u)));"])),
        negative(
            "scale.await-in-loop", "Swift (sequential awaits are idiomatic)",
            added("Sources/App/Keys.swift", ["for key in keys {", "    try await verifier.check(key)", "}"])),
        negative(
            "scale.await-in-loop", "benchmark code",
            added("benchmarks/crawl.js", ["for (const url of urls) {", "  const r = await fetch(url);", "}"])),
        negative("scale.await-in-loop", "outside a loop", added("src/crawl.js", ["const r = await fetch(url);"])),
        positive(
            "scale.unbounded-query", "SELECT without WHERE or LIMIT",
            added("app/db.py", ["cursor.execute(\"SELECT id, name FROM users\")"])),
        positive(
            "scale.unbounded-query", ".objects.all() in a view",
            added("app/views.py", ["def index(request):", "    users = User.objects.all()"])),
        negative(
            "scale.unbounded-query", "filtered",
            added("app/db.py", ["cursor.execute(\"SELECT id FROM users WHERE id = %s\", (uid,))"])),
        negative(
            "scale.unbounded-query", "count", added("app/db.py", ["cursor.execute(\"SELECT count(*) FROM users\")"])),
        negative(
            "scale.unbounded-query", "sliced",
            added("app/views.py", ["def index(request):", "    users = User.objects.all()[:50]"])),
        negative(
            "scale.unbounded-query", "not on a request path",
            added("app/jobs/export.py", ["users = User.objects.all()"])),
        positive(
            "scale.select-star", "SELECT * in code", added("app/db.py", ["q = \"SELECT * FROM users WHERE id = %s\""])),
        positive(
            "scale.select-star", "SELECT * in SQL",
            added("queries/report.sql", ["SELECT * FROM orders WHERE total > 100;"])),
        negative("scale.select-star", "count(*)", added("app/db.py", ["q = \"SELECT count(*) FROM users\""])),
        negative(
            "scale.select-star", "named columns",
            added("app/db.py", ["q = \"SELECT id, name FROM users WHERE id = %s\""])),
        positive(
            "scale.sleep-in-loop", "polling loop",
            added("app/worker.py", ["while True:", "    poll()", "    time.sleep(5)"])),
        positive(
            "scale.sleep-in-loop", "Go for with Sleep",
            added("poll.go", ["for {", "\tcheck()", "\ttime.Sleep(time.Second)", "}"])),
        negative(
            "scale.sleep-in-loop", "exponential backoff",
            added(
                "app/worker.py",
                ["for attempt in range(5):", "    if try_once():", "        break", "    time.sleep(2 ** attempt)"])),
        negative("scale.sleep-in-loop", "single sleep", added("app/worker.py", ["time.sleep(1)"])),
        positive(
            "scale.nested-loop", "Python nested loops",
            added(
                "app/match.py",
                [
                    "for a in orders:", "    for b in customers:", "        if a.cid == b.id:",
                    "            pairs.append((a, b))",
                ])),
        positive(
            "scale.nested-loop", "JavaScript nested for…of",
            added("src/match.js", ["for (const a of xs) {", "  for (const b of ys) {", "    f(a, b);", "  }", "}"])),
        negative(
            "scale.nested-loop", "inner loop over a small range",
            added("app/match.py", ["for a in orders:", "    for i in range(3):", "        retry(a)"])),
        negative(
            "scale.nested-loop", "iterating a part of the outer element",
            added(
                "app/report.py",
                [
                    "for customer, orders in orders_by_customer.items():", "    for order in orders:",
                    "        total += order.amount",
                ])),
        negative(
            "scale.nested-loop", "C index loops",
            added(
                "src/matrix.c",
                ["for (i = 0; i < n; i++) {", "    for (j = 0; j < m; j++) {", "        c[i][j] = 0;", "    }", "}"])),
        negative("scale.nested-loop", "single loop", added("app/match.py", ["for a in orders:", "    ship(a)"])),
        positive(
            "scale.unpaginated-list-endpoint", "FastAPI list",
            added("app/api.py", ["@app.get(\"/users\")", "def list_users():", "    return db.query(User).all()"])),
        positive(
            "scale.unpaginated-list-endpoint", "Express list",
            added(
                "src/routes.js",
                [
                    "app.get('/orders', async (req, res) => {", "  const rows = await Order.findAll();",
                    "  res.json(rows);", "});",
                ])),
        negative(
            "scale.unpaginated-list-endpoint", "limit and offset",
            added(
                "app/api.py",
                [
                    "@app.get(\"/users\")", "def list_users(limit: int = 50, offset: int = 0):",
                    "    return db.query(User).limit(limit).offset(offset).all()",
                ])),
        negative(
            "scale.unpaginated-list-endpoint", "single item",
            added(
                "app/api.py",
                ["@app.get(\"/users/{user_id}\")", "def get_user(user_id):", "    return db.query(User).get(user_id)"])),
        negative(
            "scale.unpaginated-list-endpoint", "health check",
            added("app/api.py", ["@app.get(\"/health\")", "def health():", "    return db.query(1)"])),
    ]

    static let migrations: [RuleCase] = [
        positive(
            "scale.migration.index-without-concurrently", "plain CREATE INDEX",
            added("db/migrations/0002_index.sql", ["CREATE INDEX idx_users_email ON users (email);"])),
        positive(
            "scale.migration.index-without-concurrently", "Rails add_index",
            added("db/migrate/20240101_add_index.rb", ["    add_index :users, :email"])),
        negative(
            "scale.migration.index-without-concurrently", "CONCURRENTLY",
            added("db/migrations/0002_index.sql", ["CREATE INDEX CONCURRENTLY idx_users_email ON users (email);"])),
        negative(
            "scale.migration.index-without-concurrently", "index on a table created in the same change",
            added(
                "db/migrations/0001_init.sql",
                ["CREATE TABLE widgets (id bigint PRIMARY KEY);", "CREATE INDEX idx_w ON widgets (id);"])),
        positive(
            "scale.migration.not-null-column", "NOT NULL without default",
            added("db/migrations/0003.sql", ["ALTER TABLE users ADD COLUMN age int NOT NULL;"])),
        positive(
            "scale.migration.not-null-column", "volatile default",
            added(
                "db/migrations/0003.sql",
                ["ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();"])),
        positive(
            "scale.migration.not-null-column", "SET NOT NULL",
            added("db/migrations/0003.sql", ["ALTER TABLE users ALTER COLUMN email SET NOT NULL;"])),
        negative(
            "scale.migration.not-null-column", "constant default (PostgreSQL 11+)",
            added("db/migrations/0003.sql", ["ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true;"])),
        negative(
            "scale.migration.not-null-column", "nullable column",
            added("db/migrations/0003.sql", ["ALTER TABLE users ADD COLUMN nickname text;"])),
        positive(
            "scale.migration.column-type-change", "TYPE bigint",
            added("db/migrations/0004.sql", ["ALTER TABLE users ALTER COLUMN id TYPE bigint;"])),
        negative(
            "scale.migration.column-type-change", "SET DEFAULT",
            added("db/migrations/0004.sql", ["ALTER TABLE users ALTER COLUMN name SET DEFAULT 'x';"])),
        positive(
            "scale.migration.drop", "DROP COLUMN",
            added("db/migrations/0005.sql", ["ALTER TABLE users DROP COLUMN legacy;"])),
        positive("scale.migration.drop", "DROP TABLE", added("db/migrations/0005.sql", ["DROP TABLE sessions;"])),
        negative(
            "scale.migration.drop", "DROP CONSTRAINT",
            added("db/migrations/0005.sql", ["ALTER TABLE users DROP CONSTRAINT users_email_key;"])),
        negative(
            "scale.migration.drop", "DROP INDEX", added("db/migrations/0005.sql", ["DROP INDEX CONCURRENTLY idx_old;"])),
        positive(
            "scale.migration.missing-lock-timeout", "ALTER without a timeout",
            added("db/migrations/0006.sql", ["ALTER TABLE users ADD COLUMN nickname text;"])),
        negative(
            "scale.migration.missing-lock-timeout", "lock_timeout set",
            added(
                "db/migrations/0006.sql", ["SET lock_timeout = '5s';", "ALTER TABLE users ADD COLUMN nickname text;"])),
        negative(
            "scale.migration.missing-lock-timeout", "new table only",
            added("db/migrations/0006.sql", ["CREATE TABLE t (id int);"])),
    ]

    static let longPythonFunction = ["def handle(event):"] + (1...90).map { "    step_\($0) = compute(\($0))" }
    static let longGoFunction =
        ["func Handle(e Event) error {"] + (1...85).map { "\tx\($0) := compute(\($0))" } + ["\treturn nil", "}"]

    static let quality: [RuleCase] = [
        positive("quality.debug-print", "Python print", added("src/app/service.py", ["    print(\"debug\", order)"])),
        positive("quality.debug-print", "console.log", added("src/app/service.js", ["  console.log(user);"])),
        positive("quality.debug-print", "Go Println", added("internal/orders/orders.go", ["\tfmt.Println(order)"])),
        positive("quality.debug-print", "System.out", added("src/main/java/App.java", ["    System.out.println(x);"])),
        positive(
            "quality.debug-print", "Swift print in a library",
            added("Sources/Lib/Store.swift", ["        print(value)"])),
        negative("quality.debug-print", "script", added("scripts/tool.py", ["print(\"done\")"])),
        negative("quality.debug-print", "test file", added("tests/test_service.py", ["    print(result)"])),
        negative(
            "quality.debug-print", "logger", added("src/app/service.py", ["    logger.debug(\"order %s\", order)"])),
        negative("quality.debug-print", "console.error", added("src/app/service.js", ["  console.error(err);"])),
        negative(
            "quality.debug-print", "method named print", added("src/app/service.py", ["    self.printer.print(page)"])),
        positive("quality.debugger-statement", "breakpoint()", added("src/app/service.py", ["    breakpoint()"])),
        positive("quality.debugger-statement", "debugger;", added("src/app/service.js", ["  debugger;"])),
        positive("quality.debugger-statement", "binding.pry", added("app/models/user.rb", ["    binding.pry"])),
        negative("quality.debugger-statement", "commented", added("src/app/service.py", ["    # breakpoint()"])),
        negative(
            "quality.debugger-statement", "variable name",
            added("src/app/service.js", ["  const debuggerEnabled = true;"])),
        positive("quality.todo-comment", "TODO", added("src/app/service.py", ["    # TODO: handle errors"])),
        positive(
            "quality.todo-comment", "FIXME", added("src/app/service.js", ["  // FIXME this breaks on empty input"])),
        negative("quality.todo-comment", "identifier", added("src/app/service.py", ["todo_list = []"])),
        negative("quality.todo-comment", "string", added("src/app/service.js", ["const title = \"TODO app\";"])),
        positive("quality.long-function", "90-line Python function", added("src/app/handler.py", longPythonFunction)),
        positive("quality.long-function", "88-line Go function", added("internal/h/handler.go", longGoFunction)),
        negative(
            "quality.long-function", "long test function",
            added("tests/test_handler.py", ["def test_handle(event):"] + longPythonFunction.dropFirst())),
        negative(
            "quality.long-function", "short function",
            added("src/app/handler.py", ["def handle(event):", "    return compute(event)"])),
        positive(
            "quality.long-file", "1,200-line module", added("src/app/big.py", (1...1200).map { "x\($0) = \($0)" })),
        negative("quality.long-file", "200-line module", added("src/app/small.py", (1...200).map { "x\($0) = \($0)" })),
        negative(
            "quality.long-file", "long test file", added("tests/test_big.py", (1...1200).map { "x\($0) = \($0)" })),
        positive(
            "quality.commented-out-code", "Python statements",
            added("src/app/calc.py", ["# x = compute(y)", "# return x"])),
        positive(
            "quality.commented-out-code", "JavaScript statements",
            added("src/app/calc.js", ["// const a = foo();", "// bar(a);"])),
        negative(
            "quality.commented-out-code", "prose",
            added("src/app/calc.py", ["# This function computes the total.", "# It returns a float."])),
        negative(
            "quality.commented-out-code", "doc comment",
            added("Sources/Lib/Calc.swift", ["/// Returns the value.", "/// - Parameter x: the input"])),
        negative(
            "quality.commented-out-code", "indented example in a comment",
            added(
                "Sources/Lib/Key.swift",
                [
                    "    // The layout is:", "    //", "    //     struct {", "    //       uint8 x0[Ne];",
                    "    //     } Key;",
                ])),
        negative("quality.commented-out-code", "single line", added("src/app/calc.js", ["// foo();"])),
        positive("quality.empty-catch", "JavaScript catch {}", added("src/app/x.js", ["try { f(); } catch (e) {}"])),
        positive(
            "quality.empty-catch", "except: pass",
            added("src/app/x.py", ["try:", "    f()", "except Exception:", "    pass"])),
        positive(
            "quality.empty-catch", "Java empty catch",
            added("src/X.java", ["    } catch (IOException e) {", "    }"])),
        positive("quality.empty-catch", "Go empty error branch", added("x.go", ["\tif err != nil {", "\t}"])),
        positive("quality.empty-catch", "Ruby empty rescue", added("lib/x.rb", ["  rescue => e", "  end"])),
        negative(
            "quality.empty-catch", "handled",
            added("src/app/x.py", ["try:", "    f()", "except ValueError:", "    logger.warning(\"bad\")"])),
        negative("quality.empty-catch", "logged", added("src/app/x.js", ["try { f(); } catch (e) { log(e); }"])),
        negative(
            "quality.empty-catch", "explained",
            added("src/app/x.js", ["} catch (e) {", "  // best effort: the cache may be gone", "}"])),
        positive(
            "quality.missing-tests", "source only", added("src/app/pricing.py", ["def price(x):", "    return x * 2"])),
        negative(
            "quality.missing-tests", "source and test",
            many { builder in
                builder.newFile("src/app/pricing.py", ["def price(x):", "    return x * 2"])
                builder.newFile("tests/test_pricing.py", ["def test_price():", "    assert price(1) == 2"])
            }),
        negative("quality.missing-tests", "documentation only", added("README.md", ["More words."])),
        positive(
            "quality.long-line", "150 characters",
            added("src/app/x.py", ["value = " + String(repeating: "a + ", count: 36)])),
        negative(
            "quality.long-line", "100 characters",
            added("src/app/x.py", ["value = " + String(repeating: "a + ", count: 23)])),
        negative("quality.long-line", "Markdown", added("README.md", [String(repeating: "word ", count: 40)])),
        negative(
            "quality.long-line", "URL",
            added("src/app/x.py", ["# see https://example.com/" + String(repeating: "a", count: 140)])),
    ]

    static let architecture: [RuleCase] = [
        positive(
            "architecture.new-dependency", "npm dependency",
            modified("package.json", context: ["  \"dependencies\": {"], added: ["    \"left-pad\": \"^1.3.0\","])),
        positive("architecture.new-dependency", "requirements.txt", added("requirements.txt", ["requests==2.31.0"])),
        positive(
            "architecture.new-dependency", "SwiftPM package",
            modified(
                "Package.swift", context: ["    dependencies: ["],
                added: ["        .package(url: \"https://github.com/apple/swift-nio.git\", from: \"2.0.0\"),"])),
        positive(
            "architecture.new-dependency", "go.mod require",
            modified("go.mod", context: ["require ("], added: ["\tgithub.com/pkg/errors v0.9.1"])),
        positive("architecture.new-dependency", "Gemfile", modified("Gemfile", added: ["gem \"rails\", \"~> 7.1\""])),
        positive(
            "architecture.new-dependency", "Cargo.toml",
            modified("Cargo.toml", context: ["[dependencies]"], added: ["serde = \"1\""])),
        negative(
            "architecture.new-dependency", "version bump",
            modified(
                "package.json", context: ["  \"dependencies\": {"], removed: ["    \"left-pad\": \"^1.2.0\","],
                added: ["    \"left-pad\": \"^1.3.0\","])),
        negative(
            "architecture.new-dependency", "package version field",
            modified(
                "package.json", context: ["{"], removed: ["  \"version\": \"1.1.0\","],
                added: ["  \"version\": \"1.2.0\","])),
        negative(
            "architecture.new-dependency", "npm script",
            modified("package.json", context: ["  \"scripts\": {"], added: ["    \"test\": \"jest\","])),
        positive(
            "architecture.manifest-without-lockfile", "package.json alone",
            modified("package.json", context: ["  \"dependencies\": {"], added: ["    \"left-pad\": \"^1.3.0\","])),
        negative(
            "architecture.manifest-without-lockfile", "with package-lock.json",
            many { builder in
                builder.modify(
                    "package.json", context: ["  \"dependencies\": {"], added: ["    \"left-pad\": \"^1.3.0\","])
                builder.modify(
                    "package-lock.json", context: ["  \"packages\": {"], added: ["    \"node_modules/left-pad\": {},"])
            }),
        negative(
            "architecture.manifest-without-lockfile", "requirements.txt pins itself",
            added("requirements.txt", ["requests==2.31.0"])),
        negative(
            "architecture.manifest-without-lockfile", "Package.swift",
            modified(
                "Package.swift", context: ["    dependencies: ["],
                added: ["        .package(url: \"https://github.com/apple/swift-nio.git\", from: \"2.0.0\"),"])),
        RuleCase(
            rule: "architecture.layer-violation", expected: true, name: "domain imports the database",
            diff: added("Sources/Domain/User.swift", ["import PostgresClient"]), configuration: layered),
        RuleCase(
            rule: "architecture.layer-violation", expected: false, name: "domain imports Foundation",
            diff: added("Sources/Domain/User.swift", ["import Foundation"]), configuration: layered),
        RuleCase(
            rule: "architecture.layer-violation", expected: false, name: "another layer may",
            diff: added("Sources/Store/User.swift", ["import PostgresClient"]), configuration: layered),
        positive(
            "architecture.wide-change", "six modules",
            many { builder in
                for name in ["A", "B", "C", "D", "E", "F"] {
                    builder.newFile("Sources/\(name)/File.swift", ["let x = 1"])
                }
            }),
        negative(
            "architecture.wide-change", "three modules",
            many { builder in
                for name in ["A", "B", "C"] { builder.newFile("Sources/\(name)/File.swift", ["let x = 1"]) }
            }),
        positive(
            "architecture.large-change", "1,100 lines", added("src/app/big.py", (1...1100).map { "x\($0) = \($0)" })),
        negative(
            "architecture.large-change", "100 lines", added("src/app/small.py", (1...100).map { "x\($0) = \($0)" })),
        positive(
            "architecture.import-cycle", "A imports B imports A",
            many { builder in
                builder.modify("Sources/A/A.swift", context: ["import Foundation"], added: ["import B"])
                builder.modify("Sources/B/B.swift", context: ["import A"], added: ["let b = 1"])
            }),
        positive(
            "architecture.import-cycle", "Python packages",
            many { builder in
                builder.modify(
                    "app/orders/service.py", context: ["import os"], added: ["from app.billing import invoice"])
                builder.modify("app/billing/invoice.py", context: ["from app.orders import service"], added: ["X = 1"])
            }),
        negative(
            "architecture.import-cycle", "one direction only",
            many { builder in
                builder.modify("Sources/A/A.swift", context: ["import Foundation"], added: ["import B"])
                builder.modify("Sources/B/B.swift", context: ["import Foundation"], added: ["let b = 1"])
            }),
    ]

    static let layered = RepositoryConfiguration(layers: [
        .init(name: "domain", paths: [PathPattern("Sources/Domain/**")], forbiddenImports: ["PostgresClient"])
    ])
}
