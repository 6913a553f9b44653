import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Stands in for systemd's notification socket: an `AF_UNIX`/`SOCK_DGRAM` socket in a temporary directory whose
/// datagrams a thread of its own receives and timestamps as they arrive.
///
/// Give ``address`` to a child process as `NOTIFY_SOCKET`; read what it sent with ``notifications`` or wait for a
/// message with ``first(after:timeout:where:)``.
public final class NotifyListener: Sendable {
    /// One datagram, split into its `KEY=value` assignments.
    public struct Notification: Sendable, CustomStringConvertible {
        /// Its position among everything received (0, 1, 2, …).
        public let index: Int
        /// When it was received.
        public let received: ContinuousClock.Instant
        /// The datagram as sent, e.g. `"READY=1\nSTATUS=idle"`.
        public let text: String

        /// The value of `key` in this datagram, if it assigns one.
        public subscript(key: String) -> String? {
            for line in text.split(separator: "\n") where line.hasPrefix(key + "=") {
                return String(line.dropFirst(key.count + 1))
            }
            return nil
        }

        /// Whether the datagram assigns `key=value`.
        public func has(_ key: String, _ value: String = "1") -> Bool { self[key] == value }

        public var description: String { "#\(index) \(text.replacing("\n", with: " | "))" }
    }

    /// The value for `NOTIFY_SOCKET`.
    public let address: String
    private let directory: String
    private let receiver: Receiver

    /// Binds the socket and starts receiving.
    public init() throws {
        var template = Array("/tmp/aq-notify.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestDatabaseError("mkdtemp failed: \(errno)") }
        directory = String(cString: made)
        address = directory + "/notify.sock"
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw TestDatabaseError("socket failed: \(errno)") }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        let path = Array(address.utf8)
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { bytes in
            for (index, byte) in path.enumerated() { bytes[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count + 1)
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else {
            let code = errno
            close(descriptor)
            throw TestDatabaseError("bind \(address) failed: \(String(cString: strerror(code)))")
        }
        receiver = Receiver(descriptor: descriptor)
        // A thread of its own, so that arrival times stay accurate while the test's tasks are busy.
        let receiver = self.receiver
        let thread = Thread { receiver.loop() }
        thread.name = "notify-listener"
        thread.start()
    }

    deinit {
        receiver.stop()
        unlink(address)
        rmdir(directory)
    }

    /// Receives datagrams on its own thread until stopped.
    private final class Receiver: Sendable {
        let descriptor: Int32
        let received = Mutex<[Notification]>([])
        private let stopped = Atomic<Bool>(false)
        private let finished = DispatchSemaphore(value: 0)

        init(descriptor: Int32) {
            self.descriptor = descriptor
        }

        func loop() {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            var pollDescriptor = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            while !stopped.load(ordering: .acquiring) {
                guard poll(&pollDescriptor, 1, 50) > 0 else { continue }
                while true {
                    let count = buffer.withUnsafeMutableBytes {
                        recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
                    }
                    guard count >= 0 else { break }
                    let now = ContinuousClock.now
                    let text = String(decoding: buffer[0..<count], as: UTF8.self)
                    received.withLock { $0.append(Notification(index: $0.count, received: now, text: text)) }
                }
            }
            finished.signal()
        }

        func stop() {
            stopped.store(true, ordering: .releasing)
            finished.wait()
            close(descriptor)
        }
    }

    /// Everything received so far, oldest first.
    public var notifications: [Notification] { receiver.received.withLock { $0 } }

    /// Waits until a datagram after position `after` (or any, when nil) satisfies `predicate`; returns it, or nil
    /// when none arrived within `timeout`.
    public func first(
        after: Notification? = nil,
        timeout: Duration = .seconds(30),
        where predicate: (Notification) -> Bool
    ) async -> Notification? {
        let start = after.map { $0.index + 1 } ?? 0
        let deadline = ContinuousClock.now + timeout
        while true {
            let found = receiver.received.withLock { all in all.dropFirst(start).first(where: predicate) }
            if let found { return found }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The datagrams after `after` (exclusive) and before `before` (exclusive; everything when nil).
    public func between(_ after: Notification?, and before: Notification?) -> [Notification] {
        let lower = after.map { $0.index + 1 } ?? 0
        return notifications.filter { $0.index >= lower && (before == nil || $0.index < before!.index) }
    }
}

/// `CLOCK_MONOTONIC` in microseconds, the clock of `MONOTONIC_USEC=`.
public func monotonicMicroseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1_000
}
