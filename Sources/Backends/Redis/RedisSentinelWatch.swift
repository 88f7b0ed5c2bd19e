import Logging
import NIOConcurrencyHelpers
import NIOCore
import WSScaleCore

/// Closes this process's connections to a master its sentinels no longer name, so each one
/// connects again, to the new master (`RedisSentinelLookup`).
///
/// A master that dies takes its connections with it; one that is demoted, or cut off from the
/// sentinels, may not: it keeps taking writes until the sentinels turn it into a replica (they
/// wait 8 s after the switch before they do) or forever, if they cannot reach it. Those writes
/// would be lost. So every connection made through a `redis+sentinel://` URL is watched: one
/// subscription per process and sentinel group to `+switch-master` on one of the sentinels, and
/// on each switch of the group's master every watched connection to another address is closed.
/// Each time the subscription is made, the sentinels are asked for the master once, for a switch
/// missed meanwhile.
///
/// The subscription lives while connections are watched, moving to the next sentinel when its
/// sentinel goes away, and ends with the last connection.
final class RedisSentinelWatch: Sendable {
    private struct Watched {
        var channel: any Channel
        var master: RedisEndpoint
    }

    private struct State {
        var watched: [ObjectIdentifier: Watched] = [:]
        var running = false
    }

    /// One watch per sentinel group in this process.
    private static let watches = NIOLockedValueBox<[RedisSentinelGroup: RedisSentinelWatch]>([:])
    /// How often a watch with nothing left to watch notices it.
    private static let idleCheck: Duration = .seconds(2)
    /// Waits between subscription attempts when no sentinel answers.
    private static let backoff = Backoff(base: .milliseconds(100), cap: .seconds(2), jitter: .half)

    private let group: RedisSentinelGroup
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    private init(group: RedisSentinelGroup, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.group = group
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Watches `channel`, connected to `master`, until it closes.
    static func watch(_ channel: any Channel, connectedTo master: RedisEndpoint, group: RedisSentinelGroup,
                      eventLoopGroup: any EventLoopGroup, logger: Logger) {
        let watch = watches.withLockedValue { watches in
            if let existing = watches[group] { return existing }
            let made = RedisSentinelWatch(group: group, eventLoopGroup: eventLoopGroup, logger: logger)
            watches[group] = made
            return made
        }
        watch.add(channel, master: master)
    }

    /// The connections watched now (for tests).
    static func watchedCount(for group: RedisSentinelGroup) -> Int {
        watches.withLockedValue { $0[group] }?.state.withLockedValue { $0.watched.count } ?? 0
    }

    private func add(_ channel: any Channel, master: RedisEndpoint) {
        let id = ObjectIdentifier(channel)
        let starts = state.withLockedValue { state in
            state.watched[id] = Watched(channel: channel, master: master)
            defer { state.running = true }
            return !state.running
        }
        channel.closeFuture.whenComplete { _ in
            self.state.withLockedValue { _ = $0.watched.removeValue(forKey: id) }
        }
        if starts { Task { await self.run() } }
    }

    /// Closes every watched connection to another address than `master`.
    func follow(_ master: RedisEndpoint) {
        let stale = state.withLockedValue { $0.watched.values.filter { $0.master != master } }
        guard !stale.isEmpty else { return }
        logger.notice("the Redis master moved; closing connections to the old one",
                      metadata: ["master": "\(group.masterName)", "now": "\(master)",
                                 "closing": "\(stale.count)"])
        for watched in stale { watched.channel.close(promise: nil) }
    }

    /// Whether nothing is watched any more; then the watch stops (under the same lock as `add`).
    private func stopsWhenIdle() -> Bool {
        state.withLockedValue { state in
            guard state.watched.isEmpty else { return false }
            state.running = false
            return true
        }
    }

    private func run() async {
        var failures = 0
        while !stopsWhenIdle() {
            for sentinel in group.sentinels {
                if stopsWhenIdle() { return }
                do {
                    try await listen(to: sentinel)
                    failures = 0
                } catch {
                    logger.debug("sentinel subscription ended", metadata: ["sentinel": "\(sentinel)", "error": "\(error)"])
                }
            }
            failures += 1
            try? await Task.sleep(for: Self.backoff.delay(forAttempt: failures))
        }
    }

    /// Subscribes to `+switch-master` on `sentinel` and follows each switch of the group's
    /// master until the subscription ends (it throws) or nothing is watched (it returns).
    private func listen(to sentinel: RedisEndpoint) async throws {
        let subscriber = try await RedisSubscriber.connect(to: RedisURL(host: sentinel.host, port: sentinel.port),
                                                           eventLoopGroup: eventLoopGroup, logger: logger)
        do {
            try await subscriber.subscribe([Self.switchChannel])
            follow(try await RedisSentinelLookup.master(of: group, eventLoopGroup: eventLoopGroup, logger: logger))
            try await untilEitherEnds({
                for await message in subscriber.messages {
                    if let master = Self.newMaster(in: message.payload, name: self.group.masterName) { self.follow(master) }
                }
                throw RedisError.connectionClosed
            }, {
                while !self.state.withLockedValue({ $0.watched.isEmpty }) { try await Task.sleep(for: Self.idleCheck) }
            })
        } catch {
            await subscriber.close()
            throw error
        }
        await subscriber.close()
    }

    /// The channel on which sentinels announce a new master.
    static let switchChannel = "+switch-master"

    /// The new master in a `+switch-master` message (`<name> <old ip> <old port> <new ip> <new port>`)
    /// about `name`; `nil` for another master or a malformed message.
    static func newMaster(in payload: String, name: String) -> RedisEndpoint? {
        let words = payload.split(separator: " ")
        guard words.count == 5, words[0] == name, let port = Int(words[4]), (1...65535).contains(port) else { return nil }
        return RedisEndpoint(host: String(words[3]), port: port)
    }
}
