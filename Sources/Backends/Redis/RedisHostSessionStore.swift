import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import WSScaleCore

/// The server's side of the session registry in Redis (see `RedisKeySchema` for the keys).
///
/// - `sessionOpened` / `sessionClosed` / `sessionTouched` only change an in-memory table
///   under a lock; a writer task flushes the changes every 100 ms as one pipeline of
///   multi-field `HSET` / `HDEL`, and last-active times go out lazily with the lease renewal.
/// - The lease (`ZADD P:hosts`, `PEXPIRE` of the host's keys) is renewed every third of
///   its length; a server that dies leaves the topology within one lease.
/// - A `P:events` notification goes out with a flush when the count changed, so at most
///   one every 100 ms whatever the rate of opens and closes.
/// - The balancer's orders wait in `P:host:{host}:orders` (`HostOrderMailbox`): the store
///   takes them when `P:cmd:{host}` rings and each time its subscription is made, and yields
///   them by `commands()`; another host's drop requests on `P:drop:{host}` are yielded as
///   they come.
/// - When Redis goes away the server keeps serving: the table keeps changing, the store
///   reconnects with exponential backoff and jitter, then rewrites the whole set
///   (`DEL` + `HSET` all + lease, in one `MULTI`).
/// - `run()` runs until cancelled, then deletes this host's records and leaves `P:hosts`.
public final class RedisHostSessionStore: HostSessionStore, Service {
    private let url: RedisURL
    private let schema: RedisKeySchema
    private let host: InstanceID
    private let lease: Duration
    private let eventLoopGroup: EventLoopGroup
    private let logger: Logger
    private let reads: RedisRegistryReads
    private let slot: RedisConnectionSlot
    private let table = NIOLockedValueBox(HostSessionTable())
    /// Callers of `flushed(within:)` waiting for the next flush; changed only while the
    /// table's lock is held too, so a flush answers exactly those whose changes it took.
    private let flushWaiters = NIOLockedValueBox<[FlushWaiter]>([])
    private let commandStreams = StreamBroadcast<HostCommand>()
    private let leavesRecordsOnExit = NIOLockedValueBox(false)
    /// How often pending opens and closes are written (and a notification may go out).
    private let flushInterval: Duration = .milliseconds(100)
    /// Records per `HSET` / `HDEL` command in a pipeline.
    private let batchSize = 500

