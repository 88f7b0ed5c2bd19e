import NIOCore

/// One simulated user's open WebSocket connection.
public final class WebSocketConnection: Sendable {
    /// The host the server reported in the `X-WSScale-Host` upgrade header, if any.
    public let host: String?
    /// Completes with how the connection ended, once it has closed.
    public let ended: EventLoopFuture<ConnectionEnd>

    private let channel: any Channel
    private let handler: NIOLoopBound<WebSocketUserHandler>

    init(channel: any Channel, handler: WebSocketUserHandler, host: String?, ended: EventLoopFuture<ConnectionEnd>) {
        self.channel = channel
        self.handler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        self.host = host
        self.ended = ended
    }

    /// Closes the connection intentionally (close code 1000) and waits until it has closed
    /// (the server's answer, or one second at most).
    /// - Returns: how the connection ended (``ConnectionEnd/closedByClient`` unless the
    ///   server closed it first).
    @discardableResult
    public func close() async -> ConnectionEnd {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.closeIntentionally() }
        return (try? await ended.get()) ?? .abnormal
    }

    /// Sends a text message (the server echoes it).
    public func send(text: String) {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.sendText(text) }
    }

    /// How many text messages the server has sent on this connection.
    public func textMessagesReceived() async throws -> Int {
        let handler = self.handler
        return try await channel.eventLoop.submit { handler.value.textMessagesReceived }.get()
    }
}
