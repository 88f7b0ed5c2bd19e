import NIOCore
import NIOWebSocket

/// The handler at the end of an upgraded connection's pipeline: echoes data frames, answers
/// pings, keeps the session's last activity, and runs the close handshake from either side.
///
/// Small on purpose (an idle connection costs a few hundred bytes here): no aggregation,
/// no timers except while closing.
final class WebSocketSessionHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// How the connection started.
    enum Role {
        /// A live session.
        case session(LiveSessions.Entry)
        /// Over the limit (or shutting down): closed at once with this code.
        case refused(code: WebSocketErrorCode, reason: String)
    }

    /// How long the server waits for the client's close frame before closing the socket.
    static let closeHandshakeTimeout = TimeAmount.seconds(3)

    private let sessions: LiveSessions
    private let role: Role
    private var closeSent = false
    private var cause: SessionCloseReason?
    private var closeTimer: Scheduled<Void>?

    init(sessions: LiveSessions, role: Role) {
        self.sessions = sessions
        self.role = role
    }

    func handlerAdded(context: ChannelHandlerContext) {
        switch role {
        case .refused(let code, let reason):
            sendClose(context: context, code: code, reason: reason)
        case .session(let entry):
            // Gone before the handler was in place: no channelInactive will come.
            if !context.channel.isActive { sessions.closed(entry, cause: .error) }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if case .session(let entry) = role { sessions.touch(entry) }
        switch frame.opcode {
        case .connectionClose:
            receivedClose(context: context, frame: frame)
        case .ping:
            guard !closeSent else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)),
                                  promise: nil)
        case .text, .binary, .continuation:
            guard !closeSent else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: frame.fin, opcode: frame.opcode,
                                                                 data: frame.unmaskedData)),
                                  promise: nil)
        case .pong:
            break
        default:
            cause = .error
            sendClose(context: context, code: .protocolError, reason: "unknown opcode")
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let close = event as? ServerInitiatedClose else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        if cause == nil { cause = close.cause }
        sendClose(context: context, code: close.code, reason: close.reason)
        promise?.succeed(())
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        closeTimer = nil
        if case .session(let entry) = role { sessions.closed(entry, cause: cause ?? .error) }
        context.fireChannelInactive()
    }

    /// Protocol errors from the frame decoder (too large, bad masking, …) get a close frame with
    /// the matching code before the socket closes: the work of NIO's `WebSocketProtocolErrorHandler`,
    /// done here to save a handler and its context on every connection.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if cause == nil { cause = .error }
        guard let protocolError = error as? NIOWebSocketError, !closeSent else {
            context.close(promise: nil)
            return
        }
        closeSent = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: protocolError == .invalidFrameLength ? .messageTooLarge : .protocolError)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)))
            .whenComplete { _ in context.close(promise: nil) }
    }

    /// The client's close frame: the end of our handshake, or the start of theirs (echo its code).
    private func receivedClose(context: ChannelHandlerContext, frame: WebSocketFrame) {
        if closeSent {
            context.close(promise: nil)
            return
        }
        closeSent = true
        if cause == nil { cause = .client }
        var data = frame.unmaskedData
        let code = data.readableBytes >= 2 ? data.readWebSocketErrorCode() : nil
        var reply = context.channel.allocator.buffer(capacity: 2)
        if let code { reply.write(webSocketErrorCode: code) }
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply)))
            .whenComplete { _ in context.close(promise: nil) }
    }

    /// Sends our close frame once, then waits a bounded time for the client's.
    private func sendClose(context: ChannelHandlerContext, code: WebSocketErrorCode, reason: String) {
        guard !closeSent else { return }
        closeSent = true
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code)
        data.writeString(reason)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)),
                              promise: nil)
        closeTimer = context.eventLoop.scheduleTask(in: Self.closeHandshakeTimeout) {
            context.close(promise: nil)
        }
    }
}
