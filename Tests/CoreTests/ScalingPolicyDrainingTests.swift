import Testing
@testable import WSScaleCore

/// Rule 3: draining instances are removed once empty; after the drain timeout their sessions are shed.
@Suite struct ScalingPolicyDrainingTests {
    static let cases: [PolicyCase] = [
        PolicyCase(name: "an empty draining instance is removed",
                   instances: [.active("a", 5), .draining("d", 0)],
                   expected: ScalePlan(remove: ["d"]),
                   reasons: ["removing d: drained, no session left"]),
        PolicyCase(name: "a draining instance with sessions stays before its timeout",
                   instances: [.active("a", 5), .draining("d", 3, for: .seconds(299))],
                   expected: ScalePlan()),
        PolicyCase(name: "after the drain timeout its sessions are shed",
                   instances: [.active("a", 5), .draining("d", 3, for: .seconds(300))],
                   expected: ScalePlan(shed: [ShedOrder(host: "d", count: 3, cause: .drainTimeout)]),
                   reasons: ["d draining for 300s ≥ DRAIN_TIMEOUT_SECONDS 300: shedding its 3 remaining sessions"]),
        PolicyCase(name: "the timeout shed is not bounded by REBALANCE_MAX_MOVES_PER_SECOND",
                   configuration: .seed { $0.rebalanceMovesPerSecond = 2; $0.maxInstances = 3 },
                   instances: [.active("a", 5), .active("b", 5), .active("c", 5), .draining("d", 25, for: .seconds(400))],
                   expected: ScalePlan(shed: [ShedOrder(host: "d", count: 25, cause: .drainTimeout)])),
        PolicyCase(name: "several draining instances at once",
                   instances: [.active("a", 5), .draining("d1", 0), .draining("d2", 0), .draining("d3", 2, for: .seconds(301))],
                   expected: ScalePlan(shed: [ShedOrder(host: "d3", count: 2, cause: .drainTimeout)], remove: ["d1", "d2"]),
                   reasons: ["removing d1, d2", "d3 draining for 301s"]),
        PolicyCase(name: "a zero drain timeout sheds at once",
                   configuration: .seed { $0.drainTimeout = .zero },
                   instances: [.active("a", 5), .draining("d", 1, for: .zero)],
                   expected: ScalePlan(shed: [ShedOrder(host: "d", count: 1, cause: .drainTimeout)])),
        PolicyCase(name: "removal and timeout sheds go along with a scale-in",
                   configuration: .seed { $0.scaleInStabilization = .zero },
                   instances: [.active("a", 1), .active("b", 1), .active("c", 1),
                               .draining("d", 0), .draining("e", 1, for: .seconds(600))],
                   expected: ScalePlan(drain: ["a", "b"], shed: [ShedOrder(host: "e", count: 1, cause: .drainTimeout)],
                                       remove: ["d"])),
    ]

    @Test(arguments: cases)
    func drainingInstances(_ row: PolicyCase) {
        row.check()
    }

    /// The timeout shed is ordered again while sessions remain, then the instance is removed.
    @Test func timeoutShedUntilEmptyThenRemove() {
        var policy = PacedPolicy(configuration: .seed)
        let first = policy.plan(for: TopologySnapshot(instances: [.active("a", 3), .draining("d", 4, for: .seconds(300))]),
                                now: .seconds(0))
        policy.carriedOut(first, now: .seconds(0))
        let second = policy.plan(for: TopologySnapshot(instances: [.active("a", 6), .draining("d", 1, for: .seconds(301))]),
                                 now: .seconds(1))
        let third = policy.plan(for: TopologySnapshot(instances: [.active("a", 7), .draining("d", 0, for: .seconds(302))]),
                                now: .seconds(2))
        #expect(first.actions == ScalePlan(shed: [ShedOrder(host: "d", count: 4, cause: .drainTimeout)]))
        #expect(second.actions == ScalePlan(shed: [ShedOrder(host: "d", count: 1, cause: .drainTimeout)]))
        #expect(third.actions == ScalePlan(remove: ["d"]))
    }
}
