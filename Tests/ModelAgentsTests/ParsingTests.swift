import Foundation
import ReviewAgents
import Testing

@testable import ModelAgents

@Suite("Model response parsing")
struct ParsingTests {
    static let finding =
        #"{"rule_id": "sql-injection", "severity": "high", "path": "app/db.py", "line": 12, "message": "m"}"#

    @Test(
        "findings JSON is found wherever the model put it",
        arguments: [
            #"{"findings": [\#(finding)]}"#,
            "```json\n{\"findings\": [\(finding)]}\n```",
            "Here is my review.\n```\n{\"findings\": [\(finding)]}\n```\nHope it helps.",
            "Sure! {\"findings\": [\(finding)]} That is all.",
            "<think>The user wants {json}. Let me look at line 12 [...]</think>\n{\"findings\": [\(finding)]}",
            "[\(finding)]",
            finding,
        ])
    func extraction(content: String) throws {
        let candidates = try #require(FindingExtraction.candidates(in: content))
        #expect(candidates.count == 1)
        guard case .object(let object) = candidates[0], case .string(let rule)? = object["rule_id"] else {
            Issue.record("not an object: \(candidates[0])")
            return
        }
        #expect(rule == "sql-injection")
    }

    @Test("an empty list is a valid answer, not a malformed one")
    func emptyList() throws {
        #expect(try #require(FindingExtraction.candidates(in: #"{"findings": []}"#)).isEmpty)
    }

    @Test(
        "content without findings JSON is malformed",
        arguments: [
            "I could not find any problems.", "", "{\"summary\": \"fine\"}", "{\"findings\": \"none\"}",
            "<think>{\"findings\": []}", "{\"findings\": [", "[1, 2, 3]",
        ])
    func malformed(content: String) {
        #expect(FindingExtraction.candidates(in: content) == nil)
    }

    @Test("a response cut off mid-list keeps its complete findings")
    func truncated() throws {
        let content = #"{"findings": [\#(Self.finding), {"rule_id": "n-plus-one", "severity": "med"#
        let candidates = try #require(FindingExtraction.candidates(in: content))
        #expect(candidates.count == 1)
    }

    static let lines = AddedLineIndex(try! diff(sampleDiff), configuration: .default)
    static let validator = FindingValidator(lines: lines, chunkLines: ["app/db.py": [11, 12, 13, 14, 15]])

    static func object(_ changes: [String: JSONValue?]) -> JSONValue {
        var object: [String: JSONValue] = [
            "rule_id": .string("sql-injection"), "severity": .string("high"), "path": .string("app/db.py"),
            "line": .number(12), "message": .string("User input reaches SQL."), "suggestion": .string("Bind it."),
        ]
        for (key, value) in changes { object[key] = value }
        return .object(object)
    }

