import Foundation
import Logging
import NIOPosix
@testable import WSScaleBackends
import WSScaleCore
import WSScaleTestSupport
import Testing

/// `redis+sentinel://` against real redis-server masters, replicas and sentinels
/// (`TestSentinelGroup`): connections go to the master of the moment, and the servers' stores
/// and the balancer's registry follow a failover.
@Suite("Redis Sentinel: connections follow the master")
struct RedisSentinelTests {
    static let logger: Logger = {
        var logger = Logger(label: "test.redis-sentinel")
        logger.logLevel = .warning
        return logger
    }()

    /// The `tcp_port` and `role` of the Redis server a connection reached.
    static func whereAmI(_ connection: RedisConnection) async throws -> (port: Int, role: String) {
        let info = try await connection.send(["INFO", "server"]).string ?? ""
        let replication = try await connection.send(["INFO", "replication"]).string ?? ""
        func field(_ name: String, in text: String) -> String? {
            text.split(whereSeparator: \.isNewline).first { $0.hasPrefix(name + ":") }
                .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
        }
        return (Int(field("tcp_port", in: info) ?? "") ?? -1, field("role", in: replication) ?? "?")
    }

    @Test("a redis+sentinel:// URL connects to the master its sentinels name, past a sentinel that is down")
    func connectsToTheMaster() async throws {
        let sentinels = try await TestSentinelGroup.start(replicas: 1, sentinelCount: 1)
        defer { sentinels.stop() }
        var url = try RedisURL(parsing: sentinels.url)
        let dead = try TestSupport.freeLoopbackPort()
        url.sentinel?.sentinels.insert(RedisEndpoint(host: "127.0.0.1", port: dead), at: 0)
        let connection = try await RedisConnection.connect(to: url, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                                                           logger: Self.logger)
        defer { Task { await connection.close() } }
        let reached = try await Self.whereAmI(connection)
        #expect(reached.port == sentinels.nodePorts[0] && reached.role == "master", "\(reached)")

        // A name no sentinel monitors: an error naming each sentinel's answer, not a hang.
        url.sentinel?.masterName = "nobody"
        let error = await #expect(throws: RedisError.self) {
            try await RedisConnection.connect(to: url, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Self.logger)
        }
        let message = "\(error.map { "\($0)" } ?? "")"
        #expect(message.contains("no sentinel gave the address of master nobody"), "\(message)")
        #expect(message.contains("127.0.0.1:\(dead)") && message.contains("does not know nobody"), "\(message)")
    }

    @Test("a +switch-master announcement names the new master of the group it is about")
    func readsSwitchAnnouncements() {
        #expect(RedisSentinelWatch.newMaster(in: "wsscale 127.0.0.1 6379 127.0.0.1 6380", name: "wsscale")
                == RedisEndpoint(host: "127.0.0.1", port: 6380))
        #expect(RedisSentinelWatch.newMaster(in: "other 127.0.0.1 6379 127.0.0.1 6380", name: "wsscale") == nil)
        #expect(RedisSentinelWatch.newMaster(in: "wsscale 127.0.0.1 6379 127.0.0.1", name: "wsscale") == nil)
        #expect(RedisSentinelWatch.newMaster(in: "wsscale a 1 b 99999", name: "wsscale") == nil)
    }

    @Test("a write a replica refuses (READONLY) closes the connection, so the next request connects again")
    func aReadOnlyRefusalClosesTheConnection() async throws {
        let sentinels = try await TestSentinelGroup.start(replicas: 1, sentinelCount: 1)
        defer { sentinels.stop() }
        let replica = try await sentinels.connection(port: sentinels.nodePorts[1])
        await #expect(throws: RedisError.self) { try await replica.send(["SET", "k", "v"]) }
        try await TestSupport.waitUntil("the connection to the replica is closed", timeout: .seconds(5)) { !replica.isActive }
    }

    @Test("a server's store and the balancer's registry follow kill -9 of the master, then a master cut off from the sentinels: every session on the master of the moment, none on the cut-off one")
    func storeAndRegistryFollowFailovers() async throws {
        let sentinels = try await TestSentinelGroup.start(replicas: 2, sentinelCount: 3)
        defer { sentinels.stop() }
        let group = MultiThreadedEventLoopGroup.singleton
        let schema = RedisKeySchema()
        // As in production: the registry logs in as the balancer, the store as its server's own
        // user (made on every node here: the balancer makes it on the master only, and again
        // after a failover, through `RedisServerUserDriver`).
        let user = RedisServerUser(id: "ws-f", acl: sentinels.acl)
        try await sentinels.onEveryNode(user.setUserCommand)
        let store = RedisHostSessionStore(url: user.url(at: try RedisURL(parsing: sentinels.url)), keyPrefix: "wsscale",
                                          host: "ws-f", leaseDuration: .seconds(10), eventLoopGroup: group, logger: Self.logger)
        let registry = RedisSessionRegistry(url: try RedisURL(parsing: sentinels.balancerURL), keyPrefix: "wsscale",
                                            eventLoopGroup: group, logger: Self.logger)
        let running = [Task { try await store.run() }, Task { try await registry.run() }]
        defer { running.forEach { $0.cancel() } }
        let events = StreamRecorder(registry.events())
        (1...40).forEach { store.sessionOpened(testSession("f\($0)", host: "ws-f")) }
        try await TestSupport.waitUntil("40 sessions in the registry", timeout: .seconds(10)) {
            try await registry.topology().map(\.sessions) == [40]
        }

        // kill -9 of the master; sessions open meanwhile.
        let clock = ContinuousClock()
        let first = try await sentinels.masterPort()
        await sentinels.killNode(port: first)
        let killedAt = clock.now
        (41...50).forEach { store.sessionOpened(testSession("f\($0)", host: "ws-f")) }
        let second = try await sentinels.waitForFailover(from: first)
        let failedOver = clock.now - killedAt
        try await TestSupport.waitUntil("all 50 sessions in the registry on the new master", timeout: .seconds(20), {
            try await registry.topology().map(\.sessions) == [50]
        }, describe: { sentinels.logTails() })
        let complete = clock.now - killedAt
        let onSecond = try await sentinels.connection(port: second)
        defer { Task { await onSecond.close() } }
        #expect(try await onSecond.send(["HLEN", schema.sessions(of: "ws-f")]).integer == 50)
        #expect(Set(try await registry.allSessions().map(\.sessionId)) == Set((1...50).map { "f\($0)" }))
        try await TestSupport.waitUntil("the registry announced its resynchronization", timeout: .seconds(5)) {
            events.received.contains(.resynchronized)
        }

        // The master cut off from the sentinels, not from us: it stays a master and would take
        // our writes. The watch closes our connections to it at the switch.
        try await sentinels.partitionFromSentinels(port: second)
        let cutAt = clock.now
        let third = try await sentinels.waitForFailover(from: second)
        let switched = clock.now - cutAt
        func ours(_ clients: String) -> [Substring] {
            clients.split(whereSeparator: \.isNewline).filter { $0.contains("user=\(user.name) ") || $0.contains("user=\(RedisACL.balancerUser) ") }
        }
        try await TestSupport.waitUntil("no connection of the store or the registry left on the cut-off master", timeout: .seconds(10), {
            ours(try await onSecond.send(["CLIENT", "LIST"]).string ?? "").isEmpty
        }, describe: { (try? await onSecond.send(["CLIENT", "LIST"]).string) ?? "" })
        let left = clock.now - cutAt
        (51...55).forEach { store.sessionOpened(testSession("f\($0)", host: "ws-f")) }
        let onThird = try await sentinels.connection(port: third)
        defer { Task { await onThird.close() } }
        try await TestSupport.waitUntil("55 sessions on the third master and in the registry", timeout: .seconds(20), {
            let stored = try await onThird.send(["HLEN", schema.sessions(of: "ws-f")]).integer
            let read = try await registry.topology().map(\.sessions)
            return stored == 55 && read == [55]
        }, describe: { sentinels.logTails() })
        #expect(try await onSecond.send(["ROLE"]).array?.first?.string == "master", "the cut-off one still believes it is the master")
        for id in 51...55 {
            #expect(try await onSecond.send(["HEXISTS", schema.sessions(of: "ws-f"), "f\(id)"]).integer == 0,
                    "f\(id) was written to the cut-off master")
        }
        print("Redis Sentinel, kill -9 of the master: sentinels failed over after \(failedOver), registry complete on the new master "
              + "\(complete) after the kill; master cut off from the sentinels: switched after \(switched), our connections left it "
              + "\(left) after the cut, complete on the third master \(clock.now - cutAt) after it")
    }
}
