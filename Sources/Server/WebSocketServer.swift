import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import ServiceLifecycle
import WSScaleCore
import WSScaleListeners

/// `wsscale server`: WebSocket sessions on `/api/v1/websocket/{userId}` and the REST endpoints
/// on one port, built from SwiftNIO channel handlers so that an idle connection costs a few KiB.
///
/// Each session is recorded in the `HostSessionStore`; commands from the store shed, drain,
/// activate and drop. On graceful shutdown the server stops accepting, answers 503 on
/// `/health`, closes every session with 1001 within the grace period and returns.
///
/// Close codes the server sends:
///
/// | code | reason | when |
/// |---|---|---|
/// | 1013 | `try again later` | the upgrade over `MAX_CONNECTIONS_PER_HOST` (accepted, then closed) |
/// | 4001 | `Server Rebalancing` | a shed command (the N most idle), and a drop (command or REST): the client should reconnect |
/// | 4002 | `replaced by a newer session` | the same user id opened another session on this server: the newest wins (one live session per user per server) |
/// | 1001 | `going away` | graceful shutdown (SIGTERM) |
/// | 1000 (the client's code) | — | the answer to a client's valid close frame (no code when it sent none) |
/// | 1002 | a short reason | a protocol error (RFC 6455): RSV1–3 set, an unmasked frame, a reserved opcode, a control frame fragmented or over 125 bytes, a continuation with nothing to continue, a new message inside a fragmented one, a close frame of one byte, with a code not allowed on the wire (0–999, 1004–1006, 1015–2999, 5000+) or a reason that is not UTF-8 |
/// | 1007 | `invalid UTF-8` | a text message that is not valid UTF-8, at the first frame that shows it |
/// | 1008 | `not reading` | more than one message plus 128 KiB of echoes and pongs still pending: the client does not read (backpressure) |
/// | 1009 | `message too big` | a message over `MAX_MESSAGE_BYTES` (64 KiB by default), all its fragments together |
///
/// After a 1002, 1007 or 1009 (failing the connection) and after answering a client's close,
/// the server closes the TCP connection as soon as its close frame is written; after 1013,
/// 4001 and 1001 it waits up to 3 s for the client's close frame. Messages within the limit
/// are echoed whole, as one frame, however the client fragmented them.
///
/// In front of an app (`ServerConfiguration.appUpstream`, `APP_UPSTREAM_URL`) the sessions are
/// relayed to the app instead of echoed (`AppUpstreamDialer`, `AppRelayHandler`): the app's
/// refusal of an upgrade is the client's answer, every close reaches the other side, and an app
/// connection that ends without a close frame closes the client with 1014 "app connection lost".
///
/// Endpoints: `GET /api/v1/websocket/{userId}` (upgrade; the 101 carries `X-WSScale-Host`),
/// `GET /health` (200 `ok`, 503 `draining` / `shutting down`), `GET /ws-session/all` (the
/// registry's sessions: `userId`, `sessionId`, `hostId`, plus `connectedAt` and `lastActive`),
/// `GET /ws-session/all/runtime` (this host's session ids), `POST /ws-session/{hostId}/drop`
/// (optional body `{"sessionId": "…"}`; this host: 200 or 404, another host: sent through the
/// store, 202 once that host got it, 404 when no live host did), `GET /metrics`.
public final class WebSocketServer: Service, Sendable {
    /// The server's settings.
    public let configuration: ServerConfiguration
    /// Its Prometheus metrics (rendered by `GET /metrics`).
    public let metrics: ServerMetrics

    private let store: any HostSessionStore
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let sessions: LiveSessions
    private let listening: EventLoopPromise<SocketAddress>
    private let notifier = SystemdNotifier()

    /// Creates a server; it listens once `run()` is called.
    /// - Parameters:
    ///   - configuration: identity, address, limits.
    ///   - store: the registry side of this host (Redis, or in-memory).
    ///   - metrics: where to count; a fresh registry by default.
    ///   - eventLoopGroup: the loops that serve connections.
    ///   - logger: where to log.
    public init(configuration: ServerConfiguration, store: any HostSessionStore, metrics: ServerMetrics = ServerMetrics(),
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.metrics = metrics
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.sessions = LiveSessions(hostId: configuration.serverId, maxSessions: configuration.maxConnectionsPerHost,
                                     store: store, metrics: metrics, logger: logger)
        self.listening = eventLoopGroup.any().makePromise(of: SocketAddress.self)
    }

