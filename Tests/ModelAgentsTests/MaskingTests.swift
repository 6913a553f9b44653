import ReviewAgents
import Testing

/// Credentials of every kind the security agent's scanner knows, placed on added, context and removed lines, in a
/// hunk section, in a test file, and as the body of a private key block.
enum Secrets {
    static let github = "ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC2eF4hJ6"
    static let aws = "AKIAZ7Q3RT5WX2MN8KPL"
    static let stripe = "sk_live_51Hq8ZtLkd93JfWq02PzXcVb7"
    static let urlPassword = "S3cr3tPassw0rd9"
    static let assigned = "q8W2eR4tY6uI8oP0aS2dF4gH"
    static let envValue = "Zx9Cv8Bn7Mm6Lk5Jh4Gf3Dd2"
    static let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudHF1ZXVlIn0.Qm9vbXNoYWthbGFrYTEyMzQ1Njc4OTAxMjM0NQ"
    static let keyBody1 = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"
    static let keyBody2 = "VTLw7onLRnrq0IzW7yWR7QkrmBL7jTKEn5uqKhbwKfBstIsbMY2Zkp18gnTxKxyz"
    static let removedToken = "ghp_Zy8Xw7Vu6Ts5Rq4Po3Nm2Lk1Jh9Gf8Ed7Cb6"
    static let contextToken = "AKIAQ4W7E2R9T5Y8U3I6"
    static let sectionToken = "ghp_Mn3Bv5Cx7Zl9Kj2Hg4Fd6Sa8Qw1Er3Ty5Ui7"
    static let testFileToken = "ghp_Po9Iu8Yt7Re6Wq5As4Df3Gh2Jk1Lz0Xc9Vb8"

    static let all = [
        github, aws, stripe, urlPassword, assigned, envValue, jwt, keyBody1, keyBody2, removedToken, contextToken,
        sectionToken, testFileToken,
    ]

    static let diffText = """
        diff --git a/app/settings.py b/app/settings.py
        index 1111111..2222222 100644
        --- a/app/settings.py
        +++ b/app/settings.py
        @@ -1,5 +1,10 @@ GITHUB = "\(sectionToken)"
         AWS_KEY = "\(contextToken)"
        -OLD_TOKEN = "\(removedToken)"
        +GITHUB_TOKEN = "\(github)"
        +api_key = "\(assigned)"
        +DATABASE_URL = "postgres://app:\(urlPassword)@db.internal:5432/app"
        +aws = {"id": "\(aws)", "stripe": "\(stripe)"}
        +session = "\(jwt)"
        +query = "SELECT * FROM users WHERE id = " + user_id
         DEBUG = False
         TIMEOUT = 30
         RETRIES = 3
        diff --git a/deploy/.env b/deploy/.env
        new file mode 100644
        --- /dev/null
        +++ b/deploy/.env
        @@ -0,0 +1,2 @@
        +SERVICE_SECRET=\(envValue)
        +LOG_LEVEL=info
        diff --git a/deploy/key.pem b/deploy/key.pem
        new file mode 100644
        --- /dev/null
        +++ b/deploy/key.pem
        @@ -0,0 +1,4 @@
        +-----BEGIN RSA PRIVATE KEY-----
        +\(keyBody1)
        +\(keyBody2)
        +-----END RSA PRIVATE KEY-----
        diff --git a/tests/test_api.py b/tests/test_api.py
        new file mode 100644
        --- /dev/null
        +++ b/tests/test_api.py
        @@ -0,0 +1,2 @@
        +TOKEN = "\(testFileToken)"
        +def test_it(): pass

        """

    /// Every line and section text of a diff, joined.
    static func text(of diff: ParsedDiff) -> String {
        diff.files.flatMap { file in
            file.hunks.flatMap { hunk in [hunk.section] + hunk.lines.map(\.text) }
        }.joined(separator: "\n")
    }
}

@Suite("Credential masking")
struct MaskingTests {
    @Test("every credential is masked, on every kind of line")
    func masksEverything() throws {
        let original = try diff(Secrets.diffText)
        let masked = original.maskingCredentials()
        let text = Secrets.text(of: masked.diff)
        for secret in Secrets.all {
            #expect(!text.contains(secret), "\(secret) survived")
            // Not even a large part of it: at most the first characters remain.
            #expect(!text.contains(String(secret.dropFirst(4).prefix(12))), "part of \(secret) survived")
        }
        #expect(masked.maskedLineCount == 12)
    }

    @Test("what is not a credential stays readable")
    func keepsTheRest() throws {
        let masked = try diff(Secrets.diffText).maskingCredentials().diff
        let text = Secrets.text(of: masked)
        for kept in [
            "api_key = ", "DATABASE_URL = ", "SELECT * FROM users WHERE id = \" + user_id", "DEBUG = False",
            "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "LOG_LEVEL=info", "SERVICE_SECRET=",
            "def test_it(): pass", "GITHUB_TOKEN = \"ghp_****\"",
        ] {
            #expect(text.contains(kept), "\(kept) was lost")
        }
        // Structure and line numbers do not change.
        let original = try diff(Secrets.diffText)
        #expect(masked.files.map(\.path) == original.files.map(\.path))
        for (maskedFile, originalFile) in zip(masked.files, original.files) {
            for (maskedHunk, originalHunk) in zip(maskedFile.hunks, originalFile.hunks) {
                #expect(maskedHunk.lines.map(\.newLine) == originalHunk.lines.map(\.newLine))
                #expect(maskedHunk.lines.map(\.kind) == originalHunk.lines.map(\.kind))
            }
        }
    }

    @Test("a diff without credentials is unchanged")
    func unchanged() throws {
        let original = try diff(sampleDiff)
        let masked = original.maskingCredentials()
        #expect(masked.diff == original)
        #expect(masked.maskedLineCount == 0)
    }
}
