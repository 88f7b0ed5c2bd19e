import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import WSScaleCore
import WSScaleCurlHTTP

/// The engine proxy's listener: reads each request whole (bounded), asks
/// `EngineProxyPolicy`, and either answers the refusal itself or sends the checked request
/// to the engine and relays the engine's answer back byte for byte (streams such as
/// `/events` included). One request per connection: both sides are closed after it.
///
/// Bounds: 64 KiB of body, 10 s to send a whole request, `maximumConnections` at once
/// (more are closed at once).
public final class EngineProxyServer: Sendable {
    /// Where it listens.
    public let address: SocketAddress
    private let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
        self.address = channel.localAddress!
    }

    /// The port it listens on.
    public var port: Int { address.port ?? 0 }

    /// Starts listening.
    /// - Parameters:
    ///   - policy: what is let through.
    ///   - host: the address to bind (`127.0.0.1` unless told otherwise).
    ///   - port: the port (0 picks a free one).
    ///   - upstream: the engine's API (its unix socket, or TCP).
    ///   - maximumConnections: connections served at once.
    public static func start(policy: EngineProxyPolicy, host: String, port: Int, upstream: ServiceAddress,
                             maximumConnections: Int = 64, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             logger: Logger) async throws -> EngineProxyServer {
        let open = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                let admitted = open.withLockedValue { count -> Bool in
                    guard count < maximumConnections else { return false }
                    count += 1
                    return true
                }
                guard admitted else {
                    logger.warning("engine proxy: too many connections; closing a new one", metadata: ["limit": "\(maximumConnections)"])
                    return child.close()
                }
                child.closeFuture.whenComplete { _ in open.withLockedValue { $0 -= 1 } }
                return child.pipeline.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(10)))
                    try child.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try child.pipeline.syncOperations.addHandler(EngineProxyConnection(policy: policy, upstream: upstream, logger: logger))
                }
            }
            .bind(host: host, port: port).get()
        logger.info("engine proxy listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")", "engine": "\(upstream)", "api": "\(policy.engine.rawValue)"])
        return EngineProxyServer(channel: channel)
    }

    /// Stops listening (connections being relayed end on their own).
    public func close() async throws {
        try await channel.close()
    }

    /// Waits until the listener is closed.
    public func waitUntilClosed() async throws {
        try await channel.closeFuture.get()
    }
}

/// One caller's connection: the request, the decision, then the relay.
final class EngineProxyConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private let policy: EngineProxyPolicy
    private let upstream: ServiceAddress
    private let logger: Logger
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var decided = false
    private var upstreamChannel: (any Channel)?

    init(policy: EngineProxyPolicy, upstream: ServiceAddress, logger: Logger) {
        self.policy = policy
        self.upstream = upstream
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decided else { return }
        switch unwrapInboundIn(data) {
        case let .head(requestHead):
            head = requestHead
            if let length = requestHead.headers.first(name: "content-length").flatMap(Int.init), length > EngineProxyPolicy.maximumBodyBytes {
                refuse(context: context, status: 413, reason: "the body is larger than \(EngineProxyPolicy.maximumBodyBytes) bytes")
            }
        case var .body(chunk):
            guard body.readableBytes + chunk.readableBytes <= EngineProxyPolicy.maximumBodyBytes else {
                refuse(context: context, status: 413, reason: "the body is larger than \(EngineProxyPolicy.maximumBodyBytes) bytes")
                return
            }
            body.writeBuffer(&chunk)
        case .end:
            guard let head else { return }
            decided = true
            let request = EngineProxyRequest(method: head.method.rawValue, uri: head.uri, body: Data(body.readableBytesView),
                                             isEncoded: head.headers.contains(name: "content-encoding"))
            switch policy.decide(request) {
            case let .refuse(status, reason):
                logger.notice("engine proxy refused a call", metadata: ["method": "\(request.method)", "target": "\(request.uri)", "reason": "\(reason)"])
                refuse(context: context, status: status, reason: reason)
            case let .forward(method, uri, body):
                relay(context: context, request: Self.encode(method: method, uri: uri, body: body, allocator: context.channel.allocator))
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The read timeout bounds how long a request may take to arrive; a relayed answer
        // (an event stream) may be silent for as long as it likes.
        if event is IdleStateHandler.IdleStateEvent, !decided {
            refuse(context: context, status: 408, reason: "the request did not arrive within 10 s")
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        upstreamChannel?.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !decided, error is HTTPParserError {
            refuse(context: context, status: 400, reason: "not an HTTP/1.1 request")
            return
        }
        context.close(promise: nil)
    }

    /// Answers with a JSON `{"message": …}` (what Docker's clients print) and closes.
    private func refuse(context: ChannelHandlerContext, status: Int, reason: String) {
        decided = true
        let message = (try? JSONEncoder().encode(["message": "denied by the wsscale engine proxy: \(reason)"])) ?? Data("{}".utf8)
        let phrase = HTTPResponseStatus(statusCode: status).reasonPhrase
        var buffer = context.channel.allocator.buffer(capacity: 256 + message.count)
        buffer.writeString("HTTP/1.1 \(status) \(phrase)\r\nContent-Type: application/json\r\nContent-Length: \(message.count)\r\nConnection: close\r\n\r\n")
        buffer.writeBytes(message)
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in context.close(promise: nil) }
    }

    /// The request the engine gets: only the checked target and body, `Connection: close`.
    static func encode(method: String, uri: String, body: Data?, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256 + (body?.count ?? 0))
        buffer.writeString("\(method) \(uri) HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n")
        if let body {
            buffer.writeString("Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n")
            buffer.writeBytes(body)
        } else {
            buffer.writeString(method == "GET" || method == "HEAD" ? "\r\n" : "Content-Length: 0\r\n\r\n")
        }
        return buffer
    }

    /// Connects to the engine, sends the request, and relays every byte of the answer back.
    private func relay(context: ChannelHandlerContext, request: ByteBuffer) {
        let downstream = context.channel
        let bootstrap = ClientBootstrap(group: context.eventLoop)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.pipeline.addHandler(EngineProxyRelay(downstream: downstream))
            }
        let connecting: EventLoopFuture<any Channel>
        switch upstream {
        case let .unixSocket(path): connecting = bootstrap.connect(unixDomainSocketPath: path)
        case let .tcp(host, port): connecting = bootstrap.connect(host: host, port: port)
        }
        connecting.whenComplete { result in
            switch result {
            case let .success(channel):
                self.upstreamChannel = channel
                if !downstream.isActive { channel.close(promise: nil); return }
                channel.writeAndFlush(request, promise: nil)
            case let .failure(error):
                self.logger.warning("engine proxy: the engine is unreachable", metadata: ["engine": "\(self.upstream)", "error": "\(error)"])
                self.refuse(context: context, status: 502, reason: "the engine at \(self.upstream) is unreachable")
            }
        }
    }
}

/// The engine's side of a relayed call: its bytes go to the caller as they come, and its
/// end ends the caller's connection.
final class EngineProxyRelay: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private let downstream: any Channel
    /// The last write to the caller: the caller's connection is closed only once it is done.
    private var lastWrite: EventLoopFuture<Void>?

    init(downstream: any Channel) {
        self.downstream = downstream
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastWrite = downstream.writeAndFlush(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        let downstream = self.downstream
        if let lastWrite {
            lastWrite.whenComplete { _ in downstream.close(promise: nil) }
        } else {
            downstream.close(promise: nil)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
