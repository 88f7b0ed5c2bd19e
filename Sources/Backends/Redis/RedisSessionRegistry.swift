import Logging
import NIOCore
import ServiceLifecycle
import WSScaleCore

/// The balancer's side of the session registry in Redis (see `RedisKeySchema`).
///
/// `run()` keeps a subscription to `P:events` and, every second, removes hosts whose
/// lease expired (atomically, with their keys) and reports them as `.hostExpired`.
/// Change notifications are debounced per host (50 ms). When Redis comes back after an
/// outage, `.resynchronized` tells listeners to read everything again. Only a balancer that
/// leads (`mayWrite`) removes expired hosts; a standby changes nothing.
public final class RedisSessionRegistry: SessionRegistry, Service {
    private let url: RedisURL
    private let schema: RedisKeySchema
    private let eventLoopGroup: EventLoopGroup
    private let logger: Logger
    private let reads: RedisRegistryReads
    private let slot: RedisConnectionSlot
    private let eventStreams = StreamBroadcast<RegistryEvent>()
    private let debouncer: HostChangeDebouncer
    private let mayWrite: @Sendable () -> Bool
    /// How often expired leases are looked for.
    private let expiryCheckInterval: Duration = .seconds(1)

    /// Removes a host from `P:hosts` with its keys only if its lease is still expired, so a
    /// host that renewed meanwhile stays. KEYS: hosts, sessions, meta; ARGV: host, now.
    private static let expireHostScript = """
        local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
        if expiry and tonumber(expiry) < tonumber(ARGV[2]) then
          redis.call('ZREM', KEYS[1], ARGV[1])
          redis.call('DEL', KEYS[2], KEYS[3])
          return 1
        end
        return 0
        """

    /// Sets the draining flag only while the host's meta hash exists (a live host).
    /// KEYS: meta; ARGV: 1 or 0.
    private static let setDrainingScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then
          return redis.call('HSET', KEYS[1], 'draining', ARGV[1])
        end
        return -1
        """

    /// Creates the registry of a pool.
    /// - Parameters:
    ///   - url: the Redis server.
    ///   - keyPrefix: the pool's key prefix (the servers' prefix).
    ///   - eventLoopGroup: runs the Redis connections.
    ///   - logger: for connection problems and expired hosts.
    ///   - mayWrite: whether this balancer may change the registry now (it leads); expired
    ///     hosts are removed only then.
    public init(url: RedisURL, keyPrefix: String, eventLoopGroup: EventLoopGroup, logger: Logger,
                mayWrite: @escaping @Sendable () -> Bool = { true }) {
        self.mayWrite = mayWrite
        self.url = url
        self.schema = RedisKeySchema(prefix: keyPrefix)
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.reads = RedisRegistryReads(schema: schema)
        self.slot = RedisConnectionSlot(url: url, eventLoopGroup: eventLoopGroup, logger: logger)
        let streams = eventStreams
        self.debouncer = HostChangeDebouncer(delay: .milliseconds(50)) { streams.yield(.hostChanged($0)) }
    }

    /// Live hosts with their session counts: O(hosts).
    public func topology() async throws -> [HostSessions] {
        try await reads.topology(on: slot.connection(), now: millisecondsSince1970())
    }

    /// Every session of every live host, read with `HSCAN` per host.
    public func allSessions() async throws -> [SessionRecord] {
        try await reads.allSessions(on: slot.connection(), now: millisecondsSince1970())
    }

    /// Coalesced changes, from the moment of the call; a new stream each call.
    public func events() -> AsyncStream<RegistryEvent> {
        eventStreams.makeStream()
    }

    /// Asks a host to close its `count` most idle sessions (an order in its mailbox,
    /// `HostOrderMailbox`).
    @discardableResult
    public func shed(host: InstanceID, count: Int) async throws -> CommandDelivery {
        try await order(.shed(count: count), for: host)
    }

    /// Marks a host draining (or active again) in its meta hash and orders it so.
    @discardableResult
    public func setDraining(host: InstanceID, _ draining: Bool) async throws -> CommandDelivery {
        let redis = try await slot.connection()
        try await redis.send(["EVAL", Self.setDrainingScript, "1", schema.meta(of: host), draining ? "1" : "0"])
        return try await order(draining ? .drain : .activate, for: host)
    }

    /// Keeps the subscription and the lease checks until cancelled (or a graceful
    /// shutdown), reconnecting with backoff when Redis goes away.
    public func run() async throws {
        let loop = RedisReconnectLoop(url: url, eventLoopGroup: eventLoopGroup, logger: logger,
                                      channels: [schema.events])
        await cancelWhenGracefulShutdown {
            await loop.run { subscriber, reconnected in
                _ = try await self.slot.connection()
                if reconnected { self.eventStreams.yield(.resynchronized) }
                try await untilEitherEnds(
                    { try await self.relayChanges(from: subscriber) },
                    { try await self.expireLeasesContinuously() })
            }
        }
        await slot.close()
        eventStreams.finish()
    }

    /// Removes every host whose lease expired before `now` and reports it; returns them.
    @discardableResult
    func expireLeases(now: Int64 = millisecondsSince1970()) async throws -> [InstanceID] {
        let redis = try await slot.connection()
        let reply = try await redis.send(["ZRANGEBYSCORE", schema.hosts, "-inf", "(\(now)"])
        var expired: [InstanceID] = []
        for host in reply.array?.compactMap(\.string) ?? [] {
            let removed = try await redis.send([
                "EVAL", Self.expireHostScript, "3",
                schema.hosts, schema.sessions(of: host), schema.meta(of: host), host, String(now),
            ])
            guard removed.integer == 1 else { continue }
            logger.warning("host lease expired; its sessions left the topology", metadata: ["host": "\(host)"])
            expired.append(host)
            eventStreams.yield(.hostExpired(host))
        }
        return expired
    }

    private func expireLeasesContinuously() async throws {
        while true {
            if mayWrite() { try await expireLeases() }
            try await Task.sleep(for: expiryCheckInterval)
        }
    }

    private func relayChanges(from subscriber: RedisSubscriber) async throws {
        for await message in subscriber.messages {
            debouncer.note(message.payload)
        }
        if Task.isCancelled { return }
        throw RedisError.connectionClosed
    }

    /// Leaves `command` in the host's mailbox and rings its doorbell.
    private func order(_ command: HostCommand, for host: InstanceID) async throws -> CommandDelivery {
        let commands = HostOrderMailbox.sendCommands(command, to: host, schema: schema)
        let replies = try await slot.connection().pipeline(commands)
        if let (command, reply) = zip(commands, replies).first(where: { $0.1.isError }) {
            throw RedisError.errorReply("\(command[0]): \(reply)")
        }
        return (replies.last?.integer ?? 0) > 0 ? .heard : .waiting
    }
}
