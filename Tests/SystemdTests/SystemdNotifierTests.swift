import Glibc
import Testing

@testable import Systemd

/// The notifier against real libsystemd and a real datagram socket.
///
/// `sd_notify` reads `NOTIFY_SOCKET` from the process environment, which is shared by every test running in
/// parallel; so each test that needs it sets the variable inside an exit test, a child process of its own.
@Suite("SystemdNotifier")
struct SystemdNotifierTests {
    @Test("each call sends its assignments to NOTIFY_SOCKET", arguments: [false, true])
    func sendsEveryNotification(abstract: Bool) async throws {
        let listener = try DatagramListener(abstract: abstract)
        let address = listener.address
        await #expect(processExitsWith: .success) { [address = address as String] in
            setenv("NOTIFY_SOCKET", address, 1)
            let notifier = SystemdNotifier()
            check(notifier.isEnabled, orExit: 10)
            check(notifier.ready(status: "ready: 0/8 busy"), orExit: 11)
            check(notifier.status("3/8 busy · 1,520 done\nqueue 42"), orExit: 12)
            check(notifier.watchdog(), orExit: 13)
            check(notifier.reloading(), orExit: 14)
            check(notifier.ready(), orExit: 15)
            check(notifier.extendTimeout(.seconds(45)), orExit: 16)
            check(notifier.stopping(status: "draining"), orExit: 17)
            check(notifier.mainPID(4242), orExit: 18)
            check(notifier.watchdogTrigger(), orExit: 19)
            check(notifier.send("ERRNO=5"), orExit: 20)
        }
        let messages = listener.drain()
        #expect(messages.count == 10)
        guard messages.count == 10 else { return }
        #expect(messages[0] == "READY=1\nSTATUS=ready: 0/8 busy")
        #expect(messages[1] == "STATUS=3/8 busy · 1,520 done queue 42")
        #expect(messages[2] == "WATCHDOG=1")
        #expect(messages[3].hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
        #expect(messages[4] == "READY=1")
        #expect(messages[5] == "EXTEND_TIMEOUT_USEC=45000000")
        #expect(messages[6] == "STOPPING=1\nSTATUS=draining")
        #expect(messages[7] == "MAINPID=4242")
        #expect(messages[8] == "WATCHDOG=trigger")
        #expect(messages[9] == "ERRNO=5")
    }

    @Test("RELOADING=1 carries CLOCK_MONOTONIC in microseconds")
    func reloadingCarriesMonotonicTime() async throws {
        let listener = try DatagramListener()
        let address = listener.address
        let before = SystemdNotifier.monotonicMicroseconds()
        await #expect(processExitsWith: .success) { [address = address as String] in
            setenv("NOTIFY_SOCKET", address, 1)
            check(SystemdNotifier().reloading(status: "reloading"), orExit: 10)
        }
        let after = SystemdNotifier.monotonicMicroseconds()
        let lines = try #require(listener.drain().first).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.first == "RELOADING=1")
        #expect(lines.last == "STATUS=reloading")
        let stamp = try #require(lines.first { $0.hasPrefix("MONOTONIC_USEC=") }?.dropFirst("MONOTONIC_USEC=".count))
        let value = try #require(UInt64(stamp))
        #expect((before...after).contains(value))
    }

    @Test("without NOTIFY_SOCKET nothing is sent and every call reports false")
    func disabledWithoutSocket() async {
        await #expect(processExitsWith: .success) {
            unsetenv("NOTIFY_SOCKET")
            let notifier = SystemdNotifier()
            check(!notifier.isEnabled, orExit: 10)
            check(!notifier.ready(), orExit: 11)
            check(!notifier.watchdog(), orExit: 12)
            check(notifier.watchdogInterval == nil, orExit: 13)
            setenv("NOTIFY_SOCKET", "", 1)
            check(!notifier.isEnabled, orExit: 14)
        }
    }

    @Test("a socket nobody listens on is reported as not delivered")
    func undeliverable() async {
        await #expect(processExitsWith: .success) {
            setenv("NOTIFY_SOCKET", "/nonexistent/agentqueue/notify.sock", 1)
            let notifier = SystemdNotifier()
            check(notifier.isEnabled, orExit: 10)
            check(!notifier.ready(), orExit: 11)
        }
    }

    @Test("watchdogInterval follows WATCHDOG_USEC and WATCHDOG_PID")
    func watchdogInterval() async {
        await #expect(processExitsWith: .success) {
            let notifier = SystemdNotifier()
            unsetenv("WATCHDOG_PID")
            unsetenv("WATCHDOG_USEC")
            check(notifier.watchdogInterval == nil, orExit: 10)
            setenv("WATCHDOG_USEC", "400000", 1)
            check(notifier.watchdogInterval == .milliseconds(400), orExit: 11)
            setenv("WATCHDOG_PID", "\(getpid())", 1)
            check(notifier.watchdogInterval == .milliseconds(400), orExit: 12)
            // Meant for another process (e.g. inherited from the parent): not ours to pet.
            setenv("WATCHDOG_PID", "\(getppid())", 1)
            check(notifier.watchdogInterval == nil, orExit: 13)
            unsetenv("WATCHDOG_PID")
            setenv("WATCHDOG_USEC", "0", 1)
            check(notifier.watchdogInterval == nil, orExit: 14)
            setenv("WATCHDOG_USEC", "bogus", 1)
            check(notifier.watchdogInterval == nil, orExit: 15)
        }
    }

    @Test(
        "EXTEND_TIMEOUT_USEC counts whole microseconds, never negative",
        arguments: [
            (Duration.seconds(45), UInt64(45_000_000)),
            (.milliseconds(1_500), 1_500_000),
            (.nanoseconds(1_999), 1),
            (.zero, 0),
            (.seconds(-3), 0),
            (.milliseconds(-1), 0),
            (.seconds(Int64.max), UInt64.max),
        ]
    )
    func microseconds(duration: Duration, expected: UInt64) {
        #expect(SystemdNotifier.microseconds(duration) == expected)
    }

    @Test("a status stays on one line")
    func statusIsOneLine() {
        #expect(SystemdNotifier.message("STOPPING=1", status: "a\nb\r\nc") == "STOPPING=1\nSTATUS=a b c")
        #expect(SystemdNotifier.message("READY=1", status: nil) == "READY=1")
    }
}
