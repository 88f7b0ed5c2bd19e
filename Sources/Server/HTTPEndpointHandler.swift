import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import WSScaleCore

/// Reads plain HTTP requests (everything that is not a WebSocket upgrade), asks
/// `RESTEndpoints` for the answer and writes it. Removed from the pipeline on upgrade.
final class HTTPEndpointHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Largest request body read; a larger one gets 413.
    static let maxBodySize = 64 * 1024

    private let endpoints: RESTEndpoints
    private let appHandshake: AppHandshake?
    private let logger: Logger
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var bodyTooLarge = false

    /// - Parameters:
    ///   - endpoints: the answers.
    ///   - appHandshake: in front of an app, where an app's refusal of this connection's upgrade waits.
    ///   - logger: where to log.
    init(endpoints: RESTEndpoints, appHandshake: AppHandshake? = nil, logger: Logger) {
        self.endpoints = endpoints
        self.appHandshake = appHandshake
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body = nil
            bodyTooLarge = false
        case .body(var chunk):
            guard !bodyTooLarge else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > Self.maxBodySize {
                bodyTooLarge = true
                body = nil
            } else if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
        case .end:
            guard let requestHead = head else { return }
            head = nil
            respond(context: context, to: requestHead)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A WebSocket upgrade that was not accepted reports its error here, then the request
        // arrives as a plain one and gets its 4xx with a reason.
        if error is NIOWebSocketUpgradeError { return }
        logger.debug("HTTP connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    private func respond(context: ChannelHandlerContext, to requestHead: HTTPRequestHead) {
        let route = HTTPRoute(method: requestHead.method, uri: requestHead.uri)
        let keepAlive = requestHead.isKeepAlive && !requestHead.headers.contains(name: "upgrade")
        if bodyTooLarge {
            write(context: context, .text(.payloadTooLarge, "body larger than \(Self.maxBodySize) bytes"),
                  version: requestHead.version, keepAlive: false)
            return
        }
        if let refusal = appHandshake?.takeRefusal() {
            // The app refused this upgrade: the client gets the app's answer.
            write(context: context, HTTPReply(status: refusal.status, contentType: refusal.contentType ?? "text/plain",
                                              body: refusal.body),
                  version: requestHead.version, keepAlive: false)
            return
        }
        let requestBody = body
        body = nil
        let endpoints = self.endpoints
        let promise = context.eventLoop.makePromise(of: HTTPReply.self)
        let headers = requestHead.headers
        let caller = AdminRequest(authorization: headers.first(name: "authorization"), origin: headers.first(name: "origin"),
                                  host: headers.first(name: "host"), contentType: headers.first(name: "content-type"),
                                  hasBody: (requestBody?.readableBytes ?? 0) > 0)
        promise.completeWithTask { await endpoints.respond(to: route, body: requestBody, caller: caller) }
        promise.futureResult.whenSuccess { reply in
            self.write(context: context, reply, version: requestHead.version, keepAlive: keepAlive)
        }
    }

    private func write(context: ChannelHandlerContext, _ reply: HTTPReply, version: HTTPVersion, keepAlive: Bool) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: reply.contentType)
        headers.add(name: "Content-Length", value: String(reply.body.utf8.count))
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        for (name, value) in reply.extraHeaders.sorted(by: { $0.key < $1.key }) { headers.add(name: name, value: value) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: reply.status, headers: headers))),
                      promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: reply.body)))),
                      promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.whenComplete { _ in context.close(promise: nil) } }
    }
}
