import NIOCore
import NIOWebSocket

/// The front door's side of one session towards the app: the last handler of the upgraded
/// connection to `APP_UPSTREAM_URL`, on the same event loop as the client's connection.
///
/// - **App to client.** Each frame the app sends (text, binary, continuation, ping, pong) goes
///   to the client as it came, unmasked. The app's close frame goes to the client with its
///   code and reason (the session's ``WebSocketSessionHandler/appClosed(payload:)``), and is
///   answered here.
/// - **Client to app.** ``send(_:)`` masks each frame, as a client must (RFC 6455 5.3).
/// - **Backpressure.** Nothing is read from the app while the client's connection is not
///   writable, and nothing from the client while this one is not (the session asks
///   ``isWritable``): a slow reader on either side slows the other's writer, and nothing
///   here grows.
/// - **Closing.** ``close(payload:)`` sends the app a close frame once and gives it
///   ``closeHandshakeTimeout`` to answer before the connection is closed: an app that ignores
///   close frames holds nothing for long. A connection that ends without a close frame from
///   the app ends the client's session with 1014 "app connection lost".
///
/// Frames that arrive before the session is attached (right behind the app's 101) wait in a
/// small queue; reading waits for the session too.
final class AppRelayHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// How long the app has to answer our close frame before its connection is closed.
    static let closeHandshakeTimeout = TimeAmount.seconds(3)
    /// How long an app connection waits for its session: one that none takes (the client left
    /// during the upgrade) is closed with 1001 "client gone".
    static let attachTimeout = TimeAmount.seconds(10)

    private var context: ChannelHandlerContext?
    private var session: WebSocketSessionHandler?
    /// Frames read before the session was attached.
    private var waiting: [WebSocketFrame] = []
    /// The app's close frame, when it came before the session was attached.
    private var waitingClose: ByteBuffer?
    private var readHeldBack = false
    /// Our close frame went to the app.
    private var closeSent = false
    /// The app's close frame came (the app knows the session is over).
    private var closeReceived = false
    private var closeTimer: Scheduled<Void>?
    private var attachTimer: Scheduled<Void>?

    init() {}

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        attachTimer = context.eventLoop.scheduleTask(in: Self.attachTimeout) { [weak self] in
            self?.close(code: 1001, reason: "client gone")
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        attachTimer?.cancel()
        attachTimer = nil
        closeTimer?.cancel()
        self.context = nil
        session = nil
    }

    /// Whether the app's connection takes more writes now.
    var isWritable: Bool {
        context?.channel.isWritable ?? true
    }

    /// Joins the client's session: the frames waiting go to it, and reading starts.
    func attach(_ session: WebSocketSessionHandler) {
        attachTimer?.cancel()
        attachTimer = nil
        for frame in waiting { session.fromApp(frame) }
        waiting = []
        if let waitingClose {
            self.waitingClose = nil
            session.appClosed(payload: waitingClose)
            return
        }
        guard let context else {
            session.appGone()
            return
        }
        self.session = session
        if !context.channel.isActive {
            appConnectionEnded()
        } else {
            context.read()
        }
    }

    /// Sends the client's frame to the app, masked.
    func send(_ frame: WebSocketFrame) {
        guard let context, !closeSent else { return }
        let masked = WebSocketFrame(fin: frame.fin, opcode: frame.opcode, maskKey: .random(), data: frame.data)
        context.writeAndFlush(wrapOutboundOut(masked), promise: nil)
    }

    /// Closes the app's side of the session with `payload` (a close code and reason, or empty
    /// for none), once; the connection closes when the app answers or after the timeout.
    func close(payload: ByteBuffer) {
        guard let context, !closeSent else { return }
        closeSent = true
        session = nil
        attachTimer?.cancel()
        attachTimer = nil
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: payload)
        if closeReceived {
            context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in context.close(promise: nil) }
            return
        }
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        closeTimer = context.eventLoop.scheduleTask(in: Self.closeHandshakeTimeout) {
            context.close(promise: nil)
        }
        context.read()
    }

    /// Closes the app's side with `code` and `reason`.
    func close(code: UInt16, reason: String) {
        guard let context else { return }
        var payload = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        payload.writeInteger(code)
        payload.writeString(reason)
        close(payload: payload)
    }

    /// The client's connection takes writes again: read from the app if we held back.
    func clientBecameWritable() {
        guard readHeldBack, let context else { return }
        readHeldBack = false
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if closeSent {
            // Our close frame is out: only the app's answer matters now.
            if frame.opcode == .connectionClose { context.close(promise: nil) }
            return
        }
        if frame.opcode == .connectionClose {
            closeReceived = true
            let payload = frame.unmaskedData
            // Answer with the same code (RFC 6455 5.5.1), then the connection closes.
            let answer = Self.closeAnswer(to: payload, allocator: context.channel.allocator)
            let session = self.session
            self.session = nil
            closeSent = true
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(),
                                                                 data: answer)))
                .whenComplete { _ in context.close(promise: nil) }
            if let session {
                session.appClosed(payload: payload)
            } else {
                waitingClose = payload
            }
            return
        }
        let relayed = WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: frame.unmaskedData)
        guard let session else {
            waiting.append(relayed)
            return
        }
        session.fromApp(relayed)
    }

    /// Backpressure: read from the app only while the client's connection takes writes.
    func read(context: ChannelHandlerContext) {
        if let session, session.isClientWritable {
            context.read()
        } else if session != nil || !closeSent {
            readHeldBack = true
        } else {
            context.read() // closing: read the app's answer
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { session?.appBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        closeTimer = nil
        appConnectionEnded()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A frame the decoder refused (over the limit, bad framing): the app broke the protocol.
        context.close(promise: nil)
    }

    private func appConnectionEnded() {
        let session = self.session
        self.session = nil
        if !closeSent { session?.appGone() }
    }

    /// The answer to the app's close frame: its code alone, or nothing when it sent none.
    static func closeAnswer(to payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var payload = payload
        var answer = allocator.buffer(capacity: 2)
        if let code = payload.readInteger(as: UInt16.self) { answer.writeInteger(code) }
        return answer
    }
}
