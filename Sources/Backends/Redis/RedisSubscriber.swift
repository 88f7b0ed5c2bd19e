import Logging
import NIOCore

/// A Redis connection in pub/sub mode: subscribes to channels and patterns and yields what
/// is published on them.
///
/// `messages` finishes when the connection closes (Redis went away or `close()`), which is
/// the caller's cue to reconnect.
public final class RedisSubscriber: Sendable {
    private let channel: RedisChannel
    /// Messages on the subscribed channels and patterns, in the order Redis sent them.
    public let messages: AsyncStream<RedisPubSubMessage>

    private init(channel: RedisChannel, messages: AsyncStream<RedisPubSubMessage>) {
        self.channel = channel
        self.messages = messages
    }

    /// Connects and logs in, ready to subscribe.
    /// - Parameters:
    ///   - url: where Redis is and how to log in.
    ///   - eventLoopGroup: the group whose loop runs the connection.
    ///   - logger: for connection errors.
    public static func connect(to url: RedisURL, eventLoopGroup: EventLoopGroup,
                               logger: Logger) async throws -> RedisSubscriber {
        let (messages, continuation) = AsyncStream.makeStream(of: RedisPubSubMessage.self)
        let channel = try await RedisChannel.connect(
            to: url, eventLoopGroup: eventLoopGroup, logger: logger,
            onMessage: { continuation.yield($0) })
        channel.channel.closeFuture.whenComplete { _ in continuation.finish() }
        return RedisSubscriber(channel: channel, messages: messages)
    }

    /// Subscribes to channels; returns once Redis confirmed each one.
    public func subscribe(_ channels: [String]) async throws {
        try await confirm("SUBSCRIBE", channels)
    }

    /// Subscribes to glob-style patterns; returns once Redis confirmed each one.
    public func psubscribe(_ patterns: [String]) async throws {
        try await confirm("PSUBSCRIBE", patterns)
    }

    /// Closes the connection; `messages` finishes.
    public func close() async {
        await channel.close()
    }

    /// One command per name, pipelined: Redis confirms each name it takes, and answers a
    /// refused command (`NOPERM` for a channel the user may not hear) with a single error, not
    /// one per name. With all the names in one command, a refusal left the wait for the other
    /// confirmations to run into the reply deadline (5 s) before the caller heard of it.
    private func confirm(_ verb: String, _ names: [String]) async throws {
        precondition(!names.isEmpty, "subscribe to at least one channel or pattern")
        for reply in try await channel.send(names.map { [verb, $0] }, replyCount: names.count) {
            if case .error(let message) = reply { throw RedisError.errorReply(message) }
        }
    }
}