    /// Creates the store of one server.
    /// - Parameters:
    ///   - url: the Redis server.
    ///   - keyPrefix: the pool's key prefix (`wsscale` by default elsewhere).
    ///   - host: this server's instance id.
    ///   - leaseDuration: how long the host stays in the topology without a renewal.
    ///   - eventLoopGroup: runs the Redis connections.
    ///   - logger: for connection problems.
    public init(url: RedisURL, keyPrefix: String, host: InstanceID, leaseDuration: Duration,
                eventLoopGroup: EventLoopGroup, logger: Logger) {
        self.url = url
        self.schema = RedisKeySchema(prefix: keyPrefix)
        self.host = host
        self.lease = leaseDuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.reads = RedisRegistryReads(schema: schema)
        self.slot = RedisConnectionSlot(url: url, eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// Records a new session; written with the next flush.
    public func sessionOpened(_ record: SessionRecord) {
        table.withLockedValue { $0.open(record) }
    }

    /// Removes a session's record; written with the next flush.
    public func sessionClosed(sessionId: String) {
        table.withLockedValue { $0.close(sessionId: sessionId) }
    }

    /// Returns once the next flush has written every change recorded before the call (at most
    /// one flush interval, 100 ms), or after `timeout` when Redis is away.
    public func flushed(within timeout: Duration) async {
        let waiter = FlushWaiter()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            waiter.wait(with: continuation)
            table.withLockedValue { _ in flushWaiters.withLockedValue { $0.append(waiter) } }
            Task {
                try? await Task.sleep(for: timeout)
                waiter.resume()
            }
        }
    }

    /// Moves a session's last-active time; written with the next lease renewal.
    public func sessionTouched(sessionId: String, at millisecondsSince1970: Int64) {
        table.withLockedValue { $0.touch(sessionId: sessionId, at: millisecondsSince1970) }
    }

    /// Commands for this host, in order, from the moment of the call.
    public func commands() -> AsyncStream<HostCommand> {
        commandStreams.makeStream()
    }

    /// Asks another host to drop a session (`drop ID`, or `shed 1` for its most idle one),
    /// on that host's drop channel: the only channel a server's Redis user may publish to for
    /// another host. Other commands are the balancer's.
    /// - Returns: whether the host was subscribed and got it (`PUBLISH` counts its receivers).
    public func send(_ command: HostCommand, to host: InstanceID) async throws -> Bool {
        guard Self.isPeerRequest(command) else {
            throw RedisError.errorReply("a host may ask another host only to drop a session, not \(HostCommandWireFormat.encode(command))")
        }
        let receivers = try await slot.connection().send(["PUBLISH", schema.drops(for: host), HostCommandWireFormat.encode(command)])
        return (receivers.integer ?? 0) > 0
    }

    /// What one host may ask of another: a drop, or a shed of one session.
    static func isPeerRequest(_ command: HostCommand) -> Bool {
        switch command {
        case .drop, .shed(count: 1): return true
        case .shed, .drain, .activate: return false
        }
    }

    /// Whether `P:host:{host}:sessions` holds `sessionId` (one `HGET`, which a server's user may
    /// run on another host's keys).
    public func holds(sessionId: String, on host: InstanceID) async throws -> Bool {
        let reply = try await slot.connection().send(["HGET", schema.sessions(of: host), sessionId])
        if reply.isError { throw RedisError.errorReply("HGET \(schema.sessions(of: host)): \(reply)") }
        return reply.string != nil
    }

    /// Every session of every live host, read with `HSCAN` per host.
    public func allSessions() async throws -> [SessionRecord] {
        try await reads.allSessions(on: slot.connection(), now: millisecondsSince1970())
    }

    /// This host's sessions as the store holds them in memory.
    public var localSessions: [SessionRecord] {
        table.withLockedValue { Array($0.sessions.values) }
    }

    /// Keeps the records, the lease and the command subscription until cancelled (or a
    /// graceful shutdown), reconnecting whenever Redis goes away; then removes this host's records.
    public func run() async throws {
        let loop = RedisReconnectLoop(url: url, eventLoopGroup: eventLoopGroup, logger: logger,
                                      channels: [schema.commands(for: host), schema.drops(for: host)])
        await cancelWhenGracefulShutdown {
            await loop.run { subscriber, _ in
                let redis = try await self.slot.connection()
                // Subscribed: orders left while it was not are taken now (before the rewrite,
                // which writes the draining state they may change); later ones ring.
                try await self.takeOrders(on: redis)
                try await self.rewriteEverything(on: redis)
                try await untilEitherEnds(
                    { try await self.writeContinuously(on: redis) },
                    { try await self.relayCommands(from: subscriber) })
            }
        }
        await removeRecords()
        commandStreams.finish()
    }

    /// Makes the next `run()` exit without removing its records, as a crashed server
    /// would leave them (for tests of lease expiry).
    func leaveRecordsOnExit() {
        leavesRecordsOnExit.withLockedValue { $0 = true }
    }

    // MARK: Writing

    /// Flushes changes every `flushInterval` and renews the lease every third of it.
    private func writeContinuously(on redis: RedisConnection) async throws {
        let clock = ContinuousClock()
        let renewEvery = lease / 3
        var nextRenewal = clock.now + renewEvery
        while true {
            try await Task.sleep(for: flushInterval)
            try await flushChanges(on: redis)
            if clock.now >= nextRenewal {
                nextRenewal = clock.now + renewEvery
                try await renewLease(on: redis)
            }
        }
    }

    private func flushChanges(on redis: RedisConnection) async throws {
        let (changes, waiters) = table.withLockedValue { table in
            (table.takeChanges(), flushWaiters.withLockedValue { waiters in
                defer { waiters = [] }
                return waiters
            })
        }
        defer { for waiter in waiters { waiter.resume() } }
        guard !changes.isEmpty else { return }
        let sessionsKey = schema.sessions(of: host)
        var commands = upsertCommands(changes.upserts)
        for chunk in changes.removals.chunks(of: batchSize) {
            commands.append(["HDEL", sessionsKey] + chunk)
        }
        if !changes.upserts.isEmpty {
            commands.append(["PEXPIRE", sessionsKey, String(lease.wholeMilliseconds)])
        }
        if changes.countChanged {
            commands.append(["PUBLISH", schema.events, host])
        }
        try check(await redis.pipeline(commands), of: commands)
    }

    private func renewLease(on redis: RedisConnection) async throws {
        let (touched, draining) = table.withLockedValue { ($0.takeTouched(), $0.draining) }
        let leaseMs = String(lease.wholeMilliseconds)
        var commands = upsertCommands(touched)
        let hostAdded = commands.count
        commands.append(["ZADD", schema.hosts, String(millisecondsSince1970() + lease.wholeMilliseconds), host])
        commands.append(["PEXPIRE", schema.sessions(of: host), leaseMs])
        let metaRenewed = commands.count
        commands.append(["PEXPIRE", schema.meta(of: host), leaseMs])
        // What this host says of itself, for the balancer to compare with its record. After
        // the PEXPIRE, whose answer tells whether the records expired (then all is rewritten).
        commands.append(["HSET", schema.meta(of: host), "hostDraining", draining ? "1" : "0"])
        let replies = try await redis.pipeline(commands)
        try check(replies, of: commands)
        // ZADD answers 1 when it had to add the host again: its lease had expired and the
        // registry removed it with its records (for example after a long pause). PEXPIRE of
        // the meta hash (always written with the host) answers 0 when that key is gone: Redis
        // itself expired the records (it was stopped or paused past the lease) while the host
        // stayed listed. Either way, write it all again.
        let readded = replies[hostAdded].integer == 1
        let recordsGone = replies[metaRenewed].integer == 0
        if readded || recordsGone {
            logger.warning("lease had expired; rewriting this host's sessions",
                           metadata: ["host": "\(host)", "why": "\(readded ? "the host was removed" : "its records expired")"])
            try await rewriteEverything(on: redis)
        }
    }

    /// Replaces this host's records with the table's whole set, atomically, renews the
    /// lease and announces the host.
    private func rewriteEverything(on redis: RedisConnection) async throws {
        let (records, draining) = table.withLockedValue { ($0.takeEverything(), $0.draining) }
        let sessionsKey = schema.sessions(of: host)
        let metaKey = schema.meta(of: host)
        let leaseMs = String(lease.wholeMilliseconds)
        var commands: [[String]] = [["MULTI"], ["DEL", sessionsKey]]
        commands += upsertCommands(records)
        commands += [
            ["HSET", metaKey, "draining", draining ? "1" : "0", "hostDraining", draining ? "1" : "0"],
            ["PEXPIRE", sessionsKey, leaseMs],
            ["PEXPIRE", metaKey, leaseMs],
            ["ZADD", schema.hosts, String(millisecondsSince1970() + lease.wholeMilliseconds), host],
            ["EXEC"],
            ["PUBLISH", schema.events, host],
        ]
        let replies = try await redis.pipeline(commands)
        try check(replies, of: commands)
        if let results = replies[commands.count - 2].array, let failed = results.first(where: \.isError) {
            throw RedisError.errorReply("rewrite of \(host)'s sessions failed: \(failed)")
        }
        logger.debug("wrote this host's sessions", metadata: ["host": "\(host)", "sessions": "\(records.count)"])
    }

    private func upsertCommands(_ records: [SessionRecord]) -> [[String]] {
        let sessionsKey = schema.sessions(of: host)
        return records.chunks(of: batchSize).map { chunk in
            ["HSET", sessionsKey] + zip(chunk, SessionRecordJSON.encode(chunk)).flatMap { [$0.sessionId, $1] }
        }
    }

    private func check(_ replies: [RedisValue], of commands: [[String]]) throws {
        for (command, reply) in zip(commands, replies) {
            if case .error(let message) = reply {
                throw RedisError.errorReply("\(command[0]): \(message)")
            }
        }
    }

    private func removeRecords() async {
        guard !leavesRecordsOnExit.withLockedValue({ $0 }) else {
            await slot.close()
            return
        }
        do {
            let redis = try await slot.connection()
            try await redis.pipeline([
                ["DEL", schema.sessions(of: host), schema.meta(of: host)],
                ["ZREM", schema.hosts, host],
                ["PUBLISH", schema.events, host],
            ])
            logger.info("removed this host from the session registry", metadata: ["host": "\(host)"])
        } catch {
            logger.warning("could not remove this host's sessions; its lease will expire",
                           metadata: ["host": "\(host)", "error": "\(error)"])
        }
        await slot.close()
    }

    // MARK: Commands

    private func relayCommands(from subscriber: RedisSubscriber) async throws {
        for await message in subscriber.messages {
            if message.channel == schema.commands(for: host) {
                // The doorbell: what counts is what waits in the mailbox.
                try await takeOrders(on: slot.connection())
                continue
            }
            guard let command = HostCommandWireFormat.decode(message.payload) else {
                logger.warning("ignoring a malformed host command", metadata: ["message": "\(message.payload)"])
                continue
            }
            guard Self.isPeerRequest(command) else {
                logger.warning("ignoring a command only the balancer may give, sent on the drop channel",
                               metadata: ["message": "\(message.payload)"])
                continue
            }
            carryOut(command)
        }
        if Task.isCancelled { return }
        throw RedisError.connectionClosed
    }

    /// Takes this host's waiting orders (and deletes them) in one `MULTI`, and carries them out.
    private func takeOrders(on redis: RedisConnection) async throws {
        let commands = HostOrderMailbox.takeCommands(host: host, schema: schema)
        let replies = try await redis.pipeline(commands)
        try check(replies, of: commands)
        guard let taken = replies.last?.array?.first?.array else {
            throw RedisError.errorReply("taking \(host)'s orders failed: \(String(describing: replies.last))")
        }
        let (orders, malformed) = HostOrderMailbox.orders(fromHash: taken.compactMap(\.string))
        if !malformed.isEmpty {
            logger.warning("ignoring malformed orders", metadata: ["orders": "\(malformed)"])
        }
        for order in orders { carryOut(order) }
    }

    private func carryOut(_ command: HostCommand) {
        switch command {
        case .drain: table.withLockedValue { $0.draining = true }
        case .activate: table.withLockedValue { $0.draining = false }
        case .shed, .drop: break
        }
        commandStreams.yield(command)
    }
}

/// One caller of `RedisHostSessionStore.flushed(within:)`: resumed once, by the flush that
/// took its changes or by its timeout, whichever comes first.
private final class FlushWaiter: Sendable {
    private let continuation = NIOLockedValueBox<CheckedContinuation<Void, Never>?>(nil)

    func wait(with continuation: CheckedContinuation<Void, Never>) {
        self.continuation.withLockedValue { $0 = continuation }
    }

    func resume() {
        continuation.withLockedValue { continuation in
            defer { continuation = nil }
            return continuation
        }?.resume()
    }
}

extension Array {
    /// The array cut into consecutive pieces of at most `size` elements.
    func chunks(of size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
