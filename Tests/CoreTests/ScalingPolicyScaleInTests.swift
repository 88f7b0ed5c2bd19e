import Testing
@testable import WSScaleCore

/// Rule 2: scale in after the stabilization window, least loaded first, never below MIN_INSTANCES.
@Suite struct ScalingPolicyScaleInTests {
    /// Plans the same snapshot at each time and returns the drained ids of each plan.
    static func drains(_ snapshot: TopologySnapshot, at times: [Int],
                       configuration: ScalingConfiguration = .seed) -> [[InstanceID]] {
        var policy = PacedPolicy(configuration: configuration)
        return times.map { policy.plan(for: snapshot, now: .seconds($0)).drain }
    }

    @Test func drainsTheLeastLoadedAfterTheWindow() {
        var policy = PacedPolicy(configuration: .seed)
        let snapshot = TopologySnapshot.active(4, 2, 3, 3)
        #expect(policy.plan(for: snapshot, now: .seconds(0)).isEmpty)
        #expect(policy.plan(for: snapshot, now: .seconds(9)).isEmpty)
        let plan = policy.plan(for: snapshot, now: .seconds(10))
        #expect(plan.actions == ScalePlan(drain: ["ws-2", "ws-3"]))
        #expect(plan.reasons == [
            "utilization 30.0% (12 sessions on 4 servers of 10) < 40% for 10s (stabilization 10s): target 2 servers, draining ws-2, ws-3",
        ])
    }

    @Test func aBreakInLowUtilizationRestartsTheWindow() {
        var policy = PacedPolicy(configuration: .seed)
        #expect(policy.plan(for: .active(1, 1), now: .seconds(0)).isEmpty)
        #expect(policy.plan(for: .active(5, 4), now: .seconds(5)).isEmpty)   // 45 %: not low
        #expect(policy.plan(for: .active(1, 1), now: .seconds(12)).isEmpty)
        #expect(policy.plan(for: .active(1, 1), now: .seconds(21)).isEmpty)
        #expect(policy.plan(for: .active(1, 1), now: .seconds(22)).drain == ["ws-1"])
    }

    @Test func aDecidedScaleInRestartsTheWindow() {
        let snapshot = TopologySnapshot.active(1, 1, 1)
        #expect(Self.drains(snapshot, at: [0, 10, 11, 20, 21]) == [[], ["ws-1", "ws-2"], [], [], ["ws-1", "ws-2"]])
    }

    @Test func zeroStabilizationScalesInAtOnce() {
        let configuration = ScalingConfiguration.seed { $0.scaleInStabilization = .zero }
        #expect(Self.drains(.active(1, 1, 1), at: [0], configuration: configuration) == [["ws-1", "ws-2"]])
    }

    @Test func neverWhileAnInstanceIsStarting() {
        let snapshot = TopologySnapshot(instances: [.active("a", 1), .active("b", 1), .starting("c")])
        #expect(Self.drains(snapshot, at: [0, 10, 60]) == [[], [], []])
    }

    @Test func neverBelowMinInstances() {
        let configuration = ScalingConfiguration.seed { $0.minInstances = 2 }
        #expect(Self.drains(.active(0, 0, 0), at: [0, 10, 30], configuration: configuration) == [[], ["ws-1"], []])
        #expect(Self.drains(.active(0, 0), at: [0, 10, 30], configuration: configuration) == [[], [], []])
    }

    @Test func aSingleInstanceIsNeverDrained() {
        #expect(Self.drains(.active(0), at: [0, 10, 1000]) == [[], [], []])
        #expect(Self.drains(.active(1), at: [0, 10, 1000]) == [[], [], []])
    }

    /// Sessions on draining instances are load: 4 sessions on 2 servers is 20 %, but with the
    /// 10 still draining it is 70 %.
    @Test func sessionsOnDrainingInstancesCount() {
        let snapshot = TopologySnapshot(instances: [.active("a", 2), .active("b", 2), .draining("d", 10)])
        #expect(Self.drains(snapshot, at: [0, 10, 60]) == [[], [], []])
    }

    @Test func drainsDownToTheTargetThatCarriesTheLoadAtMax() {
        // 15 sessions need ceil(15 / 7) = 3 servers at 70 %.
        #expect(Self.drains(.active(2, 2, 2, 2, 2, 2, 3), at: [0, 10]) == [[], ["ws-1", "ws-2", "ws-3", "ws-4"]])
    }

    @Test func scaleInLeavesAPoolThatIsNotOverloaded() {
        var policy = PacedPolicy(configuration: .seed { $0.scaleInStabilization = .zero })
        let before = TopologySnapshot.active(3, 3, 3, 3, 3, 3, 3, 3)   // 24 sessions, 30 %
        let plan = policy.plan(for: before, now: .zero)
        #expect(plan.drain.count == 4)
        let after = TopologySnapshot(instances: before.instances.map { instance in
            var instance = instance
            if plan.drain.contains(instance.id) { instance.state = .draining }
            return instance
        })
        let next = policy.plan(for: after, now: .seconds(1))
        #expect(next.launch == 0 && next.activate.isEmpty)
    }
}
