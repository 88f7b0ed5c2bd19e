import NIOCore
import NIOWebSocket

/// The channel handler of one simulated user's upgraded WebSocket: answers pings, counts
/// text messages, answers the server's close frame, closes intentionally with 1000 on
/// request, and reports how the connection ended when the channel goes inactive.
///
/// Liveness (`ConnectionLiveness`), as real clients keep it: after `pingInterval` without a
/// frame from the server it pings, and after `silenceTimeout` without one it closes the
/// connection (ended `.silent`, so the user reconnects). Without it, a connection through a
/// proxy or to a server on a host that vanished would look open for good.
///
/// Frames the client sends are masked, as RFC 6455 requires of clients.
final class WebSocketUserHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// How long the client waits for the server's close frame after sending its own.
    static let closeHandshakeTimeout: TimeAmount = .seconds(1)

    private let endPromise: EventLoopPromise<ConnectionEnd>
    private var context: ChannelHandlerContext?
    private var serverClose: (code: UInt16, reason: String)?
    private var clientInitiatedClose = false
    private var closeTimeout: Scheduled<Void>?
    private var reported = false
    private(set) var textMessagesReceived = 0
    private let liveness: ConnectionLiveness?
    private var lastHeard = NIODeadline.uptimeNanoseconds(0)
    private var livenessCheck: Scheduled<Void>?
    private var lastPinged: NIODeadline?
    private var silentFor: Duration?

    /// - Parameters:
    ///   - endPromise: completed with how the connection ended, once the channel closes.
    ///   - liveness: when to ping a silent server and when to give the connection up; `nil` for never.
    init(endPromise: EventLoopPromise<ConnectionEnd>, liveness: ConnectionLiveness? = nil) {
        self.endPromise = endPromise
        self.liveness = liveness
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        lastHeard = context.eventLoop.now
        scheduleLivenessCheck()
    }

    /// Looks at the silence again in `checkInterval` (each check schedules the next).
    private func scheduleLivenessCheck() {
        guard let liveness, let context, !reported else { return }
        livenessCheck = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(liveness.checkInterval)) { [weak self] in
            self?.checkLiveness(liveness)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        report()
    }

    /// Pings a server silent for `pingInterval`; closes a connection silent for `silenceTimeout`.
    private func checkLiveness(_ liveness: ConnectionLiveness) {
        guard let context, !reported else { return }
        let now = context.eventLoop.now
        let silence = now - lastHeard
        if silence >= TimeAmount(liveness.silenceTimeout) {
            silentFor = liveness.silenceTimeout
            context.close(promise: nil)
            return
        }
        defer { scheduleLivenessCheck() }
        if silence >= TimeAmount(liveness.pingInterval),
           lastPinged.map({ now - $0 >= TimeAmount(liveness.pingInterval) }) ?? true {
            lastPinged = now
            send(.ping, data: context.channel.allocator.buffer(capacity: 0), context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        report()
        context.fireChannelInactive()
    }

    /// Completes the end promise once, from what was seen on the connection.
    private func report() {
        guard !reported else { return }
        reported = true
        closeTimeout?.cancel()
        livenessCheck?.cancel()
        let end: ConnectionEnd
        if let silentFor {
            end = .silent(silentFor)
        } else if clientInitiatedClose {
            end = .closedByClient
        } else if let serverClose {
            end = .closedByServer(code: serverClose.code, reason: serverClose.reason)
        } else {
            end = .abnormal
        }
        endPromise.succeed(end)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        lastHeard = context.eventLoop.now
        switch frame.opcode {
        case .ping:
            guard frame.fin else { return context.close(promise: nil) }
            send(.pong, data: frame.unmaskedData, context: context)
        case .text:
            textMessagesReceived += 1
        case .connectionClose:
            receivedClose(frame, context: context)
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Sends a text message.
    func sendText(_ text: String) {
        guard let context, serverClose == nil, !clientInitiatedClose else { return }
        send(.text, data: context.channel.allocator.buffer(string: text), context: context)
    }

    /// Starts the closing handshake with code 1000; the channel closes when the server answers
    /// or after ``closeHandshakeTimeout``.
    func closeIntentionally() {
        guard let context else { return }
        guard !clientInitiatedClose else { return }
        clientInitiatedClose = true
        if serverClose != nil { return }  // the server is already closing; the channel closes soon
        var payload = context.channel.allocator.buffer(capacity: 2)
        payload.writeInteger(WebSocketCloseCode.normal)
        send(.connectionClose, data: payload, context: context)
        closeTimeout = context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeHandshakeTimeout) { [weak self] in
            self?.context?.close(promise: nil)
        }
    }

    private func receivedClose(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        if clientInitiatedClose {
            // The server's answer to our close: the handshake is done.
            context.close(promise: nil)
            return
        }
        guard serverClose == nil else { return }
        var data = frame.unmaskedData
        let code = data.readInteger(as: UInt16.self) ?? WebSocketCloseCode.noStatus
        let reason = data.readString(length: data.readableBytes) ?? ""
        serverClose = (code, reason)
        // Echo the code, as RFC 6455 section 5.5.1 asks, then close our side.
        var payload = context.channel.allocator.buffer(capacity: 2)
        if code != WebSocketCloseCode.noStatus { payload.writeInteger(code) }
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: payload)
        context.writeAndFlush(wrapOutboundOut(frame)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func send(_ opcode: WebSocketOpcode, data: ByteBuffer, context: ChannelHandlerContext) {
        let frame = WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }
}

/// When a simulated user's connection pings a silent server, and when it gives up on one
/// (`CLIENT_PING_INTERVAL_SECONDS`, `CLIENT_SILENCE_TIMEOUT_SECONDS`).
public struct ConnectionLiveness: Sendable, Equatable {
    /// Silence after which the client pings.
    public var pingInterval: Duration
    /// Silence after which the client closes the connection; longer than `pingInterval`.
    public var silenceTimeout: Duration

    /// The default: a ping after 30 s of silence, given up after 75 s (the server's own
    /// `PING_INTERVAL_SECONDS` and `IDLE_TIMEOUT_SECONDS`).
    public static let standard = ConnectionLiveness(pingInterval: .seconds(30), silenceTimeout: .seconds(75))

    /// Creates the rule; `silenceTimeout` must be longer than `pingInterval`.
    public init(pingInterval: Duration, silenceTimeout: Duration) {
        self.pingInterval = pingInterval
        self.silenceTimeout = silenceTimeout
    }

    /// How often a connection looks at its silence: a quarter of the ping interval, so a
    /// give-up comes at most that late.
    var checkInterval: Duration { pingInterval / 4 }
}
