// MARK: TLS (CWE-295)

extension SecurityFileReview {
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
}
