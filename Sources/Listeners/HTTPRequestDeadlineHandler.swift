import NIOCore
import NIOHTTP1

/// Closes an HTTP/1 connection that does not send a whole request (head and body) within
/// `timeout`, counted from its connect and again from the end of each answer. A client that
/// trickles its headers or its body a byte at a time (slowloris), or opens a connection and
/// says nothing, is closed; a request being answered is never cut.
///
/// Sits behind the HTTP decoder, where it sees request parts and writes of response parts.
public final class HTTPRequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias InboundOut = HTTPServerRequestPart
    public typealias OutboundIn = HTTPServerResponsePart
    public typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    /// - Parameter timeout: time allowed for a whole request.
    public init(timeout: Duration) {
        self.timeout = TimeAmount(timeout)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startClock(context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        stopClock()
    }

    public func channelActive(context: ChannelHandlerContext) {
        startClock(context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        stopClock()
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { stopClock() }  // whole: it is being answered
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { startClock(context) }  // answered: the next request's turn
        context.write(data, promise: promise)
    }

    private func startClock(_ context: ChannelHandlerContext) {
        stopClock()
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [context] in
            context.close(promise: nil)
        }
    }

    private func stopClock() {
        deadline?.cancel()
        deadline = nil
    }
}
