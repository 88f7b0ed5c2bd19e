import Logging
import NIOCore

/// Asks a group's sentinels where its master is now (`SENTINEL get-master-addr-by-name`), the
/// first step of every connection to a `redis+sentinel://` URL, so each new connection goes to
/// the master of the moment. A connection to the old master dies with it (`kill -9`, or the
/// sentinels' `CLIENT KILL` when they demote it), a `READONLY` reply closes one that reached a
/// replica (`RedisChannel.send`), and the caller's reconnect then asks again.
///
/// Sentinels are asked in the URL's order; one that is down, slow, or does not know the master
/// is skipped. Each is asked without credentials, within a short deadline (1 s to connect,
/// 2 s to answer), so a dead sentinel costs little.
enum RedisSentinelLookup {
    /// The master's address as the first sentinel that knows it says.
    /// - Throws: `RedisError.unexpectedReply` naming each sentinel's answer or error when none knows it.
    static func master(of group: RedisSentinelGroup, eventLoopGroup: EventLoopGroup,
                       logger: Logger) async throws -> RedisEndpoint {
        var answers: [String] = []
        for sentinel in group.sentinels {
            do {
                let channel = try await RedisChannel.connect(
                    to: RedisURL(host: sentinel.host, port: sentinel.port), eventLoopGroup: eventLoopGroup,
                    logger: logger, connectTimeout: .seconds(1), replyTimeout: .seconds(2))
                let reply = try await { () async throws -> RedisValue in
                    defer { Task { await channel.close() } }
                    return try await channel.send([["SENTINEL", "get-master-addr-by-name", group.masterName]])[0]
                }()
                if let master = masterAddress(in: reply) { return master }
                answers.append("\(sentinel): \(reply == .null ? "does not know \(group.masterName)" : "answered \(reply)")")
            } catch {
                answers.append("\(sentinel): \(error)")
            }
        }
        logger.debug("no sentinel knows the master", metadata: ["master": "\(group.masterName)", "answers": "\(answers)"])
        throw RedisError.unexpectedReply("no sentinel gave the address of master \(group.masterName): \(answers.joined(separator: "; "))")
    }

    /// `[ip, port]`, the answer of `SENTINEL get-master-addr-by-name` for a known master.
    static func masterAddress(in reply: RedisValue) -> RedisEndpoint? {
        guard let parts = reply.array, parts.count == 2, let host = parts[0].string, !host.isEmpty,
              let port = parts[1].integer, (1...65535).contains(port) else { return nil }
        return RedisEndpoint(host: host, port: Int(port))
    }
}
