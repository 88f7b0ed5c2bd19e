import Logging
import NIOCore
import NIOPosix

/// A connected channel to Redis with a `RedisChannelHandler`, logged in and on its database.
///
/// Shared by `RedisConnection` (requests and replies) and `RedisSubscriber` (pub/sub).
struct RedisChannel: Sendable {
    let channel: Channel
    /// How long a request waits for its replies before it fails with `RedisError.timedOut`
    /// and the connection is closed (its later replies could no longer be matched).
    let replyTimeout: TimeAmount

    /// Every request's deadline unless a caller gives another: a Redis that is paused,
    /// stopped or cut off shows as an error within this, never as a hang.
    static let defaultReplyTimeout = TimeAmount.seconds(5)

    /// Opens a TCP connection, then sends `AUTH` (when the URL has a password) and `SELECT`
    /// (when the database is not 0) before anything else. A `redis+sentinel://` URL connects
    /// to the master its sentinels name now (`RedisSentinelLookup`), and the connection is
    /// closed when they name another (`RedisSentinelWatch`).
    ///
    /// Host names are resolved on NIO's thread pool, never on an event loop.
    static func connect(
        to url: RedisURL, eventLoopGroup: EventLoopGroup, logger: Logger,
        connectTimeout: TimeAmount = .seconds(2),
        replyTimeout: TimeAmount = RedisChannel.defaultReplyTimeout,
        onMessage: (@Sendable (RedisPubSubMessage) -> Void)? = nil
    ) async throws -> RedisChannel {
        var target = RedisEndpoint(host: url.host, port: url.port)
        if let sentinel = url.sentinel {
            target = try await RedisSentinelLookup.master(of: sentinel, eventLoopGroup: eventLoopGroup, logger: logger)
        }
        let address = try await resolve(target)
        let channel = try await ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(connectTimeout)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        RedisChannelHandler(logger: logger, onMessage: onMessage))
                }
            }
            .connect(to: address).get()
        let connected = RedisChannel(channel: channel, replyTimeout: replyTimeout)
        do {
            try await connected.logIn(url)
        } catch {
            try? await channel.close()
            throw error
        }
        if let sentinel = url.sentinel {
            RedisSentinelWatch.watch(channel, connectedTo: target, group: sentinel, eventLoopGroup: eventLoopGroup, logger: logger)
        }
        return connected
    }

    /// Writes the commands in one go and returns their replies in order (error replies included).
    /// - Parameter replyCount: how many replies answer them; one per command unless given
    ///   (a `SUBSCRIBE` of n channels is answered n times).
    func send(_ commands: [[String]], replyCount: Int? = nil) async throws -> [RedisValue] {
        var buffer = channel.allocator.buffer(capacity: 64 * commands.count)
        RedisCommandEncoder.encode(commands, into: &buffer)
        let promise = channel.eventLoop.makePromise(of: [RedisValue].self)
        let request = RedisRequest(bytes: buffer, replyCount: replyCount ?? commands.count, promise: promise)
        // A write on a closed channel never reaches the handler: fail the request here
        // (completing a promise twice is a no-op in NIO, so a failure both ways is fine).
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { _ in promise.fail(RedisError.connectionClosed) }
        let (channel, timeout) = (self.channel, replyTimeout)
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            let first = commands.first?.first ?? "?"
            promise.fail(RedisError.timedOut("\(first) got no reply within \(timeout.nanoseconds / 1_000_000) ms"))
            channel.close(promise: nil)
        }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        channel.writeAndFlush(request, promise: written)
        let replies = try await promise.futureResult.get()
        if replies.contains(where: Self.isReadOnlyRefusal) {
            // A replica answered: the master moved (a failover) and this connection stayed with
            // the old one. Closing it makes the next request connect again, to the new master.
            channel.close(promise: nil)
        }
        return replies
    }

    /// Whether `reply` is a replica's refusal of a write (`READONLY You can't write against a read only replica.`).
    static func isReadOnlyRefusal(_ reply: RedisValue) -> Bool {
        if case .error(let message) = reply { return message.hasPrefix("READONLY") }
        return false
    }

    /// Closes the connection; waiting requests fail with `RedisError.connectionClosed`.
    func close() async {
        try? await channel.close()
    }

    private func logIn(_ url: RedisURL) async throws {
        var commands: [[String]] = []
        if let password = url.password {
            commands.append(["AUTH"] + (url.username.map { [$0] } ?? []) + [password])
        }
        if url.database != 0 {
            commands.append(["SELECT", String(url.database)])
        }
        let replies = try await send(commands)
        for (command, reply) in zip(commands, replies) {
            if case .error(let message) = reply {
                throw RedisError.errorReply("\(command[0]) failed for \(url): \(message)")
            }
        }
    }

    private static func resolve(_ endpoint: RedisEndpoint) async throws -> SocketAddress {
        if let literal = try? SocketAddress(ipAddress: endpoint.host, port: endpoint.port) {
            return literal
        }
        return try await NIOThreadPool.singleton.runIfActive {
            try SocketAddress.makeAddressResolvingHost(endpoint.host, port: endpoint.port)
        }
    }
}
