import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A real WebSocket client for the tests (SwiftNIO's client upgrader, masked frames).
final class WebSocketTestClient: @unchecked Sendable {
    /// Something the server sent.
    enum Event: Equatable, Sendable {
        case text(String)
        case pong(String)
        case close(code: UInt16?, reason: String)
    }

    /// The upgrade did not give 101.
    struct UpgradeRefused: Error, CustomStringConvertible {
        var description: String
    }

    let channel: Channel
    /// `X-WSScale-Host` of the 101 response.
    let serverHost: String?
    /// Everything the server sent, in order; finishes when the connection closes.
    let events: AsyncStream<Event>

    private init(channel: Channel, serverHost: String?, events: AsyncStream<Event>) {
        self.channel = channel
        self.serverHost = serverHost
        self.events = events
    }

    /// Connects to `ws://127.0.0.1:port/path`. With `answersClose` false, the client reports the
    /// server's close frame but never answers it (a slow client, or one still on its way).
    static func connect(port: Int, path: String, answersClose: Bool = true,
                        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> WebSocketTestClient {
        let (events, continuation) = AsyncStream<Event>.makeStream()
        let upgraded = group.any().makePromise(of: (Channel, String?).self)
        let upgrader = NIOWebSocketClientUpgrader(upgradePipelineHandler: { channel, response in
            let frames = ClientFrameHandler(events: continuation, answersClose: answersClose)
            return channel.pipeline.addHandler(frames).map {
                upgraded.succeed((channel, response.headers.first(name: "X-WSScale-Host")))
            }
        })
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                let request = UpgradeRequestSender(path: path, port: port, upgraded: upgraded)
                let upgrade: NIOHTTPClientUpgradeSendableConfiguration = (
                    upgraders: [upgrader],
                    completionHandler: { context in
                        context.pipeline.removeHandler(request, promise: nil)
                    }
                )
                return channel.pipeline.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes, withClientUpgrade: upgrade).flatMap {
                    channel.pipeline.addHandler(request)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        } catch {
            upgraded.fail(error)
            continuation.finish()
            throw error
        }
        channel.closeFuture.whenComplete { _ in
            continuation.finish()
            upgraded.fail(UpgradeRefused(description: "connection closed before the upgrade"))
        }
        let (upgradedChannel, host) = try await upgraded.futureResult.get()
        return WebSocketTestClient(channel: upgradedChannel, serverHost: host, events: events)
    }

    /// Sends a text message.
    func send(text: String) async throws {
        let data = channel.allocator.buffer(string: text)
        try await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: data))
    }

    /// Sends a ping.
    func ping(_ text: String) async throws {
        let data = channel.allocator.buffer(string: text)
        try await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .ping, maskKey: .random(), data: data))
    }

    /// Starts a close handshake from the client.
    func close(code: WebSocketErrorCode = .normalClosure) async throws {
        var data = channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        try await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data))
    }

    /// Waits for the next text or pong.
    func nextMessage() async -> Event? {
        for await event in events { return event }
        return nil
    }

    /// Waits for the server's close frame (nil if the connection ended without one).
    func closeFrame() async -> (code: UInt16?, reason: String)? {
        for await event in events {
            if case .close(let code, let reason) = event { return (code, reason) }
        }
        return nil
    }

    /// Waits until the TCP connection is closed.
    func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }
}

/// Sends the upgrade request when the connection is up; fails the upgrade on any other answer.
private final class UpgradeRequestSender: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let path: String
    private let port: Int
    private let upgraded: EventLoopPromise<(Channel, String?)>

    init(path: String, port: Int, upgraded: EventLoopPromise<(Channel, String?)>) {
        self.path = path
        self.port = port
        self.upgraded = upgraded
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "127.0.0.1:\(port)")
        headers.add(name: "Content-Length", value: "0")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let response) = unwrapInboundIn(data) {
            upgraded.fail(WebSocketTestClient.UpgradeRefused(description: "HTTP \(response.status.code)"))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        upgraded.fail(error)
        context.close(promise: nil)
    }
}

/// Collects the server's frames and answers its close frame.
private final class ClientFrameHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let events: AsyncStream<WebSocketTestClient.Event>.Continuation
    private let answersClose: Bool
    private var closeSent = false

    init(events: AsyncStream<WebSocketTestClient.Event>.Continuation, answersClose: Bool) {
        self.events = events
        self.answersClose = answersClose
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        var payload = frame.unmaskedData
        switch frame.opcode {
        case .text:
            events.yield(.text(payload.readString(length: payload.readableBytes) ?? ""))
        case .pong:
            events.yield(.pong(payload.readString(length: payload.readableBytes) ?? ""))
        case .connectionClose:
            let code = payload.readInteger(as: UInt16.self)
            events.yield(.close(code: code, reason: payload.readString(length: payload.readableBytes) ?? ""))
            if closeSent {
                context.close(promise: nil)
            } else if answersClose {
                closeSent = true
                var reply = context.channel.allocator.buffer(capacity: 2)
                if let code { reply.writeInteger(code) }
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose,
                                                                     maskKey: .random(), data: reply)))
                    .whenComplete { _ in context.close(promise: nil) }
            }
        default:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if unwrapOutboundIn(data).opcode == .connectionClose { closeSent = true }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        events.finish()
        context.fireChannelInactive()
    }
}
