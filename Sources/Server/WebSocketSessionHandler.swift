import NIOCore
import NIOWebSocket

/// The handler at the end of an upgraded connection's pipeline: keeps the session's last
/// activity, runs the client's frames through `InboundFrameStateMachine` (RFC 6455: echo whole
/// messages, answer pings, fail the connection on bad input) and runs the close handshake
/// from either side.
///
/// Backpressure: while the client does not take what the server writes (the channel is not
/// writable), nothing more is read from it, so a client that sends and never reads cannot
/// grow the server's memory; past one message plus `pendingOutboundSlack` pending, it is closed.
///
/// Small on purpose (an idle connection costs a few hundred bytes here): the bytes of a
/// fragmented message exist only while it is in flight, and there are no timers except while
/// closing.
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

    /// Outbound bytes a connection may have pending beyond one message before it is closed.
    /// Reading stops once the channel is not writable (64 KiB pending), so only a burst read
    /// before that can add to it.
    static let pendingOutboundSlack = 128 * 1024

    /// How long the server waits for the client's close frame before closing the socket.
    static let closeHandshakeTimeout = TimeAmount.seconds(3)

    private let sessions: LiveSessions
    private let role: Role
    private var frames: InboundFrameStateMachine
    private var closeSent = false
    /// A read held back while the channel was not writable (backpressure).
    private var readHeldBack = false
    private var cause: SessionCloseReason?
    private var closeTimer: Scheduled<Void>?

    /// - Parameters:
    ///   - sessions: the server's live sessions.
    ///   - role: a session, or a connection to refuse.
    ///   - maxMessageBytes: largest message accepted (all fragments together); 1009 above.
    init(sessions: LiveSessions, role: Role, maxMessageBytes: Int) {
        self.sessions = sessions
        self.role = role
        self.frames = InboundFrameStateMachine(maxMessageBytes: maxMessageBytes)
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
        if case .session(let entry) = role {
            if frame.opcode == .pong { sessions.heard(entry) } else { sessions.touch(entry) }
        }
        if closeSent {
            // Our close frame is out: only the client's answer matters now.
            if frame.opcode == .connectionClose { context.close(promise: nil) }
            return
        }
        switch frames.receive(frame) {
        case .none:
            break
        case .echo(let opcode, let data):
            reply(context: context, WebSocketFrame(fin: true, opcode: opcode, data: data))
        case .pong(let data):
            reply(context: context, WebSocketFrame(fin: true, opcode: .pong, data: data))
        case .answerClose(let code):
            // The client's close handshake: echo its code, then close the TCP connection (7.1.1).
            closeSent = true
            if cause == nil { cause = .client }
            var reply = context.channel.allocator.buffer(capacity: 2)
            if let code { reply.writeInteger(code) }
            closeAfterWriting(context: context, WebSocketFrame(fin: true, opcode: .connectionClose, data: reply))
        case .fail(let code, let reason):
            failConnection(context: context, code: code, reason: reason)
        }
    }

    /// Backpressure: while the client does not read what the server writes (the channel is not
    /// writable), the server reads nothing more from it, so echoes and pongs cannot pile up.
    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.read()
        } else {
            if !readHeldBack { sessions.metrics.readsHeldBack.increment() }
            readHeldBack = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, readHeldBack {
            readHeldBack = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
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

    /// Protocol errors from the frame decoder (a frame over the message limit, a fragmented or
    /// long control frame) get a close frame with the matching code before the socket closes:
    /// the work of NIO's `WebSocketProtocolErrorHandler`, done here to save a handler and its
    /// context on every connection.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let protocolError = error as? NIOWebSocketError else {
            if cause == nil { cause = .error }
            context.close(promise: nil)
            return
        }
        let code: WebSocketErrorCode = protocolError == .invalidFrameLength ? .messageTooLarge : .protocolError
        failConnection(context: context, code: UInt16(webSocketErrorCode: code),
                       reason: protocolError == .invalidFrameLength ? "message too big" : "protocol error")
    }

    /// Fails the connection (RFC 6455 7.1.7): our close frame with `code`, then the TCP
    /// connection closes as soon as it is written, without waiting for the client's answer.
    private func failConnection(context: ChannelHandlerContext, code: UInt16, reason: String) {
        if cause == nil { cause = .error }
        guard !closeSent else {
            context.close(promise: nil)
            return
        }
        closeSent = true
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.writeInteger(code)
        data.writeString(reason)
        closeAfterWriting(context: context, WebSocketFrame(fin: true, opcode: .connectionClose, data: data))
    }

    /// Writes an echo or a pong; when more than one message plus `pendingOutboundSlack` is
    /// still waiting for the client to take it, the connection is closed (1008 sent on a best-effort basis: a client that reads nothing
    /// will not read it either).
    private func reply(context: ChannelHandlerContext, _ frame: WebSocketFrame) {
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        guard !context.channel.isWritable,
              let pending = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes),
              pending > frames.maxMessageBytes + Self.pendingOutboundSlack else { return }
        if cause == nil { cause = .notReading }
        closeSent = true
        var data = context.channel.allocator.buffer(capacity: 16)
        data.write(webSocketErrorCode: .policyViolation)
        data.writeString("not reading")
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
        context.close(promise: nil)
    }

    private func closeAfterWriting(context: ChannelHandlerContext, _ frame: WebSocketFrame) {
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in context.close(promise: nil) }
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
