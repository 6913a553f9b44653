internal import CSystemd
internal import Glibc

/// Sends state changes to the service manager through `sd_notify(3)`.
///
/// Every method does nothing (and reports `false`) when the process was not started by systemd with
/// `NOTIFY_SOCKET`. The notifier holds no state: libsystemd reads `NOTIFY_SOCKET` and `WATCHDOG_USEC`
/// from the environment on every call, so copies can be shared freely between tasks.
public struct SystemdNotifier: Sendable {
    /// Creates a notifier for the current process.
    public init() {}

    /// Whether the service manager asked for notifications (`NOTIFY_SOCKET` is set and not empty).
    public var isEnabled: Bool {
        guard let socket = getenv("NOTIFY_SOCKET") else { return false }
        return socket.pointee != 0
    }

    /// The watchdog interval systemd expects (`WatchdogSec=`), or `nil` when the watchdog is off
    /// or meant for another process.
    ///
    /// Pet the watchdog at half this interval (``Watchdog/petInterval(for:)``).
    public var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(clamping: microseconds))
    }

    /// Sends a raw notification such as `"READY=1\nSTATUS=idle"`.
    /// - Returns: `true` when the message was delivered to a listening socket.
    @discardableResult
    public func send(_ state: String) -> Bool {
        sd_notify(0, state) > 0
    }

    /// Tells systemd that start-up (or a reload) finished: `READY=1`, with an optional `STATUS=`.
    @discardableResult
    public func ready(status: String? = nil) -> Bool {
        send(Self.message("READY=1", status: status))
    }

    /// Sets the one-line status shown by `systemctl status` (`STATUS=`); newlines become spaces.
    @discardableResult
    public func status(_ text: String) -> Bool {
        send("STATUS=" + Self.singleLine(text))
    }

    /// Pets the watchdog (`WATCHDOG=1`). Call it only while the service is healthy.
    @discardableResult
    public func watchdog() -> Bool {
        send("WATCHDOG=1")
    }

    /// Asks systemd to treat the watchdog as expired now (`WATCHDOG=trigger`), e.g. on a detected deadlock.
    @discardableResult
    public func watchdogTrigger(status: String? = nil) -> Bool {
        send(Self.message("WATCHDOG=trigger", status: status))
    }

    /// Tells systemd that the service is shutting down (`STOPPING=1`), with an optional `STATUS=`.
    @discardableResult
    public func stopping(status: String? = nil) -> Bool {
        send(Self.message("STOPPING=1", status: status))
    }

    /// Tells systemd that a reload started: `RELOADING=1` and `MONOTONIC_USEC=` (`CLOCK_MONOTONIC`).
    ///
    /// Send ``ready(status:)`` once the new configuration is in effect.
    @discardableResult
    public func reloading(status: String? = nil) -> Bool {
        let now = Self.monotonicMicroseconds()
        return send(Self.message("RELOADING=1\nMONOTONIC_USEC=\(now)", status: status))
    }

    /// Asks systemd for more time to start, reload or stop (`EXTEND_TIMEOUT_USEC=`), counted from now.
    ///
    /// Negative durations count as zero. Repeat the call before the extension runs out.
    @discardableResult
    public func extendTimeout(_ duration: Duration, status: String? = nil) -> Bool {
        send(Self.message("EXTEND_TIMEOUT_USEC=\(Self.microseconds(duration))", status: status))
    }

    /// Tells systemd which process is the service's main process (`MAINPID=`).
    @discardableResult
    public func mainPID(_ pid: Int32) -> Bool {
        send("MAINPID=\(pid)")
    }

    // MARK: - Message building (internal for tests)

    static func message(_ assignment: String, status: String?) -> String {
        guard let status else { return assignment }
        return assignment + "\nSTATUS=" + singleLine(status)
    }

    /// A notification is newline-separated, so a value must stay on one line.
    static func singleLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }

    /// Whole microseconds in `duration`, clamped to `0...UInt64.max`.
    static func microseconds(_ duration: Duration) -> UInt64 {
        guard duration > .zero else { return 0 }
        // For a positive duration both components are non-negative.
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000)
        let (total, carry) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000_000))
        return overflow || carry ? .max : total
    }

    /// `CLOCK_MONOTONIC` in microseconds, the clock systemd compares `MONOTONIC_USEC=` with.
    static func monotonicMicroseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1_000
    }
}