    deinit {
        listening.fail(CancellationError())
    }

    /// The address the server listens on, once it does (useful with port 0).
    public func listeningAddress() async throws -> SocketAddress {
        try await listening.futureResult.get()
    }

    /// Number of live sessions.
    public var liveSessionCount: Int {
        sessions.count
    }

    /// Channels of the live sessions (for tests that look at one connection's buffers).
    var sessionChannels: [Channel] {
        sessions.channels
    }

    /// Listens and serves until graceful shutdown or cancellation, then closes every session.
    public func run() async throws {
        let serverChannel: Channel
        do {
            serverChannel = try await makeBootstrap().bind(host: configuration.host, port: configuration.port).get()
        } catch {
            listening.fail(error)
            throw error
        }
        let address = serverChannel.localAddress!
        listening.succeed(address)
        logger.info("listening", metadata: ["address": "\(address)", "serverId": "\(configuration.serverId)",
                                            "maxConnections": "\(configuration.maxConnectionsPerHost)"])
        notifier.ready()

        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.followCommands() }
            group.addTask { await self.notifier.keepWatchdogFed(logger: self.logger) }
            group.addTask { await self.pingIdleSessions() }
            await withGracefulShutdownHandler {
                await withTaskCancellationHandler {
                    try? await serverChannel.closeFuture.get()
                } onCancel: {
                    serverChannel.close(promise: nil)
                }
            } onGracefulShutdown: {
                serverChannel.close(promise: nil)
            }
            notifier.stopping()
            await closeEverySession()
            group.cancelAll()
        }
        logger.info("stopped", metadata: ["serverId": "\(configuration.serverId)"])
    }

    /// Pings sessions that went quiet and closes those that answer nothing, until cancelled:
    /// every quarter of the ping interval (between 50 ms and 5 s).
    private func pingIdleSessions() async {
        let every = min(max(configuration.pingInterval / 4, .milliseconds(50)), .seconds(5))
        while !Task.isCancelled {
            do { try await Task.sleep(for: every) } catch { return }
            sessions.sweepIdle(pingInterval: configuration.pingInterval, idleTimeout: configuration.idleTimeout)
        }
    }

    /// Acts on the store's commands for this host until cancelled.
    private func followCommands() async {
        for await command in store.commands() {
            logger.info("command", metadata: ["command": "\(command)"])
            switch command {
            case .shed(let count): sessions.shed(count)
            case .drain: sessions.setDraining(true)
            case .activate: sessions.setDraining(false)
            case .drop(let sessionId): _ = sessions.drop(sessionId: sessionId)
            }
        }
    }

    /// Closes every session with 1001, waits for the handshakes for 60 % of the grace period,
    /// then closes what is left without one (20 %); the rest is the store's, to clean up.
    private func closeEverySession() async {
        sessions.closeAllForShutdown()
        let clock = ContinuousClock()
        await waitForNoSessions(until: clock.now + configuration.shutdownGrace * 0.6)
        guard sessions.openConnections > 0 else { return }
        logger.warning("closing sessions without handshake", metadata: ["sessions": "\(sessions.openConnections)"])
        sessions.forceCloseAll()
        await waitForNoSessions(until: clock.now + configuration.shutdownGrace * 0.2)
    }

    private func waitForNoSessions(until deadline: ContinuousClock.Instant) async {
        while sessions.openConnections > 0, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private func makeBootstrap() -> ServerBootstrap {
        let sharedUpgrader = configuration.appUpstream == nil ? makeUpgrader(handshake: nil) : nil
        let endpoints = RESTEndpoints(sessions: sessions, store: store, gate: AdminGate(token: configuration.adminToken))
        let logger = self.logger
        let limits = configuration.httpLimits
        let bound = ConnectionBound(maximum: limits.maxConnections, listener: "server", logger: logger)
        return ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: Int32(HTTPListenerLimits.backlog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator,
                                value: FixedSizeRecvByteBufferAllocator(capacity: configuration.receiveBufferSize))
            .childChannelInitializer { [self] channel in
                // In front of an app, each connection's upgrader keeps what the app answered
                // until the upgrade ends (then it is gone with the HTTP handlers).
                let handshake = sharedUpgrader == nil ? AppHandshake() : nil
                let upgrader = sharedUpgrader ?? makeUpgrader(handshake: handshake)
                let httpHandler = HTTPEndpointHandler(endpoints: endpoints, appHandshake: handshake, logger: logger)
                // Until the upgrade: a whole request within the timeout, and a place on the books.
                let deadline = HTTPRequestDeadlineHandler(timeout: limits.requestTimeout)
                let booking = ConnectionBoundHandler(bound: bound)
                let upgrade: NIOHTTPServerUpgradeConfiguration = (
                    upgraders: [upgrader],
                    completionHandler: { context in
                        let pipeline = context.pipeline.syncOperations
                        pipeline.removeHandler(httpHandler, promise: nil)
                        pipeline.removeHandler(deadline, promise: nil)
                        pipeline.removeHandler(booking, promise: nil)
                    }
                )
                do {
                    try channel.pipeline.syncOperations.addHandler(booking)
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withServerUpgrade: upgrade)
                    try channel.pipeline.syncOperations.addHandlers(deadline, httpHandler)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
    }

    /// Accepts upgrades on `/api/v1/websocket/{valid userId}` (others fall through to the REST
    /// handler, which answers 400 or 404 with a reason) and installs the session handler.
    ///
    /// In front of an app (`handshake` given), the app's WebSocket is opened first: the client's
    /// 101 carries the subprotocol the app chose, and an app that refuses leaves its answer in
    /// `handshake` for the REST handler to pass on. A session the hard limit will refuse (1013)
    /// does not reach the app.
    private func makeUpgrader(handshake: AppHandshake?) -> NIOWebSocketServerUpgrader {
        let hostId = configuration.serverId
        let sessions = self.sessions
        let maxMessageBytes = configuration.maxMessageBytes
        let dialer = configuration.appUpstream.map {
            AppUpstreamDialer(upstream: $0, serverId: hostId, maxFrameSize: max(maxMessageBytes, 125),
                              receiveBufferSize: configuration.receiveBufferSize)
        }
        return NIOWebSocketServerUpgrader(
            // A message may come as one frame: the decoder must take frames up to the message
            // limit (and control frames of 125 bytes). It holds nothing while a connection is idle.
            maxFrameSize: max(configuration.maxMessageBytes, 125),
            automaticErrorHandling: false,  // WebSocketSessionHandler answers protocol errors itself
            shouldUpgrade: { channel, head in
                guard case .webSocket(let userId) = HTTPRoute(method: head.method, uri: head.uri) else {
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
                let headers = HTTPHeaders([("X-WSScale-Host", hostId)])
                guard let dialer, let handshake, sessions.hasRoom(forUser: userId) else {
                    return channel.eventLoop.makeSucceededFuture(headers)
                }
                return dialer.dial(on: channel.eventLoop, userId: userId, request: head,
                                   clientAddress: channel.remoteAddress).map { outcome in
                    handshake.keep(outcome, until: channel)
                    guard case .connected(_, let subprotocol) = outcome, channel.isActive else { return nil }
                    var answer = headers
                    if let subprotocol { answer.add(name: "Sec-WebSocket-Protocol", value: subprotocol) }
                    return answer
                }
            },
            upgradePipelineHandler: { channel, head in
                guard case .webSocket(let userId) = HTTPRoute(method: head.method, uri: head.uri) else {
                    return channel.close()
                }
                let role: WebSocketSessionHandler.Role
                switch sessions.admit(userId: userId, channel: channel) {
                case .admitted(let entry): role = .session(entry)
                case .refused(let code, let reason): role = .refused(code: code, reason: reason)
                }
                do {
                    let app = handshake?.takeRelay()
                    try channel.pipeline.syncOperations.addHandler(WebSocketSessionHandler(sessions: sessions, role: role,
                                                                                 maxMessageBytes: maxMessageBytes,
                                                                                 app: app))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    if case .session(let entry) = role { sessions.closed(entry, cause: .error) }
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        )
    }
}
