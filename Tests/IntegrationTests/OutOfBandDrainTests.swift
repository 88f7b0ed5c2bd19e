import Foundation
import Logging
import NIOPosix
import Testing
import WSScaleBackends
import WSScaleTestSupport

/// Drain state has one owner, the balancer, and one record, the registry's flag. A server
/// told to drain by anyone else (here: a `drain` order left in its mailbox with the balancer's
/// Redis rights) says so in its registry record; the balancer tells it the record again, so it does
/// not sit out of HAProxy's rotation (its `/health` at 503) while the balancer counts it active.
extension RealStackTests {
@Suite("drain state: one owner, one record")
struct OutOfBandDrainTests {
    @Test("a drain sent behind the balancer's back is undone: the server is told the record, /health is 200 again")
    func outOfBandDrainIsUndone() async throws {
        try await UpStack.with(["SCALE_IN_STABILIZATION_SECONDS": "120"]) { stack in
            _ = try await StackSupervisionTests.connectUsers(stack, "oob", 5)
            let target = try #require(try await stack.api.topology().instances.first { $0.state == "active" })
            let port = try #require(target.endpoint?.port)
            func health() async -> Int { (try? await RawHTTPClient.request("GET", "/health", port: port).status) ?? 0 }
            #expect(await health() == 200)

            let acl = try #require(RedisACL.parse(try String(contentsOfFile: stack.stateDirectory + "/redis/users.acl", encoding: .utf8),
                                                  keyPrefix: "wsscale"))
            let admin = try await RedisConnection.connect(to: acl.balancerURL(host: "127.0.0.1", port: stack.ports.redis),
                                                          eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                                                          logger: Logger(label: "out-of-band"))
            let clock = ContinuousClock()
            let sentAt = clock.now
            // An order as only the balancer's user can leave it: in the server's mailbox, then its doorbell.
            let replies = try await admin.pipeline([["HSET", "wsscale:host:\(target.id):orders", "state", "drain"],
                                                    ["PUBLISH", "wsscale:cmd:\(target.id)", "drain"]])
            await admin.close()
            #expect(replies.last?.integer == 1, "the server heard the out-of-band drain")
            #expect(await TestSupport.eventually(timeout: .seconds(10)) { await health() == 503 }, "the server drained")
            let drained = clock.now - sentAt

            let undone = await TestSupport.eventually(timeout: .seconds(60)) { await health() == 200 }
            #expect(undone, "the balancer did not tell \(target.id) the record again: \(stack.logTail(lines: 20))")
            let restored = clock.now - sentAt
            let topology = try await stack.api.topology()
            #expect(topology.instances.first { $0.id == target.id }?.state == "active")
            let told = topology.decisions.contains { decision in
                decision.kind == "reconcile" && decision.actions.contains { $0.contains("\(target.id) says it is draining") }
            }
            #expect(told, "no reconcile decision names it: \(topology.decisions.map(\.actions))")
            print("out-of-band drain of \(target.id): /health 503 after \(drained); told the record and /health 200 again after \(restored)")
        }
    }
}
}
