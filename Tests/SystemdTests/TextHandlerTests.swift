import Foundation
import Logging
import Synchronization
import Testing

@testable import Systemd

/// Collects the lines a handler writes.
final class LineCollector: Sendable {
    private let lines = Mutex<[String]>([])

    var output: LogOutput {
        LogOutput { [self] bytes in
            self.lines.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) }
        }
    }

    var all: [String] { lines.withLock { $0 } }
}

@Suite("logfmt")
struct LogfmtTests {
    @Test(
        "values are quoted and escaped only when needed",
        arguments: [
            ("plain", "plain"),
            ("42", "42"),
            ("a.b-c/d:e", "a.b-c/d:e"),
            ("über", "über"),
            ("", "\"\""),
            ("two words", "\"two words\""),
            ("k=v", "\"k=v\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("back\\slash", "\"back\\\\slash\""),
            ("line\nbreak", "\"line\\nbreak\""),
            ("tab\there", "\"tab\\there\""),
            ("cr\r", "\"cr\\r\""),
            ("esc\u{1B}[31m", "\"esc\\u001b[31m\""),
            ("nul\u{0}", "\"nul\\u0000\""),
            ("del\u{7F}", "\"del\\u007f\""),
            ("sep\u{2028}", "\"sep\\u2028\""),
        ]
    )
    func value(raw: String, rendered: String) {
        #expect(Logfmt.value(raw) == rendered)
    }

    @Test(
        "keys never break the line or the key=value shape",
        arguments: [("task.id", "task.id"), ("a b", "a_b"), ("k=v", "k_v"), ("q\"", "q_"), ("n\n", "n_"), ("", "_")]
    )
    func key(raw: String, rendered: String) {
        #expect(Logfmt.key(raw) == rendered)
    }

    @Test("a line has timestamp, level, logger, message, error and sorted, flattened metadata")
    func line() {
        let record = LogRecord(
            timestamp: WallClockTime(seconds: 1_795_311_825, nanoseconds: 123_456_789),
            level: .error,
            label: "queue-worker",
            message: "task failed",
            error: "timeout after 30s",
            metadata: [
                "task.id": "42",
                "pg": ["sqlstate": "57P01"],
                "files": ["a.swift", "b c.swift"],
                "msg": "spoofed",
            ],
            file: "F/f.swift",
            function: "f()",
            line: 1
        )
        let line = String(decoding: Logfmt.render(record), as: UTF8.self)
        #expect(
            line == "ts=2026-11-22T01:43:45.123Z level=error logger=queue-worker msg=\"task failed\" "
                + "error=\"timeout after 30s\" files=\"[a.swift,b c.swift]\" meta.msg=spoofed pg.sqlstate=57P01 "
                + "task.id=42\n"
        )
    }

    @Test(
        "timestamps are RFC 3339 UTC with milliseconds",
        arguments: [
            (0, 0, "1970-01-01T00:00:00.000Z"),
            (951_782_400, 999_999_999, "2000-02-29T00:00:00.999Z"),
            (4_102_444_799, 5_000_000, "2099-12-31T23:59:59.005Z"),
        ])
    func timestamp(seconds: Int, nanoseconds: Int, expected: String) {
        #expect(WallClockTime(seconds: seconds, nanoseconds: nanoseconds).rfc3339 == expected)
    }

    @Test("the handler writes through its output with logger metadata and the call's metadata")
    func handler() throws {
        let collector = LineCollector()
        var logger = Logger(label: "worker") {
            LogfmtLogHandler(label: $0, level: LogLevelSetting(.info), output: collector.output)
        }
        logger[metadataKey: "instance"] = "3"
        logger.info("claimed", metadata: ["task.id": "7"])
        logger.debug("invisible")
        let line = try #require(collector.all.first)
        #expect(collector.all.count == 1)
        #expect(line.hasPrefix("ts="))
        #expect(line.hasSuffix(" level=info logger=worker msg=claimed instance=3 task.id=7\n"))
    }
}

@Suite("JSON lines")
struct JSONLinesTests {
    static func parse(_ line: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(object as? [String: Any])
    }

