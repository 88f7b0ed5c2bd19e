import Foundation
import Logging
import NIOPosix
import Testing
@testable import WSScaleBackends
import WSScaleCore
import WSScaleTestSupport

/// The leadership lease in a real redis-server, logged in as the balancer's ACL user (the
/// scripts' GET, SET, INCR, PEXPIRE and DEL are checked against its rights).
@Suite("Leadership lease in Redis")
struct RedisLeaderLeaseTests {
    static func withLease(_ body: (RedisLeaderLease, RedisConnection) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "wsscale-lease-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let acl = RedisACL.generate(keyPrefix: "pool")
        let logger = Logger(label: "test.lease")
        var server: RedisServerProcess?
        for _ in 0..<5 where server == nil {
            server = try? await RedisServerProcess.start(port: try TestSupport.freeLoopbackPort(), in: directory, acl: acl, logger: logger)
        }
        let redis = try #require(server, "redis-server did not start")
        let group = MultiThreadedEventLoopGroup.singleton
        let lease = RedisLeaderLease(url: redis.url, keyPrefix: "pool", eventLoopGroup: group, logger: logger)
        let inspector = try await RedisConnection.connect(to: redis.url, eventLoopGroup: group, logger: logger)
        do {
            try await body(lease, inspector)
        } catch {
            await inspector.close(); await lease.close(); _ = await redis.stop()
            throw error
        }
        await inspector.close(); await lease.close(); _ = await redis.stop()
    }

    @Test("a free lease is taken with a new token, renewed by its holder, refused to another; it lapses and the next holder's token is larger")
    func claimRenewLapse() async throws {
        try await Self.withLease { lease, redis in
            #expect(try await lease.current() == nil)
            // Leases far longer than the test: a lapse is only ever the test's PEXPIRE below, never
            // a busy machine's delay between two calls (CI once took over 600 ms between them).
            let first = try await lease.claim(holder: "b1/aa", duration: .seconds(30), nowMilliseconds: 111)
            #expect(first == LeaderRecord(holder: "b1/aa", token: 1, since: 111))
            #expect(try await lease.claim(holder: "b2/bb", duration: .seconds(60), nowMilliseconds: 222) == first)
            #expect(try await lease.claim(holder: "b1/aa", duration: .seconds(60), nowMilliseconds: 333) == first,
                    "a renewal keeps the token and the start")

            try await redis.send(["PEXPIRE", "pool:leader", "1"])  // as if the holder died a lease ago
            try await TestSupport.waitUntil("the lease lapsed") { try await lease.current() == nil }
            let second = try await lease.claim(holder: "b2/bb", duration: .seconds(5), nowMilliseconds: 444)
            #expect(second == LeaderRecord(holder: "b2/bb", token: 2, since: 444))
            #expect(try await lease.current() == second)
        }
    }

    @Test("claims from 20 balancers at the same moment give one holder; release ends only the holder's own lease")
    func simultaneousClaimsAndRelease() async throws {
        try await Self.withLease { lease, _ in
            let records = try await withThrowingTaskGroup(of: LeaderRecord.self) { group in
                for index in 0..<20 {
                    group.addTask { try await lease.claim(holder: "b\(index)/x", duration: .seconds(5), nowMilliseconds: 1) }
                }
                return try await group.reduce(into: [LeaderRecord]()) { $0.append($1) }
            }
            #expect(Set(records.map(\.holder)).count == 1 && records.allSatisfy { $0.token == 1 }, "\(records)")
            let leader = records[0]
            try await lease.release(LeaderRecord(holder: "someone-else/x", token: 1, since: 1))
            #expect(try await lease.current() == leader, "a release by another changes nothing")
            try await lease.release(leader)
            #expect(try await lease.current() == nil)
        }
    }
}
