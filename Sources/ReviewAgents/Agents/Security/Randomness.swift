// MARK: Randomness (CWE-338)

extension SecurityFileReview {
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
}
