import Glibc
import Logging
import Testing

@testable import Systemd

@Suite("Log format")
struct LogFormatTests {
    /// `JOURNAL_STREAM`'s spelling of the file behind `descriptor`.
    static func identity(of descriptor: Int32) -> String {
        var info = stat()
        fstat(descriptor, &info)
        return "\(info.st_dev):\(info.st_ino)"
    }

    @Test(
        "JOURNAL_STREAM parses as device:inode",
        arguments: [
            ("8:12345", true), ("0:0", true), ("18446744073709551615:1", true), ("", false), ("8", false),
            ("8:", false), (":1", false), ("a:b", false), ("1:2:3", false), ("-1:2", false),
        ])
    func parse(value: String, valid: Bool) {
        #expect((JournalStream.parse(value) != nil) == valid)
    }

    @Test("a descriptor matches only its own device and inode")
    func matching() throws {
        var template = Array("/tmp/journal-stream.XXXXXX".utf8CString)
        let descriptor = mkstemp(&template)
        try #require(descriptor >= 0)
        defer {
            close(descriptor)
            unlink(template)
        }
        let own = Self.identity(of: descriptor)
        #expect(JournalStream.isConnected(descriptor, journalStream: own))
        let parsed = try #require(JournalStream.parse(own))
        #expect(!JournalStream.isConnected(descriptor, journalStream: "\(parsed.device):\(parsed.inode + 1)"))
        #expect(!JournalStream.isConnected(descriptor, journalStream: "\(parsed.device + 1):\(parsed.inode)"))
        #expect(!JournalStream.isConnected(descriptor, journalStream: nil))
        #expect(!JournalStream.isConnected(descriptor, journalStream: "garbage"))
        #expect(!JournalStream.isConnected(-1, journalStream: own))
    }

    @Test("auto picks the journal only when JOURNAL_STREAM names standard error")
    func auto() {
        let stderrIdentity = Self.identity(of: STDERR_FILENO)
        #expect(LogFormat.auto.resolved(journalStream: stderrIdentity) == .journal)
        #expect(LogFormat.auto.resolved(journalStream: nil) == .logfmt)
        #expect(LogFormat.auto.resolved(journalStream: "1:1") == .logfmt)
        #expect(LogFormat.json.resolved(journalStream: stderrIdentity) == .json)
        #expect(LogFormat.journal.resolved(journalStream: nil) == .journal)
        #expect(LogFormat.logfmt.resolved(journalStream: stderrIdentity) == .logfmt)
    }

    @Test("formats are spelled as on the command line")
    func names() {
        #expect(LogFormat.allCases.map(\.description) == ["auto", "journal", "logfmt", "json"])
        #expect(LogFormat(rawValue: "json") == .json)
        #expect(LogFormat(rawValue: "text") == nil)
    }

    @Test("the factory makes handlers of the resolved format and fits LoggingSystem.bootstrap")
    func factory() {
        let setting = LogLevelSetting(.notice)
        let stderrIdentity = Self.identity(of: STDERR_FILENO)
        let journal = LogHandlerFactory(
            format: .auto, level: setting, syslogIdentifier: "qw", journalStream: stderrIdentity)
        #expect(journal.format == .journal)
        #expect(journal.makeHandler(label: "x") is JournalLogHandler)
        let logfmt = LogHandlerFactory(format: .auto, level: setting, journalStream: nil)
        #expect(logfmt.format == .logfmt)
        #expect(logfmt.makeHandler(label: "x") is LogfmtLogHandler)
        let json = LogHandlerFactory(format: .json, level: setting, journalStream: stderrIdentity)
        #expect(json.makeHandler(label: "x", metadataProvider: nil) is JSONLogHandler)
        #expect(json.makeHandler(label: "x").logLevel == .notice)
        // The shapes LoggingSystem.bootstrap takes (bootstrapping itself is once per process: main's job).
        let withProvider: @Sendable (String, Logger.MetadataProvider?) -> any LogHandler =
            json.makeHandler(label:metadataProvider:)
        let plain: @Sendable (String) -> any LogHandler = json.makeHandler(label:)
        #expect(withProvider("y", nil) is JSONLogHandler)
        #expect(plain("y") is JSONLogHandler)
    }

    @Test("the default syslog identifier is the program's name")
    func programName() {
        #expect(!LogHandlerFactory.programName.isEmpty)
        #expect(!LogHandlerFactory.programName.contains("/"))
    }
}
