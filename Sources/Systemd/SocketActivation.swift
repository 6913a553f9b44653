internal import CSystemd
internal import Glibc

/// The listening sockets systemd passed to this process (socket activation: a `.socket` unit owns them, so a restart
/// of the service drops no connection).
public enum SocketActivation {
    /// A socket systemd passed in, with the name `FileDescriptorName=` gave it.
    public struct Socket: Sendable, Equatable {
        /// The file descriptor (3, 4, …).
        public let descriptor: Int32
        /// Its name (`FileDescriptorName=`, or the socket unit's name).
        public let name: String
    }

    /// The sockets passed to this process (`sd_listen_fds_with_names`), empty when none were; the `LISTEN_*`
    /// variables are removed from the environment, so that a child process does not take them for its own.
    public static func passedSockets() -> [Socket] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        guard count > 0 else { return [] }
        defer { free(names) }
        return (0..<Int(count)).map { index in
            let name = names?[index].map { String(cString: $0) } ?? "unknown"
            if let pointer = names?[index] { free(pointer) }
            return Socket(descriptor: SD_LISTEN_FDS_START + Int32(index), name: name)
        }
    }

    /// Whether a descriptor is a listening TCP socket (what a `ListenStream=` address gives).
    public static func isListeningStream(_ descriptor: Int32) -> Bool {
        sd_is_socket_inet(descriptor, 0, 1 /* SOCK_STREAM */, 1, 0) > 0
    }
}
