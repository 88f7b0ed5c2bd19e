import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A small real WebSocket server on 127.0.0.1 for the client's tests, built on SwiftNIO's
/// `NIOWebSocketServerUpgrader`: names its host in `X-WSScale-Host`, echoes text, counts
/// pongs, can refuse connections with 1013 after the upgrade, close everyone with a code
/// (4001 shed, 1001 going away) or drop everyone without a close frame.
final class TestWebSocketServer: Sendable {
    struct State {
        var hostID: String?
        var refuseNext = 0
        var open: [ObjectIdentifier: (userID: String, channel: any Channel)] = [:]
        var upgrades = 0
        var closeCodesReceived: [UInt16] = []
        var pongs = 0
        /// Pings received from clients.
        var pings = 0
        /// Whether pings are answered (off by default: a server that never speaks unasked).
        var answersPings = false
    }

    let state: NIOLockedValueBox<State>
    private let serverChannel: any Channel
    let port: Int

    private init(serverChannel: any Channel, state: NIOLockedValueBox<State>) {
        self.serverChannel = serverChannel
        self.state = state
        self.port = serverChannel.localAddress?.port ?? 0
    }

    /// Starts a server on a free loopback port.
    /// - Parameter hostID: the value of `X-WSScale-Host` in the 101 answer (`nil`: no header).
    static func start(hostID: String?) async throws -> TestWebSocketServer {
        let state = NIOLockedValueBox(State(hostID: hostID))
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    shouldUpgrade: { channel, _ in
                        var headers = HTTPHeaders()
                        if let host = state.withLockedValue({ $0.hostID }) { headers.add(name: "X-WSScale-Host", value: host) }
                        return channel.eventLoop.makeSucceededFuture(headers)
                    },
                    upgradePipelineHandler: { channel, request in
                        let userID = String(request.uri.split(separator: "/").last ?? "")
                        let refuse = state.withLockedValue { state -> Bool in
                            state.upgrades += 1
                            guard state.refuseNext > 0 else { return false }
                            state.refuseNext -= 1
                            return true
                        }
                        return channel.pipeline.addHandler(
                            TestServerHandler(userID: userID, state: state, refuseWith1013: refuse))
                    }
                )
                return channel.pipeline.configureHTTPServerPipeline(
                    withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return TestWebSocketServer(serverChannel: channel, state: state)
    }

    /// The target users connect to.
    var target: String { "ws://127.0.0.1:\(port)" }

    /// Open WebSocket connections.
    var openConnections: Int { state.withLockedValue { $0.open.count } }

    /// Connections the server upgraded so far (refused ones included).
    var upgrades: Int { state.withLockedValue { $0.upgrades } }

    /// Changes the host id announced from now on.
    func announce(hostID: String?) { state.withLockedValue { $0.hostID = hostID } }

    /// The next `count` connections are upgraded and then closed with 1013.
    func refuseNext(_ count: Int) { state.withLockedValue { $0.refuseNext = count } }

    /// Sends a close frame with `code` to every open connection (as a shed or a shutdown does).
    func closeAll(code: UInt16, reason: String) {
        for channel in channels() {
            var payload = channel.allocator.buffer(capacity: 2 + reason.utf8.count)
            payload.writeInteger(code)
            payload.writeString(reason)
            channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload), promise: nil)
        }
    }

    /// Drops every connection without a close frame (as a crashed server does).
    func dropAll() {
        for channel in channels() { channel.close(mode: .all, promise: nil) }
    }

    /// Sends a ping to every open connection.
    func pingAll() {
        for channel in channels() {
            channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .ping, data: channel.allocator.buffer(string: "p")),
                                  promise: nil)
        }
    }

    /// Stops listening and closes every connection.
    func stop() async {
        dropAll()
        try? await serverChannel.close()
    }

    private func channels() -> [any Channel] {
        state.withLockedValue { $0.open.values.map(\.channel) }
    }
}

/// One connection of the test server.
private final class TestServerHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let userID: String
    private let state: NIOLockedValueBox<TestWebSocketServer.State>
    private let refuseWith1013: Bool

    init(userID: String, state: NIOLockedValueBox<TestWebSocketServer.State>, refuseWith1013: Bool) {
        self.userID = userID
        self.state = state
        self.refuseWith1013 = refuseWith1013
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        if refuseWith1013 {
            var payload = context.channel.allocator.buffer(capacity: 32)
            payload.writeInteger(UInt16(1013))
            payload.writeString("try again later")
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)),
                                  promise: nil)
            return
        }
        let userID = self.userID
        state.withLockedValue { $0.open[ObjectIdentifier(channel)] = (userID, channel) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let key = ObjectIdentifier(context.channel)
        state.withLockedValue { _ = $0.open.removeValue(forKey: key) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: frame.unmaskedData)),
                                  promise: nil)
        case .pong:
            state.withLockedValue { $0.pongs += 1 }
        case .ping:
            let answers = state.withLockedValue { state in
                state.pings += 1
                return state.answersPings
            }
            if answers {
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
            }
        case .connectionClose:
            var data = frame.unmaskedData
            let code = data.readInteger(as: UInt16.self) ?? 1005
            state.withLockedValue { $0.closeCodesReceived.append(code) }
            // Either the client's answer to our close, or the client's own close: answer and hang up.
            let reply = WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in context.close(promise: nil) }
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
