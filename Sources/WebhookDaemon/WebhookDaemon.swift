import HTTPTypes
import Hummingbird
import HummingbirdCore
public import Logging
import NIOCore
import NIOExtras
import NIOPosix
import PostgresClient
import ServiceLifecycle
import Systemd
import TaskQueue
import UnixSignals

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// queue-webhook: receives GitHub's deliveries and enqueues reviews, in one `ServiceGroup` that owns SIGTERM and
/// SIGINT. It serves on the socket systemd passes in (`queue-webhook.socket`: a restart drops no connection) or binds
/// `WEBHOOK_LISTEN`; READY=1 once it listens and the database answers at the expected schema, WATCHDOG=1 while the
/// database keeps answering.
public enum WebhookDaemon {
    /// Runs until stopped.
    public static func run(configuration: WebhookConfiguration, logger: Logger) async throws {
        let notifier = SystemdNotifier()
        let pool = PostgresConnectionPool(
            connection: configuration.database,
            pool: .init(maximumConnections: configuration.poolSize, acquireTimeout: .seconds(5)), logger: logger)
        let state = WebhookState()
        let handler = WebhookHandler(configuration: configuration, pool: pool, state: state, logger: logger)
        let router = Router()
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            let snapshot = state.snapshot
            let ready = snapshot.schemaProblem == nil && snapshot.lastDatabaseSuccess != nil
            return Response(
                status: ready ? .ok : .serviceUnavailable,
                body: ResponseBody(
                    byteBuffer: ByteBuffer(
                        string: ready ? "ready\n" : "\(snapshot.schemaProblem ?? "database not reached yet")\n")))
        }
        router.post("webhooks/github") { request, _ in await handler.respond(to: request) }
        router.get("webhooks/github") { _, _ in
            Response(
                status: .methodNotAllowed, headers: [.allow: "POST"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: "GitHub posts deliveries here (POST)\n")))
        }

        let server: any Service
        if let socket = SocketActivation.passedSockets().first(where: {
            SocketActivation.isListeningStream($0.descriptor)
        }) {
            logger.info(
                "serving on the socket systemd passed",
                metadata: ["fd": "\(socket.descriptor)", "name": "\(socket.name)"])
            server = InheritedSocketServer(
                descriptor: socket.descriptor, responder: router.buildResponder(), state: state, logger: logger)
        } else {
            server = Application(
                router: router,
                configuration: .init(address: .hostname(configuration.listenHost, port: configuration.listenPort)),
                onServerRunning: { channel in
                    let address = channel.localAddress.map {
                        "\($0.ipAddress ?? configuration.listenHost):\($0.port ?? 0)"
                    }
                    state.listening(on: address ?? "\(configuration.listenHost):\(configuration.listenPort)")
                    logger.info("listening", metadata: ["address": "\(address ?? "-")"])
                },
                logger: logger)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(
                        service: HealthService(
                            configuration: configuration, pool: pool, state: state, notifier: notifier, logger: logger),
                        successTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: server, successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        await pool.close()
        logger.info("stopped")
    }
}

/// Tells systemd the truth about queue-webhook: READY=1 once it listens and the database answers at the expected
/// schema, STATUS= with what it did, WATCHDOG=1 only while the database answers; STOPPING=1 on shutdown.
struct HealthService: Service {
    let configuration: WebhookConfiguration
    let pool: PostgresConnectionPool
    let state: WebhookState
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        let tick: Duration =
            notifier.watchdogInterval.map { min(Watchdog.petInterval(for: $0), .seconds(2)) } ?? .seconds(2)
        await cancelWhenGracefulShutdown {
            var ready = false
            var reported = ""
            var lastCheck = ContinuousClock.now - .seconds(3600)
            while !Task.isCancelled {
                if ContinuousClock.now - lastCheck >= .seconds(5) || !ready {
                    lastCheck = .now
                    do {
                        let problem = try await pool.withConnection { try await Migrator.schemaProblem(on: $0) }
                        state.schema(problem: problem)
                        state.databaseSucceeded()
                    } catch {
                        state.schema(problem: "waiting for the database: \(configuration.redact("\(error)"))")
                    }
                }
                let snapshot = state.snapshot
                let healthy =
                    snapshot.schemaProblem == nil
                    && snapshot.lastDatabaseSuccess.map { ContinuousClock.now - $0 <= configuration.databaseTolerance }
                        == true
                let status =
                    snapshot.schemaProblem
                    ?? "listening on \(snapshot.address ?? "-") · \(snapshot.accepted) accepted · \(snapshot.rejected) refused"
                if healthy, snapshot.address != nil {
                    if !ready {
                        notifier.ready(status: status)
                        logger.info("ready", metadata: ["address": "\(snapshot.address ?? "-")"])
                        ready = true
                    } else {
                        notifier.status(status)
                    }
                    notifier.watchdog()
                } else {
                    notifier.status(ready ? "unhealthy, not petting the watchdog: \(status)" : status)
                    if status != reported { logger.error("not ready", metadata: ["reason": "\(status)"]) }
                }
                reported = status
                try? await Task.sleep(for: tick)
            }
        }
        notifier.stopping(status: "stopping")
    }
}

/// Serves a responder on a listening socket systemd passed in (fd 3): Hummingbird's `Application` only binds
/// addresses, so NIO adopts the descriptor (`ServerBootstrap.bind(_:)`) and HummingbirdCore's `HTTP1Channel` speaks
/// HTTP/1.1 on each connection. On graceful shutdown it stops accepting, gives connections already accepted a second to
/// send their request, and lets requests in flight finish; the socket itself stays with systemd, which queues new
/// connections until the next start.
struct InheritedSocketServer<Responder: HTTPResponder>: Service
where Responder.Context: InitializableFromSource<ApplicationRequestContextSource> {
    let descriptor: CInt
    let responder: Responder
    let state: WebhookState
    let logger: Logger

    func run() async throws {
        let (responder, logger) = (self.responder, self.logger)
        let http = HTTP1Channel(responder: { request, writer, channel in
            let context = Responder.Context(source: .init(channel: channel, logger: logger))
            let response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch {
                response = Response(status: .internalServerError)
            }
            try await writer.write(response: response.head, body: response.body)
        })
        let quiesce = ServerQuiescingHelper(group: MultiThreadedEventLoopGroup.singleton)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .bind(NIOBSDSocket.Handle(descriptor)) { channel in http.setup(channel: channel, logger: logger) }
        let address = server.channel.localAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "fd \(descriptor)"
        state.listening(on: address)
        logger.info("listening", metadata: ["address": "\(address)"])
        try await withGracefulShutdownHandler {
            try await server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        group.addTask { await http.handle(value: connection, logger: logger) }
                    }
                }
            }
        } onGracefulShutdown: {
            // Stop accepting first: connections that arrive from now on wait in the socket's queue (systemd keeps it)
            // for the next start. Those already accepted may not have sent their request yet, and closing them as
            // idle would lose a delivery (GitHub does not retry one by itself): they get a second to send it, then
            // the connections still idle are closed.
            // (Not by closing the listening channel: connections NIO accepted in the same batch would be reset.)
            let channel = server.channel
            channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in
                channel.eventLoop.scheduleTask(in: .seconds(1)) { quiesce.initiateShutdown(promise: nil) }
            }
        }
    }
}
