import Logging
import Testing
import WSScaleTestSupport
@testable import WSScaleCore

/// A standby reads and shows the pool and changes nothing; the moment it leads, it acts on
/// the pool as it finds it.
@Suite("Autoscaler: a standby changes nothing", .timeLimit(.minutes(1)))
struct AutoscalerLeadershipTests {
    @Test("a standby shows the pool and who leads, handles no exit, corrects nothing, plans nothing; once it leads it adopts and acts")
    func standbyThenLeader() async throws {
        let harness = LoopHarness()
        await harness.driver.adopt("ws-a", port: 9001)
        await harness.driver.adopt("ws-b", port: 9002)
        await harness.balancer.preload("ws-a", port: 9001, state: .ready)  // ws-b is missing from the proxy
        await harness.registry.setHost("ws-a", sessions: 3)
        let leadership = Leadership(holder: "b2/1", validity: .seconds(5), clock: harness.clock)
        leadership.claimReturned(LeaderRecord(holder: "b1/1", token: 7, since: 1), sentAt: .zero)
        let probe = PlannerProbe()
        let loop = harness.makeLoop(planner: TargetCountPlanner(target: 4, probe: probe), leadership: leadership)

        _ = await harness.step(loop, .startup, .exit(InstanceExit(id: "ws-a", exitCode: 1, reason: "crashed")))
        #expect(harness.calls.all == [], "a standby called \(harness.calls.all)")
        #expect(probe.planCalls == 0)
        let standby = await loop.status()
        #expect(standby.instances.map(\.id) == ["ws-a", "ws-b"])
        #expect(standby.leadership == LeadershipStatus(holder: "b2/1", leading: false,
                                                       leader: LeaderRecord(holder: "b1/1", token: 7, since: 1)))
        #expect(standby.decisions.isEmpty)

        // The lease is ours: the next wake puts ws-b back in the proxy and launches the rest.
        leadership.claimReturned(LeaderRecord(holder: "b2/1", token: 8, since: 2), sentAt: harness.clock.now.offset)
        let jobs = await harness.step(loop, .leadershipChanged)
        await harness.finish(jobs)
        #expect(await harness.balancer.state(of: "ws-b") == .ready)
        #expect(probe.planCalls == 1)
        #expect(harness.calls.all.filter { $0.hasPrefix("driver.launch") }.count == 2)
        #expect(await loop.status().leadership?.leading == true)
    }
}
