import PostgresClient
import Testing

@Suite("String.mentions")
struct MentionsTests {
    @Test("finds a substring byte for byte, anywhere, without false positives")
    func mentions() throws {
        #expect("postgresql://u:s3cret@host/db".mentions("s3cret"))
        #expect("s3cret".mentions("s3cret"))
        #expect("xs3cre s3cret".mentions("s3cret"), "a near miss before the match")
        #expect(!"s3cre".mentions("s3cret"))
        #expect(!"S3CRET".mentions("s3cret"))
        #expect("anything".mentions(""))
        #expect(!"".mentions("x"))
        #expect("grüße – ünïcode".mentions("ünï"))
        #expect(!"aaaa".mentions("aab"))
        let configuration = try PostgresConfiguration(connectionString: "postgresql://user:pa55word@127.0.0.1:5432/db")
        #expect(configuration.redact("failed: pa55word rejected") == "failed: *** rejected")
        #expect(configuration.redact("nothing to hide") == "nothing to hide")
        #expect(
            configuration.redact("see postgresql://other:hunter2@db:5432/x") == "see postgresql://other:***@db:5432/x")
    }
}
