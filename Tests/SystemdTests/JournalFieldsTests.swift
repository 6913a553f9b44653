import Logging
import Testing

@testable import Systemd

@Suite("Journal fields")
struct JournalFieldsTests {
    @Test(
        "metadata keys become valid journal field names",
        arguments: [
            ("task.id", "TASK_ID"),
            ("agent", "AGENT"),
            ("pg.sqlstate", "PG_SQLSTATE"),
            ("pg-sqlstate", "PG_SQLSTATE"),
            ("leaseToken", "LEASETOKEN"),
            ("worker.instance_3", "WORKER_INSTANCE_3"),
            ("a b=c", "A_B_C"),
            ("_hidden", "META_HIDDEN"),
            ("__x", "META__X"),
            ("2fa", "META_2FA"),
            ("", "META"),
            ("über", "META_BER"),
            ("ÜBER", "META_BER"),
            ("emoji🙂", "EMOJI_"),
            (String(repeating: "k", count: 80), String(repeating: "K", count: 64)),
            ("9" + String(repeating: "x", count: 70), "META_9" + String(repeating: "X", count: 58)),
        ]
    )
    func fieldName(key: String, expected: String) {
        let name = JournalFieldName.make(key)
        #expect(name == expected)
        #expect(JournalFieldName.isValid(name))
    }

    @Test(
        "the validity check matches journald's rules",
        arguments: [
            ("TASK_ID", true), ("A", true), ("A1_", true), ("_PID", false), ("1A", false), ("", false),
            ("task_id", false), ("TASK-ID", false), ("TASK.ID", false), (String(repeating: "A", count: 64), true),
            (String(repeating: "A", count: 65), false), ("ÄB", false),
        ]
    )
    func validity(name: String, valid: Bool) {
        #expect(JournalFieldName.isValid(name) == valid)
    }

    @Test(
        "swift-log levels map to syslog priorities",
        arguments: [
            (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3),
            (.critical, 2),
        ]
    )
    func priority(level: Logger.Level, expected: Int) {
        #expect(JournalLogHandler.priority(level) == expected)
    }

    static func record(metadata: Logger.Metadata, error: String? = nil) -> LogRecord {
        LogRecord(
            timestamp: WallClockTime(seconds: 0, nanoseconds: 0),
            level: .warning,
            label: "queue-worker.claim",
            message: "lease lost\nstopping task",
            error: error,
            metadata: metadata,
            file: "WorkerDaemon/ClaimLoop.swift",
            function: "run()",
            line: 123
        )
    }

    @Test("an entry carries message, priority, identifier, code location, logger and every metadata value")
    func entryFields() {
        let fields = JournalLogHandler.fields(
            for: Self.record(
                metadata: [
                    "task.id": "42",
                    "agent": "security",
                    "pg": ["sqlstate": "40001", "severity": "ERROR"],
                    "files": ["a.swift", "b.swift"],
                    "message": "spoofed",
                    "priority": "0",
                ],
                error: "PostgresError(sqlstate: 40001)"
            ),
            syslogIdentifier: "queue-worker"
        )
        let pairs = fields.map { "\($0.name)=\($0.value)" }
        #expect(
            pairs == [
                "MESSAGE=lease lost\nstopping task",
                "PRIORITY=4",
                "SYSLOG_IDENTIFIER=queue-worker",
                "CODE_FILE=WorkerDaemon/ClaimLoop.swift",
                "CODE_LINE=123",
                "CODE_FUNC=run()",
                "LOGGER=queue-worker.claim",
                "ERROR=PostgresError(sqlstate: 40001)",
                "AGENT=security",
                "FILES=a.swift",
                "FILES=b.swift",
                "META_MESSAGE=spoofed",
                "PG_SEVERITY=ERROR",
                "PG_SQLSTATE=40001",
                "META_PRIORITY=0",
                "TASK_ID=42",
            ]
        )
        #expect(fields.allSatisfy { JournalFieldName.isValid($0.name) })
    }

    @Test("the handler merges handler metadata, the provider's and the call's, later ones winning")
    func metadataPrecedence() {
        let provider = Logger.MetadataProvider { ["agent": "from-provider", "trace": "t1"] }
        var state = HandlerState(label: "l", levelSetting: LogLevelSetting(), metadataProvider: provider)
        state.metadata = ["agent": "from-handler", "instance": "3", "trace": "t0"]
        let event = LogEvent(
            level: .info,
            message: "m",
            metadata: ["trace": "t2"],
            source: nil,
            file: "F/f.swift",
            function: "f()",
            line: 1
        )
        let record = state.record(for: event)
        #expect(record.metadata == ["agent": "from-provider", "instance": "3", "trace": "t2"])
    }
}
