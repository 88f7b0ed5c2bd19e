import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A team's WebSocket app as the front door's tests need it: a real SwiftNIO WebSocket server
/// on a free loopback port, at `/ws/{userId}`, whose behaviour a user id's prefix picks:
///
/// | prefix | behaviour |
/// |---|---|
/// | (any) | echoes each frame as it came (fragments stay fragments), answers pings, answers close |
/// | `refuse` | refuses the upgrade: 403 `no entry` |
/// | `bye` | closes at once with 4100 `app says bye` |
/// | `ping` | pings the client with `from-app` at once |
/// | `ignore` | never answers a close frame and keeps its connection open |
/// | `flood` | writes 1 KiB text frames for as long as its connection is writable |
///
/// It records what it saw (``Event``), for the tests to wait on.
final class TestWebSocketApp: @unchecked Sendable {
    /// What the app saw.
    enum Event: Equatable, Sendable {
        /// An upgrade request (its headers, names lowercased).
        case upgrade(userId: String, uri: String, headers: [String: String])
        /// A close frame from the front door.
        case closeFrame(userId: String, code: UInt16?, reason: String)
        /// A pong from the client.
        case pong(userId: String, payload: String)
        /// The TCP connection ended.
        case disconnected(userId: String)
    }

    let port: Int
    private let channel: Channel
    private let recorded = NIOLockedValueBox<[Event]>([])
    private let floods = NIOLockedValueBox<[String: (sent: Int, writable: Bool)]>([:])

    private init(port: Int, channel: Channel) {
        self.port = port
        self.channel = channel
    }

    /// Everything recorded so far.
    var events: [Event] { recorded.withLockedValue { $0 } }

    /// Frames a flooding session sent, and whether its connection takes more now.
    func flood(_ userId: String) -> (sent: Int, writable: Bool)? {
        floods.withLockedValue { $0[userId] }
    }

    fileprivate func record(_ event: Event) {
        recorded.withLockedValue { $0.append(event) }
    }

    fileprivate func recordFlood(_ userId: String, sent: Int, writable: Bool) {
        floods.withLockedValue { $0[userId] = (sent, writable) }
    }

    /// Starts the app.
    static func start() async throws -> TestWebSocketApp {
        let box = NIOLockedValueBox<TestWebSocketApp?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    shouldUpgrade: { channel, head in
                        let userId = String(head.uri.split(separator: "?")[0].split(separator: "/").last ?? "")
                        var headers: [String: String] = [:]
                        for (name, value) in head.headers { headers[name.lowercased()] = value }
                        box.withLockedValue { $0 }?.record(.upgrade(userId: userId, uri: head.uri, headers: headers))
                        if userId.hasPrefix("refuse") { return channel.eventLoop.makeSucceededFuture(nil) }
                        var answer = HTTPHeaders()
                        if head.headers["sec-websocket-protocol"].joined(separator: ",").contains("chat.v2") {
                            answer.add(name: "Sec-WebSocket-Protocol", value: "chat.v2")
                        }
                        return channel.eventLoop.makeSucceededFuture(answer)
                    },
                    upgradePipelineHandler: { channel, head in
                        let userId = String(head.uri.split(separator: "?")[0].split(separator: "/").last ?? "")
                        guard let app = box.withLockedValue({ $0 }) else { return channel.close() }
                        return channel.pipeline.addHandler(AppFrameHandler(app: app, userId: userId))
                    })
                let refusing = RefusingHTTPHandler()
                return channel.pipeline.configureHTTPServerPipeline(
                    withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                        context.pipeline.syncOperations.removeHandler(refusing, promise: nil)
                    })
                ).flatMap { channel.pipeline.addHandler(refusing) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let app = TestWebSocketApp(port: channel.localAddress!.port!, channel: channel)
        box.withLockedValue { $0 = app }
        return app
    }

    /// Stops listening (sessions already open stay).
    func stop() async {
        try? await channel.close()
    }
}

/// Answers every plain request (a refused upgrade) with 403 `no entry`.
private final class RefusingHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let body = context.channel.allocator.buffer(string: "no entry")
        var headers = HTTPHeaders([("Content-Length", "\(body.readableBytes)"), ("Content-Type", "text/plain")])
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .forbidden, headers: headers))),
                      promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// One session at the app.
private final class AppFrameHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let app: TestWebSocketApp
    private let userId: String
    private var sent = 0
    private var closeSent = false

    init(app: TestWebSocketApp, userId: String) {
        self.app = app
        self.userId = userId
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if userId.hasPrefix("bye") {
            var data = context.channel.allocator.buffer(capacity: 16)
            data.writeInteger(UInt16(4100))
            data.writeString("app says bye")
            closeSent = true
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)),
                                  promise: nil)
        } else if userId.hasPrefix("ping") {
            let data = context.channel.allocator.buffer(string: "from-app")
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: data)), promise: nil)
        } else if userId.hasPrefix("flood") {
            flood(context: context)
        }
    }

    private func flood(context: ChannelHandlerContext) {
        let chunk = context.channel.allocator.buffer(repeating: UInt8(ascii: "x"), count: 1024)
        while context.channel.isWritable, !closeSent {
            sent += 1
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: chunk)), promise: nil)
            if sent % 16 == 0 { context.flush() }
        }
        context.flush()
        app.recordFlood(userId, sent: sent, writable: context.channel.isWritable)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if userId.hasPrefix("flood") { flood(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        var payload = frame.unmaskedData
        switch frame.opcode {
        case .connectionClose:
            let code = payload.readInteger(as: UInt16.self)
            app.record(.closeFrame(userId: userId, code: code, reason: payload.readString(length: payload.readableBytes) ?? ""))
            if userId.hasPrefix("ignore") { return }
            if closeSent {
                context.close(promise: nil)
                return
            }
            closeSent = true
            var answer = context.channel.allocator.buffer(capacity: 2)
            if let code { answer.writeInteger(code) }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: answer)))
                .whenComplete { _ in context.close(promise: nil) }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: payload)), promise: nil)
        case .pong:
            app.record(.pong(userId: userId, payload: payload.readString(length: payload.readableBytes) ?? ""))
        default:
            guard !userId.hasPrefix("flood") else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: payload)),
                                  promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        app.record(.disconnected(userId: userId))
        context.fireChannelInactive()
    }
}
