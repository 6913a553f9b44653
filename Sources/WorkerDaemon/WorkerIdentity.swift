#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// Who a worker process is: a stable identity (host and instance) plus a per-boot id.
///
/// The id (`host/instance/boot`) names the process in leases and the registry; on start, a worker rescues the
/// tasks that earlier boots of the same identity (`host/instance/`) still held.
public struct WorkerIdentity: Sendable, Hashable {
    /// The host name.
    public let host: String
    /// The instance name (systemd's `%i`).
    public let instance: String
    /// A new id per process start.
    public let bootID: UUID

    /// An identity for this process.
    public init(instance: String, host: String = WorkerIdentity.hostName(), bootID: UUID = UUID()) {
        self.host = host
        self.instance = instance
        self.bootID = bootID
    }

    /// `host/instance/boot`, the lease owner of this process's tasks.
    public var id: String { "\(stablePrefix)\(bootID.uuidString.lowercased())" }

    /// `host/instance/`, shared by every boot of this identity.
    public var stablePrefix: String { "\(host)/\(instance)/" }

    /// This machine's host name.
    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name.replacing("/", with: "_")
    }
}
