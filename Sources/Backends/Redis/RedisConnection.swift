import Logging
import NIOCore

/// One pipelined connection to Redis, built on SwiftNIO with hiredis' RESP reader and
/// command formatter.
///
/// Requests never wait for each other: `send` and `pipeline` write at once and the replies
/// are matched in FIFO order, so many concurrent callers share one connection. No call
/// blocks an event-loop thread.
///
/// ```swift
/// let redis = try await RedisConnection.connect(to: url, eventLoopGroup: group, logger: logger)
/// try await redis.send(["SET", "k", "v"])
/// let replies = try await redis.pipeline([["INCR", "n"], ["GET", "k"]])
/// ```
public final class RedisConnection: Sendable {
    private let channel: RedisChannel

    private init(channel: RedisChannel) {
        self.channel = channel
    }

    /// Connects, then logs in (`AUTH`) and selects the URL's database (`SELECT`).
    /// - Parameters:
    ///   - url: where Redis is and how to log in.
    ///   - eventLoopGroup: the group whose loop runs the connection.
    ///   - logger: for connection errors.
    ///   - connectTimeout: how long the TCP connect may take.
    ///   - replyTimeout: how long each request waits for its reply (5 s): past it, the request
    ///     fails with `RedisError.timedOut` and the connection is closed.
    public static func connect(to url: RedisURL, eventLoopGroup: EventLoopGroup, logger: Logger,
                               connectTimeout: TimeAmount = .seconds(2),
                               replyTimeout: TimeAmount = .seconds(5)) async throws -> RedisConnection {
        RedisConnection(channel: try await RedisChannel.connect(
            to: url, eventLoopGroup: eventLoopGroup, logger: logger, connectTimeout: connectTimeout, replyTimeout: replyTimeout))
    }

    /// Sends one command and returns its reply.
    /// - Parameter args: the command's words, its name first (`["HSET", key, field, value]`).
    /// - Throws: `RedisError.errorReply` when Redis answers with an error,
    ///   `RedisError.connectionClosed` when the connection goes away first.
    @discardableResult
    public func send(_ args: [String]) async throws -> RedisValue {
        let reply = try await channel.send([args])[0]
        if case .error(let message) = reply { throw RedisError.errorReply(message) }
        return reply
    }

    /// Sends many commands in one write and returns their replies in order.
    ///
    /// An error reply of one command is returned as `.error` in its place; the others still count.
    /// - Throws: `RedisError.connectionClosed` when the connection goes away first.
    @discardableResult
    public func pipeline(_ commands: [[String]]) async throws -> [RedisValue] {
        try await channel.send(commands)
    }

    /// Whether the TCP connection is still open.
    public var isActive: Bool { channel.channel.isActive }

    /// Closes the connection; requests still waiting fail with `RedisError.connectionClosed`.
    public func close() async {
        await channel.close()
    }
}
