import Foundation
import Testing
import WSScaleBackends
import WSScaleTestSupport

/// `wsscale up` on a Redis that fails over: a master, a replica and three sentinels
/// (`TestSentinelGroup`), `REDIS_URL=redis+sentinel://wsscale-balancer:…@…/wsscale-test`; the
/// balancer makes each server's Redis user on the master, and again on the new one after the
/// failover (Redis does not replicate users).
extension RealStackTests {
@Suite("Redis Sentinel under the whole stack")
struct SentinelStackTests {
    @Test("kill -9 of the Redis master under 20 users on 3 servers: the topology is complete again on the new master, nobody is cut or moved, no pool change")
    func masterKilled() async throws {
        let sentinels = try await TestSentinelGroup.start(replicas: 1, sentinelCount: 3)
        defer { sentinels.stop() }
        try await UpStack.with(["REDIS_URL": sentinels.balancerURL, "SCALE_IN_STABILIZATION_SECONDS": "120"]) { stack in
            let users = try await StackSupervisionTests.connectUsers(stack, "sentinel", 20)
            let before = try await stack.api.topology()
            let ids = before.instances.map(\.id)
            let reconnectsBefore = try await stack.api.clientStatus().totals.reconnects
            let old = try await sentinels.masterPort()

            let clock = ContinuousClock()
            await sentinels.killNode(port: old)
            let killedAt = clock.now
            let newMaster = try await sentinels.waitForFailover(from: old)
            let failedOver = clock.now - killedAt
            let failedOverMs = RedisFaultStackTests.nowMilliseconds
            let onNew = try await sentinels.connection(port: newMaster)
            defer { Task { await onNew.close() } }
            let schema = RedisKeySchema()
            func stored() async throws -> Int {
                var total = 0
                for id in ids { total += Int(try await onNew.send(["HLEN", schema.sessions(of: id)]).integer ?? 0) }
                return total
            }
            try await TestSupport.waitUntil("every session on the new master and in the balancer's topology", timeout: .seconds(30), {
                let topology = try await stack.api.topology()
                let onMaster = try await stored()
                return (topology.observedAt ?? 0) > failedOverMs && topology.totalSessions == users.count
                    && Set(topology.instances.map(\.id)) == Set(ids) && onMaster == users.count
            }, describe: { "\(await stack.scenario.describeState())\n\(sentinels.logTails())" })
            let complete = clock.now - killedAt
            let completeMs = RedisFaultStackTests.nowMilliseconds

            // Past the rebalance cooldown on the complete topology: a move for the failover is decided by now.
            let after = try await RedisFaultStackTests.readingAfter(completeMs + 1500, stack)
            let client = try await stack.api.clientStatus()
            let changes = RedisFaultStackTests.poolChanges(after.decisions(after: before.lastDecisionSequence))
            print("Redis Sentinel, kill -9 of the master under \(users.count) users on \(ids.count) servers: the sentinels failed over after "
                  + "\(failedOver); the topology was complete on the new master \(complete) after the kill; "
                  + "reconnects \(reconnectsBefore) → \(client.totals.reconnects), pool changes \(changes)")
            #expect(client.allConnected(users), "nobody was cut")
            let state = await stack.scenario.describeState()
            #expect(client.totals.reconnects == reconnectsBefore, "nobody was moved: \(state)")
            #expect(changes.isEmpty, "no launch, drain or shed for the failover: \(changes)")
            #expect(after.instances.map(\.id).sorted() == ids.sorted() && after.totalSessions == users.count)
        }
    }
}
}
