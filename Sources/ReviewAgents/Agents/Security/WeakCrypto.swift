// MARK: Weak cryptography (CWE-327, CWE-328)

extension SecurityFileReview {
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
}
