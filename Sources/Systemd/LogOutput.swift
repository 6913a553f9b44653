internal import Glibc
internal import Synchronization

/// Where the text handlers write their lines.
///
/// ``standardError`` writes each line with `write(2)` straight to file descriptor 2: no buffering, and a
/// process-wide lock keeps lines from different threads whole.
public struct LogOutput: Sendable {
    private let sink: @Sendable (_ line: [UInt8]) -> Void

    /// Creates an output that hands every complete line (ending in `\n`) to `sink`, e.g. to collect lines in tests.
    public init(_ sink: @escaping @Sendable (_ line: [UInt8]) -> Void) {
        self.sink = sink
    }

    /// Unbuffered, line-atomic writes to standard error.
    public static let standardError = LogOutput.fileDescriptor(STDERR_FILENO)

    /// Unbuffered, line-atomic writes to an open file descriptor the caller keeps open.
    public static func fileDescriptor(_ descriptor: Int32) -> LogOutput {
        LogOutput { line in
            outputLock.withLock { _ in writeAll(line, to: descriptor) }
        }
    }

    /// Writes one line; a missing final newline is added.
    func write(line: [UInt8]) {
        if line.last == UInt8(ascii: "\n") {
            sink(line)
        } else {
            sink(line + [UInt8(ascii: "\n")])
        }
    }
}

/// Serialises writes of whole lines across threads; it guards the descriptors, holds no data.
private let outputLock = Mutex(())

/// Writes all of `bytes`, retrying on `EINTR`, partial writes and `EAGAIN` (a non-blocking descriptor,
/// waiting up to about a second for it). Other errors drop the rest of the line: logging must never
/// take the process down or wedge it.
private func writeAll(_ bytes: [UInt8], to descriptor: Int32) {
    bytes.withUnsafeBytes { buffer in
        guard var next = buffer.baseAddress else { return }
        var remaining = buffer.count
        var waits = 0
        while remaining > 0 {
            let written = Glibc.write(descriptor, next, remaining)
            if written > 0 {
                next += written
                remaining -= written
            } else if written < 0 && errno == EINTR {
                continue
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && waits < 10 {
                waits += 1
                var pending = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                _ = poll(&pending, 1, 100)
            } else {
                return
            }
        }
    }
}
