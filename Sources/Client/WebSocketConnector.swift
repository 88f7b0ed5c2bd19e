import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// Opens simulated users' WebSocket connections: TCP connect, HTTP/1.1 upgrade to
/// `/api/v1/websocket/{userId}` with SwiftNIO's `NIOTypedWebSocketClientUpgrader`, then a
/// small ``WebSocketUserHandler`` on the upgraded channel (no async channel, no task per
/// connection, so thousands of idle users stay cheap).
public struct WebSocketConnector: Sendable {
    /// The header in the 101 answer that names the server's host id.
    public static let hostHeader = "X-WSScale-Host"

    /// Where users connect.
    public let target: WebSocketTarget
    /// Time allowed for the TCP connect plus the upgrade.
    public let timeout: Duration
    /// When a connection pings a silent server and gives it up.
    public let liveness: ConnectionLiveness?
    private let group: any EventLoopGroup
    private let logger: Logger
    /// The target's address when its host is an IP literal. NIO resolves a host name with
    /// `getaddrinfo` on one serial queue per event loop for every connect; a burst of thousands
    /// of users to `127.0.0.1` would wait in that queue for a lookup that needs no lookup. A
    /// name (`haproxy` on a compose network) is still resolved at each connect, so it follows
    /// the name when its address changes.
    private let literalAddress: SocketAddress?

    /// Creates a connector.
    /// - Parameters:
    ///   - target: the proxy (or server) users connect to.
    ///   - timeout: time allowed for the TCP connect plus the upgrade.
    ///   - liveness: when a connection pings a silent server and gives it up; `nil` for never.
    ///   - group: the event loops connections run on.
    ///   - logger: where connection problems are logged (at debug level).
    public init(target: WebSocketTarget, timeout: Duration = .seconds(5), liveness: ConnectionLiveness? = nil,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.target = target
        self.timeout = timeout
        self.liveness = liveness
        self.group = group
        self.logger = logger
        self.literalAddress = try? SocketAddress(ipAddress: target.host, port: target.port)
    }

    /// Why a connection could not be opened.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// How the attempt ended (``ConnectionEnd/connectFailed(_:)`` or ``ConnectionEnd/upgradeRefused(status:)``).
        public let end: ConnectionEnd
        public var description: String { end.detail }
    }

    private enum UpgradeResult: Sendable {
        case upgraded(WebSocketConnection)
        case refused(EventLoopFuture<HTTPResponseStatus>)
    }

    /// Opens a WebSocket connection for a user.
    /// - Parameter userID: the user id (already validated).
    /// - Returns: the open connection, with the host from the `X-WSScale-Host` header.
    /// - Throws: ``Failure`` when the TCP connect or the upgrade fails.
    public func connect(userID: String) async throws -> WebSocketConnection {
        let timeAmount = TimeAmount(timeout)
        let requestHead = makeRequestHead(userID: userID)
        let result: EventLoopFuture<UpgradeResult>
        do {
            let bootstrap = ClientBootstrap(group: group)
                .connectTimeout(timeAmount)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            let initializer: @Sendable (any Channel) -> EventLoopFuture<EventLoopFuture<UpgradeResult>> = { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.configure(channel: channel, requestHead: requestHead, timeout: timeAmount, liveness: liveness)
                }
            }
            if let literalAddress {
                result = try await bootstrap.connect(to: literalAddress, channelInitializer: initializer)
            } else {
                result = try await bootstrap.connect(host: target.host, port: target.port, channelInitializer: initializer)
            }
        } catch {
            throw Failure(end: .connectFailed("connect to \(target) failed: \(error)"))
        }
        let upgrade: UpgradeResult
        do {
            upgrade = try await result.get()
        } catch {
            throw Failure(end: .connectFailed("upgrade at \(target) failed: \(error)"))
        }
        switch upgrade {
        case .upgraded(let connection):
            return connection
        case .refused(let status):
            let code = (try? await status.get())?.code ?? 0
            throw Failure(end: .upgradeRefused(status: Int(code)))
        }
    }

    private func makeRequestHead(userID: String) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(target.host):\(target.port)")
        headers.add(name: "Content-Length", value: "0")
        return HTTPRequestHead(version: .http1_1, method: .GET, uri: target.path(forUser: userID), headers: headers)
    }

    /// Sets up the upgradable HTTP client pipeline; runs on the channel's event loop.
    private static func configure(channel: any Channel, requestHead: HTTPRequestHead,
                                  timeout: TimeAmount, liveness: ConnectionLiveness?) throws -> EventLoopFuture<UpgradeResult> {
        let upgrader = NIOTypedWebSocketClientUpgrader<UpgradeResult>(maxFrameSize: 1 << 14) { channel, response in
            channel.eventLoop.makeCompletedFuture {
                let endPromise = channel.eventLoop.makePromise(of: ConnectionEnd.self)
                let handler = WebSocketUserHandler(endPromise: endPromise, liveness: liveness)
                try channel.pipeline.syncOperations.addHandler(handler)
                if !channel.isActive { endPromise.succeed(.abnormal) }
                let host = response.headers.first(name: hostHeader)
                return .upgraded(WebSocketConnection(channel: channel, handler: handler, host: host,
                                                     ended: endPromise.futureResult))
            }
        }
        let configuration = NIOTypedHTTPClientUpgradeConfiguration<UpgradeResult>(
            upgradeRequestHead: requestHead,
            upgraders: [upgrader],
            notUpgradingCompletionHandler: { channel in
                channel.eventLoop.makeCompletedFuture {
                    let statusPromise = channel.eventLoop.makePromise(of: HTTPResponseStatus.self)
                    try channel.pipeline.syncOperations.addHandler(RefusedUpgradeHandler(statusPromise: statusPromise))
                    return .refused(statusPromise.futureResult)
                }
            }
        )
        var pipeline = NIOUpgradableHTTPClientPipelineConfiguration(upgradeConfiguration: configuration)
        // A server may send frames right behind its 101 answer (a close 1013 over the hard
        // limit): those bytes must reach the WebSocket decoder, not be dropped.
        pipeline.leftOverBytesStrategy = .forwardBytes
        let negotiated = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
            configuration: pipeline
        )
        // The upgrade must finish within the timeout, or the attempt is abandoned (and says so:
        // closing the channel alone fails the upgrade with a vague channel-state error).
        let timedOut = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            timedOut.value = true
            channel.close(promise: nil)
        }
        negotiated.whenComplete { _ in deadline.cancel() }
        return negotiated.flatMapErrorThrowing { error in
            throw timedOut.value ? UpgradeTimedOut(timeout: timeout) : error
        }
    }
}

/// The server did not answer the upgrade request within the connector's timeout.
struct UpgradeTimedOut: Error, CustomStringConvertible {
    let timeout: TimeAmount
    var description: String { "no answer to the upgrade within \(Duration.nanoseconds(timeout.nanoseconds))" }
}

/// Reads the status of a refused upgrade's HTTP answer, then closes the channel.
private final class RefusedUpgradeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let statusPromise: EventLoopPromise<HTTPResponseStatus>

    init(statusPromise: EventLoopPromise<HTTPResponseStatus>) {
        self.statusPromise = statusPromise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            statusPromise.succeed(head.status)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        statusPromise.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        statusPromise.fail(error)
        context.close(promise: nil)
    }
}
