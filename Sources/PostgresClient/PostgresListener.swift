public import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A notification received on a LISTEN channel.
public struct PostgresNotification: Sendable, Hashable {
    /// The channel it was sent on.
    public let channel: String
    /// The payload (empty when none was given).
    public let payload: String
    /// The server process that sent it.
    public let backendPID: Int32
    /// When the listener's thread read it off the socket.
    public let receivedAt: ContinuousClock.Instant
}

/// Listens on channels over a dedicated connection and delivers notifications as an `AsyncSequence`.
///
/// The connection's socket is watched with `poll(2)` on the connection's own thread; nothing blocks the cooperative
/// thread pool. When the connection is lost, ``notifications`` finishes by throwing the connection error: callers
/// treat notifications as hints and reconnect (see ``connect(configuration:channels:logger:)``).
public final class PostgresListener: Sendable {
    /// The notifications, in arrival order. Finishes (throwing) when the connection is lost, normally on `close()`.
    public let notifications: AsyncThrowingStream<PostgresNotification, any Error>
    private let connection: PostgresConnection
    private let stopPipe: (read: Int32, write: Int32)
    private let closed = Atomic<Bool>(false)

    private init(
        connection: PostgresConnection,
        stopPipe: (read: Int32, write: Int32),
        notifications: AsyncThrowingStream<PostgresNotification, any Error>
    ) {
        self.connection = connection
        self.stopPipe = stopPipe
        self.notifications = notifications
    }

    /// Connects, issues `LISTEN` for each channel, and starts delivering notifications.
    public static func connect(
        configuration: PostgresConfiguration,
        channels: [String],
        logger: Logger
    ) async throws -> PostgresListener {
        let connection = try await PostgresConnection.connect(configuration: configuration, logger: logger)
        do {
            for channel in channels {
                try await connection.simpleQuery("LISTEN \(PostgresQuery.quoteIdentifier(channel))")
            }
        } catch {
            await connection.close()
            throw error
        }
        var descriptors: [Int32] = [0, 0]
        guard pipe(&descriptors) == 0 else {
            await connection.close()
            throw PostgresError.connectionFailed("cannot create a pipe for the listener (errno \(errno))")
        }
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: PostgresNotification.self,
            bufferingPolicy: .bufferingNewest(10_000)
        )
        let listener = PostgresListener(
            connection: connection,
            stopPipe: (descriptors[0], descriptors[1]),
            notifications: stream
        )
        Task {
            do {
                try await connection.listen(stopDescriptor: descriptors[0]) { notification in
                    continuation.yield(notification)
                }
                continuation.finish()
            } catch {
                logger.debug("listener connection lost", metadata: ["error": "\(error)"])
                continuation.finish(throwing: error)
            }
            Glibc.close(descriptors[0])
            await connection.close()
        }
        continuation.onTermination = { [weak listener] _ in listener?.close() }
        return listener
    }

    /// Stops listening and closes the connection. Safe to call more than once.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
        Glibc.close(stopPipe.write)
    }

    deinit {
        close()
    }
}
