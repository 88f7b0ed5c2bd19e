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
///
/// In front of an app (`APP_UPSTREAM_URL`) the same rules check the client's frames, but each
/// one goes on to the app (``AppRelayHandler``) as it came instead of being echoed, pings
/// included; the app's frames come back through ``fromApp(_:)``. Every close reaches the other
/// side: the client's close code goes to the app, the app's to the client, and a close the
/// server starts (shed, drop, replaced, shutdown, a protocol error) goes to both with the same
/// code. A client that vanishes leaves the app 1001 "client gone"; an app connection that ends
/// without a close frame leaves the client 1014 "app connection lost". Reading from the client
/// waits while the app's connection is not writable.
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
    /// The app's side of the session, in front of an app.
    private var app: AppRelayHandler?
    private var context: ChannelHandlerContext?

    /// The payload of the server's own pings; their pongs are not the app's business.
    static let pingPayload = "wsscale"
    /// The close code a client gets when the app's connection ends without a close frame
    /// (1014: the server, a gateway, got a bad answer from the upstream).
    static let appLostCode: UInt16 = 1014

    /// - Parameters:
    ///   - sessions: the server's live sessions.
    ///   - role: a session, or a connection to refuse.
    ///   - maxMessageBytes: largest message accepted (all fragments together); 1009 above.
    ///   - app: the app's side of the session, in front of an app; `nil` echoes.
    init(sessions: LiveSessions, role: Role, maxMessageBytes: Int, app: AppRelayHandler? = nil) {
        self.sessions = sessions
        self.role = role
        self.app = app
        self.frames = InboundFrameStateMachine(maxMessageBytes: maxMessageBytes, relaying: app != nil)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        switch role {
        case .refused(let code, let reason):
            sendClose(context: context, code: code, reason: reason)
            closeApp(code: UInt16(webSocketErrorCode: code), reason: reason)
        case .session(let entry):
            // Gone before the handler was in place: no channelInactive will come.
            if !context.channel.isActive {
                sessions.closed(entry, cause: .error)
                closeApp(code: 1001, reason: "client gone")
                return
            }
            app?.attach(self)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        closeApp(code: 1001, reason: "client gone")
    }

    // MARK: - The app's side (front door)

    /// Whether the client's connection takes more writes now.
    var isClientWritable: Bool {
        context?.channel.isWritable ?? false
    }

    /// A frame from the app: to the client as it came, unless the session is closing.
    func fromApp(_ frame: WebSocketFrame) {
        guard let context, !closeSent else { return }
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    /// The app closed its side with `payload`: the client gets the same close frame.
    func appClosed(payload: ByteBuffer) {
        app = nil
        guard let context else { return }
        if cause == nil { cause = .app }
        sendClose(context: context, payload: payload)
    }

    /// The app's connection ended without a close frame: the client gets 1014.
    func appGone() {
        app = nil
        guard let context else { return }
        if cause == nil { cause = .app }
        var payload = context.channel.allocator.buffer(capacity: 24)
        payload.writeInteger(Self.appLostCode)
        payload.writeString("app connection lost")
        sendClose(context: context, payload: payload)
    }

    /// The app's connection takes writes again: read from the client if we held back.
    func appBecameWritable() {
        guard readHeldBack, let context, context.channel.isWritable else { return }
        readHeldBack = false
        context.read()
    }

    /// Closes the app's side (once) with the code the client gets.
    private func closeApp(code: UInt16, reason: String) {
        guard let app else { return }
        self.app = nil
        app.close(code: code, reason: reason)
    }

    private func closeApp(payload: ByteBuffer) {
        guard let app else { return }
        self.app = nil
        app.close(payload: payload)
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
        case .forward(let relayed):
            if relayed.opcode == .pong, relayed.data.readableBytesView.elementsEqual(Self.pingPayload.utf8) { return }
            app?.send(relayed)
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
            closeApp(payload: frame.unmaskedData)
            closeAfterWriting(context: context, WebSocketFrame(fin: true, opcode: .connectionClose, data: reply))
        case .fail(let code, let reason):
            failConnection(context: context, code: code, reason: reason)
        }
    }

    /// Backpressure: while the client does not read what the server writes (the channel is not
    /// writable), the server reads nothing more from it, so echoes and pongs cannot pile up.
    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable, app?.isWritable ?? true {
            context.read()
        } else {
            if !readHeldBack { sessions.metrics.readsHeldBack.increment() }
            readHeldBack = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            app?.clientBecameWritable()
            if readHeldBack, app?.isWritable ?? true {
                readHeldBack = false
                context.read()
            }
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
        closeApp(code: UInt16(webSocketErrorCode: close.code), reason: close.reason)
        promise?.succeed(())
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        closeTimer = nil
        closeApp(code: 1001, reason: "client gone")
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
        closeApp(payload: data)
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
        closeApp(payload: data)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
        context.close(promise: nil)
    }

    private func closeAfterWriting(context: ChannelHandlerContext, _ frame: WebSocketFrame) {
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in context.close(promise: nil) }
    }

    /// Sends our close frame once, then waits a bounded time for the client's.
    private func sendClose(context: ChannelHandlerContext, code: WebSocketErrorCode, reason: String) {
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code)
        data.writeString(reason)
        sendClose(context: context, payload: data)
    }

    /// Sends our close frame with `payload` once, then waits a bounded time for the client's.
    private func sendClose(context: ChannelHandlerContext, payload: ByteBuffer) {
        guard !closeSent else { return }
        closeSent = true
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)),
                              promise: nil)
        closeTimer = context.eventLoop.scheduleTask(in: Self.closeHandshakeTimeout) {
            context.close(promise: nil)
        }
    }
}
