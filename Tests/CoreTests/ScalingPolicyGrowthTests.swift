import Testing
@testable import WSScaleCore

/// Rule 1: scale out above MAX + OVERUTILIZED_TOLERANCE, and keep MIN_INSTANCES.
@Suite struct ScalingPolicyGrowthTests {
    static let cases: [PolicyCase] = [
        PolicyCase(name: "over the threshold: launch up to the target",
                   instances: [.active("ws-1", 9)],
                   expected: ScalePlan(launch: 1),
                   reasons: ["utilization 90.0% (9 sessions on 1 servers of 10) > 80% (max 70% + tolerance 10%): target 2 servers, launching 1"]),
        PolicyCase(name: "exactly at MAX + tolerance: nothing",
                   instances: [.active("ws-1", 8)],
                   expected: ScalePlan()),
        PolicyCase(name: "above MAX but within the tolerance: nothing",
                   instances: [.active("ws-1", 8), .active("ws-2", 7)],
                   expected: ScalePlan()),
        PolicyCase(name: "starting instances count: no second launch",
                   instances: [.active("ws-1", 9), .starting("ws-2")],
                   expected: ScalePlan()),
        PolicyCase(name: "an instance starting for an hour still counts (the loop's launch timeout handles it)",
                   instances: [.active("ws-1", 15), .starting("ws-2", since: .seconds(3600))],
                   expected: ScalePlan()),
        PolicyCase(name: "more load while starting: launch only the difference",
                   instances: [.active("ws-1", 30), .starting("ws-2")],
                   expected: ScalePlan(launch: 3),
                   reasons: ["utilization 150.0% (30 sessions on 2 servers of 10) > 80% (max 70% + tolerance 10%): target 5 servers, launching 3"]),
        PolicyCase(name: "re-activate draining instances fullest first, then launch",
                   instances: [.active("a", 30), .draining("d1", 2), .draining("d2", 5), .draining("d3", 0)],
                   expected: ScalePlan(activate: ["d2", "d1", "d3"], launch: 2),
                   reasons: ["target 6 servers, re-activating d2, d1, d3, launching 2"]),
        PolicyCase(name: "re-activation is enough: no launch, the others stay draining",
                   instances: [.active("a", 9), .draining("d1", 4), .draining("d2", 1, for: .seconds(30))],
                   expected: ScalePlan(activate: ["d1"]),
                   reasons: ["target 2 servers, re-activating d1"]),
        PolicyCase(name: "a draining instance past its timeout is re-activated, not shed",
                   instances: [.active("a", 20), .draining("d", 3, for: .seconds(900))],
                   expected: ScalePlan(activate: ["d"], launch: 2)),
        PolicyCase(name: "target clamped to MAX_INSTANCES",
                   configuration: .seed { $0.maxInstances = 3 },
                   instances: [.active("a", 30), .active("b", 30)],
                   expected: ScalePlan(launch: 1),
                   reasons: ["target 3 servers, launching 1"]),
        PolicyCase(name: "at MAX_INSTANCES: nothing, even when overloaded",
                   configuration: .seed { $0.maxInstances = 3 },
                   instances: [.active("a", 30), .active("b", 30), .starting("c")],
                   expected: ScalePlan()),
        PolicyCase(name: "a pool above MAX_INSTANCES launches nothing",
                   configuration: .seed { $0.maxInstances = 2 },
                   instances: [.active("a", 30), .draining("b", 30), .draining("c", 30)],
                   expected: ScalePlan(activate: ["b"])),
        PolicyCase(name: "inconsistent configuration built in code: launches still stop at MAX_INSTANCES",
                   configuration: .seed { $0.minInstances = 5; $0.maxInstances = 3 },
                   instances: [.active("a", 0)],
                   expected: ScalePlan(launch: 2),
                   reasons: ["1 servers active or starting < MIN_INSTANCES 5, launching 2, MAX_INSTANCES 3 reached, 2 not launched"]),
        PolicyCase(name: "below MIN_INSTANCES: launch the missing ones",
                   configuration: .seed { $0.minInstances = 3 },
                   instances: [.active("a", 0)],
                   expected: ScalePlan(launch: 2),
                   reasons: ["1 servers active or starting < MIN_INSTANCES 3, launching 2"]),
        PolicyCase(name: "below MIN_INSTANCES: re-activate before launching",
                   configuration: .seed { $0.minInstances = 3 },
                   instances: [.active("a", 0), .draining("d1", 0), .draining("d2", 4)],
                   expected: ScalePlan(activate: ["d2", "d1"])),
        PolicyCase(name: "empty pool: launch MIN_INSTANCES",
                   instances: [],
                   expected: ScalePlan(launch: 1),
                   reasons: ["0 servers active or starting < MIN_INSTANCES 1, launching 1"]),
        PolicyCase(name: "no sessions at all on one server: nothing",
                   instances: [.active("a", 0)],
                   expected: ScalePlan()),
        PolicyCase(name: "all instances draining with sessions: re-activate as many as the load needs",
                   instances: [.draining("d1", 5), .draining("d2", 12), .draining("d3", 0)],
                   expected: ScalePlan(activate: ["d2", "d1", "d3"]),
                   reasons: ["17 sessions and no server active or starting: target 3 servers, re-activating d2, d1, d3"]),
        PolicyCase(name: "all instances draining and empty: keep MIN_INSTANCES, remove the rest",
                   instances: [.draining("d2", 0), .draining("d1", 0)],
                   expected: ScalePlan(activate: ["d1"], remove: ["d2"])),
        PolicyCase(name: "counts above the hard limit are load like any other",
                   instances: [.active("a", 45)],
                   expected: ScalePlan(launch: 6),
                   reasons: ["utilization 450.0% (45 sessions on 1 servers of 10) > 80%"]),
        PolicyCase(name: "L = 1: one session is 100 %",
                   configuration: .seed { $0.connectionLimitPerHost = 1; $0.maxConnectionsPerHost = 1 },
                   instances: [.active("a", 1)],
                   expected: ScalePlan(launch: 1),
                   reasons: ["utilization 100.0% (1 sessions on 1 servers of 1) > 80% (max 70% + tolerance 10%): target 2 servers, launching 1"]),
        PolicyCase(name: "negative counts from the registry count as 0",
                   instances: [.active("a", -5)],
                   expected: ScalePlan()),
    ]

    @Test(arguments: cases)
    func growth(_ row: PolicyCase) {
        row.check()
    }

    @Test func growthNeverDrainsNorRebalancesInTheSamePlan() {
        var policy = PacedPolicy(configuration: .seed)
        let plan = policy.plan(for: .active(30, 0), now: .zero)
        #expect(plan.launch == 3)
        #expect(plan.shed.isEmpty && plan.drain.isEmpty)
    }
}