    @Test(
        "strings are escaped and survive a round trip through a JSON parser",
        arguments: [
            "plain", "", "quote \" and backslash \\", "line\nbreak\r\n", "tab\t", "\u{0}\u{1}\u{1F}\u{7F}",
            "bell\u{07} backspace\u{08} formfeed\u{0C}", "über 🙂 日本", "\u{2028}\u{2029}", "</script>",
        ]
    )
    func roundTrip(text: String) throws {
        let literal = JSONLines.string(text)
        #expect(!literal.contains("\n"))
        let decoded = try JSONSerialization.jsonObject(with: Data("[\(literal)]".utf8)) as? [String]
        #expect(decoded == [text])
    }

    @Test("one object per line, metadata nested as objects and arrays, reserved keys renamed")
    func object() throws {
        let record = LogRecord(
            timestamp: WallClockTime(seconds: 0, nanoseconds: 0),
            level: .warning,
            label: "queue-worker",
            message: "two\nlines",
            error: nil,
            metadata: [
                "task.id": "42",
                "pg": ["sqlstate": "57P01", "codes": ["a", "b"]],
                "level": "spoofed",
                "count": .stringConvertible(3),
            ],
            file: "F/f.swift",
            function: "f()",
            line: 1
        )
        let line = String(decoding: JSONLines.render(record), as: UTF8.self)
        #expect(line.hasSuffix("}\n"))
        #expect(line.dropLast().allSatisfy { $0 != "\n" })
        #expect(
            line == #"{"ts":"1970-01-01T00:00:00.000Z","level":"warning","logger":"queue-worker","msg":"two\nlines","#
                + #""count":"3","meta.level":"spoofed","pg":{"codes":["a","b"],"sqlstate":"57P01"},"task.id":"42"}"#
                + "\n"
        )
        let object = try Self.parse(line)
        #expect(object["msg"] as? String == "two\nlines")
        #expect((object["pg"] as? [String: Any])?["codes"] as? [String] == ["a", "b"])
    }

    @Test("the handler writes through its output, including the call's error")
    func handler() throws {
        struct Failure: Error, CustomStringConvertible {
            var description: String { "connection refused" }
        }
        let collector = LineCollector()
        let handler = JSONLogHandler(label: "db", level: LogLevelSetting(.info), output: collector.output)
        handler.log(
            event: LogEvent(
                level: .error,
                message: "reconnecting",
                error: Failure(),
                metadata: ["attempt": "2"],
                source: nil,
                file: "F/f.swift",
                function: "f()",
                line: 1
            )
        )
        let object = try Self.parse(try #require(collector.all.first))
        #expect(object["level"] as? String == "error")
        #expect(object["logger"] as? String == "db")
        #expect(object["error"] as? String == "connection refused")
        #expect(object["attempt"] as? String == "2")
    }
}

@Suite("Shared log level")
struct LogLevelSettingTests {
    @Test("changing the shared level reaches loggers that already exist, in every format")
    func reload() {
        let setting = LogLevelSetting(.info)
        let collector = LineCollector()
        let factory = LogHandlerFactory(format: .json, level: setting, journalStream: nil, output: collector.output)
        let logfmt = Logger(label: "a") { LogfmtLogHandler(label: $0, level: setting, output: collector.output) }
        let json = Logger(label: "b", factory: factory.makeHandler(label:))
        logfmt.debug("1")
        json.debug("2")
        #expect(collector.all.isEmpty)
        setting.level = .debug
        #expect(logfmt.logLevel == .debug)
        logfmt.debug("3")
        json.debug("4")
        #expect(collector.all.count == 2)
        setting.level = .error
        json.warning("5")
        #expect(collector.all.count == 2)
    }

    @Test("a logger whose level was set keeps it; copies made before are unaffected")
    func override() {
        let setting = LogLevelSetting(.info)
        let original = Logger(label: "a") { LogfmtLogHandler(label: $0, level: setting) }
        var pinned = original
        pinned.logLevel = .trace
        setting.level = .critical
        #expect(pinned.logLevel == .trace)
        #expect(original.logLevel == .critical)
    }

    @Test("every level survives the box", arguments: Logger.Level.allCases)
    func roundTrip(level: Logger.Level) {
        let setting = LogLevelSetting()
        setting.level = level
        #expect(setting.level == level)
    }
}
