import Glibc

/// A stand-in for systemd's notification socket: an `AF_UNIX`/`SOCK_DGRAM` socket bound to a path or an
/// abstract name, read without blocking.
final class DatagramListener {
    /// The value to put in `NOTIFY_SOCKET`: the path, or `@name` for an abstract socket.
    let address: String
    private let descriptor: Int32
    private let directory: String?

    /// Binds a socket in a new temporary directory, or under a random abstract name.
    init(abstract: Bool = false) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw ListenerError(step: "socket", code: errno) }
        if abstract {
            directory = nil
            address = "@agentqueue-test-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        } else {
            var template = Array("/tmp/notify-test.XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw ListenerError(step: "mkdtemp", code: errno) }
            directory = String(cString: made)
            address = directory! + "/notify.sock"
        }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        // An abstract name starts with a NUL byte where the "@" is; its length is given exactly, no NUL after.
        let nameBytes = Array(address.utf8)
        let pathCapacity = MemoryLayout.size(ofValue: socketAddress.sun_path)
        guard nameBytes.count < pathCapacity else { throw ListenerError(step: "address too long", code: 0) }
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { path in
            for (index, byte) in nameBytes.enumerated() {
                path[index] = abstract && index == 0 ? 0 : byte
            }
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        let length = socklen_t(pathOffset + nameBytes.count + (abstract ? 0 : 1))
        let result = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard result == 0 else {
            let code = errno
            close(descriptor)
            throw ListenerError(step: "bind", code: code)
        }
    }

    deinit {
        close(descriptor)
        if let directory {
            unlink(address)
            rmdir(directory)
        }
    }

    /// Every datagram queued so far, oldest first, as text.
    func drain() -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes {
                recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
            }
            guard count >= 0 else { break }
            messages.append(String(decoding: buffer[0..<count], as: UTF8.self))
        }
        return messages
    }
}

struct ListenerError: Error, CustomStringConvertible {
    var step: String
    var code: Int32
    var description: String { "\(step) failed: \(String(cString: strerror(code)))" }
}

/// Exits the (exit-test child) process with `code` unless `condition` holds, so the parent sees which check failed.
func check(_ condition: Bool, orExit code: Int32) {
    if !condition { exit(code) }
}