    @Test("a complete finding passes and is normalised")
    func valid() throws {
        let valid = try #require(Self.validator.validate(Self.object([:])))
        #expect(
            valid
                == ValidatedFinding(
                    slug: "sql-injection", severity: .high, path: "app/db.py", line: 12,
                    message: "User input reaches SQL.",
                    suggestion: "Bind it."))
        let loose = try #require(
            Self.validator.validate(
                Self.object([
                    "rule_id": .string("LLM.Security.SQL_Injection risk"), "severity": .string("HIGH"),
                    "path": .string("./app/db.py"), "line": .null, "suggestion": nil,
                ])))
        #expect(loose.slug == "sql-injection-risk")
        #expect(loose.severity == .high)
        #expect(loose.path == "app/db.py")
        #expect(loose.line == nil)
        #expect(loose.suggestion == nil)
    }

    @Test(
        "findings that break the schema are rejected",
        arguments: [
            ("rule_id", nil), ("rule_id", .string("!!!")), ("rule_id", .number(3)),
            ("severity", nil), ("severity", .string("warning")), ("severity", .number(1)),
            ("path", nil), ("path", .string("app/other.py")), ("path", .string("README")),
            ("line", .number(10)),  // a context line, not an added one
            ("line", .number(16)), ("line", .number(999)), ("line", .number(12.5)), ("line", .number(-1)),
            ("line", .string("12")), ("line", .bool(true)),
            ("message", nil), ("message", .string("   ")), ("message", .array([])),
            ("suggestion", .number(1)), ("suggestion", .object([:])),
        ] as [(String, JSONValue?)])
    func invalid(key: String, value: JSONValue?) {
        var object: [String: JSONValue] = [:]
        if case .object(let base) = Self.object([:]) { object = base }
        object[key] = value
        #expect(Self.validator.validate(.object(object)) == nil)
    }

    @Test("a line the chunk did not show cannot be cited, even if the file adds it")
    func lineOutsideChunk() {
        let narrow = FindingValidator(lines: Self.lines, chunkLines: ["app/db.py": [11]])
        #expect(narrow.validate(Self.object([:])) == nil)
        #expect(narrow.validate(Self.object(["line": .number(11)])) != nil)
        #expect(narrow.validate(Self.object(["line": .null, "path": .string("README.md")])) != nil)
    }

    @Test("non-objects are rejected")
    func nonObjects() {
        for value: JSONValue in [.null, .string("x"), .number(1), .array([])] {
            #expect(Self.validator.validate(value) == nil)
        }
    }

    @Test("long messages are cut and control characters removed")
    func cleaning() throws {
        let valid = try #require(
            Self.validator.validate(
                Self.object(["message": .string("a\u{7}b\n" + String(repeating: "x", count: 5000))])))
        #expect(valid.message.count == FindingValidator.maximumMessageLength)
        #expect(valid.message.hasPrefix("a b x"))
    }

    @Test("identical added lines get increasing occurrences, like the rules' fingerprints")
    func occurrences() throws {
        let file = try #require(Self.lines.files["app/db.py"])
        #expect(file[13]?.occurrence == 0)
        #expect(file[15]?.occurrence == 1)
        #expect(file[13]?.text == "    for order in orders:")
    }
}

@Suite("Retry-After")
struct RetryAfterTests {
    // Sun, 06 Nov 1994 08:49:37 GMT
    static let date = 784_111_777.0

    @Test("delay-seconds")
    func seconds() {
        #expect(RetryAfter.parse("3", now: 0) == .seconds(3))
        #expect(RetryAfter.parse(" 0 ", now: 0) == .zero)
        #expect(RetryAfter.parse("1.5", now: 0) == .milliseconds(1500))
        #expect(RetryAfter.parse("-4", now: 0) == nil)
        #expect(RetryAfter.parse("soon", now: 0) == nil)
    }

    @Test(
        "the three HTTP-date forms",
        arguments: [
            "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
        ])
    func httpDate(text: String) {
        #expect(RetryAfter.httpDate(text) == Self.date)
        #expect(RetryAfter.parse(text, now: Self.date - 7) == .seconds(7))
        #expect(RetryAfter.parse(text, now: Self.date + 100) == .zero)
    }

    @Test("invalid dates are ignored")
    func invalidDates() {
        #expect(RetryAfter.httpDate("Sun, 06 Nov 1994 08:49:37 CET") == nil)
        #expect(RetryAfter.httpDate("Sun, 32 Nov 1994 08:49:37 GMT") == nil)
        #expect(RetryAfter.httpDate("Sun, 06 Foo 1994 08:49:37 GMT") == nil)
        #expect(RetryAfter.httpDate("tomorrow") == nil)
    }

    @Test("dates agree with Foundation")
    func matchesFoundation() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        for offset in stride(from: 0.0, to: 4_000_000_000, by: 86_400 * 37 + 3_671) {
            let text = formatter.string(from: Date(timeIntervalSince1970: offset))
            #expect(RetryAfter.httpDate(text) == offset, "\(text)")
        }
    }

    @Test("retry-after-ms wins over Retry-After")
    func milliseconds() {
        let headers = ["retry-after-ms": "250", "retry-after": "9"]
        #expect(RetryAfter.delay(header: { headers[$0] }, now: 0) == .milliseconds(250))
        #expect(RetryAfter.delay(header: { ["retry-after": "9"][$0] }, now: 0) == .seconds(9))
        #expect(RetryAfter.delay(header: { _ in nil }, now: 0) == nil)
    }
}
