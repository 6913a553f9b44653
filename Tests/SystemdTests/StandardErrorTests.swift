import Glibc
import Logging
import Testing

@testable import Systemd

/// The text handlers against the real file descriptor 2 of a child process.
@Suite("Standard error output")
struct StandardErrorTests {
    @Test("lines from many threads arrive whole and unbuffered, even past PIPE_BUF")
    func concurrentLines() async throws {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let setting = LogLevelSetting(.info)
            let padding = String(repeating: "x", count: 6_000)  // larger than PIPE_BUF (4096)
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        let logger = Logger(label: "w\(worker)") { LogfmtLogHandler(label: $0, level: setting) }
                        for index in 0..<50 {
                            logger.info(
                                "line", metadata: ["worker": "\(worker)", "index": "\(index)", "pad": "\(padding)"])
                        }
                    }
                }
            }
            // _exit skips every user-space buffer flush: what the parent reads was written already.
            _exit(0)
        }
        let output = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("ts=") }
        #expect(lines.count == 400)
        let padding = String(repeating: "x", count: 6_000)
        var seen = Set<String>()
        for line in lines {
            // ts=… level=info logger=wN msg=line index=I pad=xxx… worker=N
            let fields = line.split(separator: " ")
            guard fields.count == 7, fields[1] == "level=info", fields[3] == "msg=line", fields[5] == "pad=\(padding)",
                fields[2] == "logger=w" + fields[6].dropFirst("worker=".count)
            else {
                Issue.record("garbled line of \(line.count) characters: \(line.prefix(80))…")
                continue
            }
            seen.insert("\(fields[2]) \(fields[4])")
        }
        #expect(seen.count == 400)
    }

    @Test("JSON lines on standard error parse one by one")
    func jsonOnStandardError() async throws {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let logger = Logger(label: "json") { JSONLogHandler(label: $0, level: LogLevelSetting(.trace)) }
            logger.trace("first", metadata: ["text": "multi\nline \"quoted\""])
            logger.critical("second")
            _exit(0)
        }
        let output = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("{\"ts\":") }
        #expect(lines.count == 2)
        #expect(lines.first?.contains(#""text":"multi\nline \"quoted\"""#) == true)
        #expect(lines.last?.contains(#""level":"critical""#) == true)
    }
}
