import Testing
@testable import WSScaleCore

/// Rule 4: shed from over-utilized active hosts down to the average, as far as there is room.
@Suite struct ScalingPolicyRebalanceTests {
    static let cases: [PolicyCase] = [
        PolicyCase(name: "Swiss cheese: every over-utilized host sheds down to ceil(average)",
                   instances: TopologySnapshot.active(1, 8, 8, 8, 8).instances,
                   expected: ScalePlan(shed: [rebalance("ws-2", 1), rebalance("ws-3", 1), rebalance("ws-4", 1), rebalance("ws-5", 1)]),
                   reasons: ["rebalance: average 66.0% (33 sessions on 5 active servers of 10); over 76.0%: ws-2 80.0%, ws-3 80.0%, ws-4 80.0%, ws-5 80.0%; under 56.0%: ws-1 10.0%; shedding 1 from ws-2, 1 from ws-3, 1 from ws-4, 1 from ws-5 (not below 7 each)"]),
        PolicyCase(name: "one full host and new empty ones",
                   instances: TopologySnapshot.active(30, 0, 0, 0, 0).instances,
                   expected: ScalePlan(shed: [rebalance("ws-1", 24)])),
        PolicyCase(name: "one full host sheds down to ceil(average); the others take the rest",
                   instances: TopologySnapshot.active(13, 0, 0).instances,
                   expected: ScalePlan(shed: [rebalance("ws-1", 8)])),
        PolicyCase(name: "hosts below the average take up to ceil(average): 9/6/5 ends at 7/7/6, not 8/6/6",
                   instances: TopologySnapshot.active(9, 6, 5).instances,
                   expected: ScalePlan(shed: [rebalance("ws-1", 2)]),
                   reasons: ["shedding 2 from ws-1 (not below 7 each)"]),
        PolicyCase(name: "fullest first within the total",
                   configuration: .seed { $0.rebalanceMovesPerSecond = 3 },
                   instances: TopologySnapshot.active(12, 11, 0).instances,
                   expected: ScalePlan(shed: [rebalance("ws-1", 2), rebalance("ws-2", 1)]),
                   reasons: ["shedding 2 from ws-1, 1 from ws-2 (not below 8 each), 3 of 7: limited by REBALANCE_MAX_MOVES_PER_SECOND 3 (3 available now)"]),
        PolicyCase(name: "without a cap both come down to the average",
                   instances: TopologySnapshot.active(12, 11, 0).instances,
                   expected: ScalePlan(shed: [rebalance("ws-1", 4), rebalance("ws-2", 3)])),
        PolicyCase(name: "REBALANCE_MAX_MOVES_PER_SECOND caps a round at one second of moves",
                   configuration: .seed { $0.rebalanceMovesPerSecond = 5 },
                   instances: TopologySnapshot.active(30, 0, 0, 0, 0).instances,
                   expected: ScalePlan(shed: [rebalance("ws-1", 5)])),
        PolicyCase(name: "REBALANCE_MAX_MOVES_PER_SECOND 0 turns rebalancing off",
                   configuration: .seed { $0.rebalanceMovesPerSecond = 0 },
                   instances: TopologySnapshot.active(30, 0, 0, 0, 0).instances,
                   expected: ScalePlan()),
        PolicyCase(name: "no notably short host: the over-utilized one still comes down to the average",
                   instances: TopologySnapshot.active(12, 7, 7, 7, 7).instances,
                   expected: ScalePlan(shed: [rebalance("ws-1", 4)]),
                   reasons: ["under 70.0%: none; shedding 4 from ws-1 (not below 8 each)"]),
        PolicyCase(name: "6/5/5/5/4/4/4: the one host above average + tolerance sheds one (the seed's experiment 4 ends within the tolerance)",
                   instances: TopologySnapshot.active(6, 5, 5, 5, 4, 4, 4).instances,
                   expected: ScalePlan(shed: [rebalance("ws-1", 1)])),
        PolicyCase(name: "an under-utilized host but none over-utilized: nothing",
                   instances: TopologySnapshot.active(5, 7, 7, 7, 7).instances,
                   expected: ScalePlan()),
        PolicyCase(name: "balanced pool: nothing",
                   instances: TopologySnapshot.active(6, 6, 6, 6).instances,
                   expected: ScalePlan()),
        PolicyCase(name: "no sessions at all: nothing",
                   instances: TopologySnapshot.active(0, 0, 0).instances,
                   expected: ScalePlan()),
        PolicyCase(name: "a single active host: nothing",
                   instances: [.active("a", 30), .starting("b"), .starting("c"), .starting("d"), .starting("e")],
                   expected: ScalePlan()),
        PolicyCase(name: "draining hosts are neither sources nor targets",
                   instances: [.active("a", 14), .active("b", 0), .draining("d", 2, for: .seconds(10))],
                   expected: ScalePlan(shed: [rebalance("a", 7)])),
        PolicyCase(name: "a starting host postpones rebalancing (the shed clients would miss it)",
                   instances: [.active("a", 14), .active("b", 0), .starting("c", since: .seconds(120))],
                   expected: ScalePlan()),
        PolicyCase(name: "no rebalance in a plan that launches",
                   instances: TopologySnapshot.active(30, 0).instances,
                   expected: ScalePlan(launch: 3)),
        PolicyCase(name: "no rebalance in a plan that drains",
                   configuration: .seed { $0.scaleInStabilization = .zero },
                   instances: TopologySnapshot.active(6, 0, 0, 0, 0, 0).instances,
                   expected: ScalePlan(drain: ["ws-2", "ws-3", "ws-4", "ws-5", "ws-6"])),
        PolicyCase(name: "no rebalance in a plan that re-activates",
                   instances: [.active("a", 9), .active("b", 0), .draining("d", 8)],
                   expected: ScalePlan(activate: ["d"])),
        PolicyCase(name: "rebalance goes along with a timeout shed and a removal",
                   instances: [.active("a", 14), .active("b", 0), .draining("d", 1, for: .seconds(300)), .draining("e", 0)],
                   expected: ScalePlan(shed: [ShedOrder(host: "d", count: 1, cause: .drainTimeout), rebalance("a", 7)],
                                       remove: ["e"])),
        PolicyCase(name: "hosts above the hard limit: receivers are filled only up to it",
                   configuration: .seed { $0.maxConnectionsPerHost = 15; $0.maxInstances = 2 },
                   instances: TopologySnapshot.active(40, 0).instances,
                   expected: ScalePlan(shed: [rebalance("ws-1", 15)]),
                   reasons: ["shedding 15 from ws-1 (not below 20 each), 15 of 20: limited by room 15 on servers below the average"]),
        PolicyCase(name: "receivers already at the hard limit have no room",
                   configuration: .seed { $0.maxConnectionsPerHost = 10; $0.connectionLimitPerHost = 10; $0.maxInstances = 3 },
                   instances: TopologySnapshot.active(60, 10, 10).instances,
                   expected: ScalePlan()),
        PolicyCase(name: "L = 1: a host one session above the average is over-utilized",
                   configuration: .seed {
                       $0.connectionLimitPerHost = 1; $0.maxConnectionsPerHost = 5; $0.maxUtilizationPercent = 90
                   },
                   instances: TopologySnapshot.active(3, 1, 0, 0).instances,
                   expected: ScalePlan(shed: [rebalance("ws-1", 2)])),
    ]

    @Test(arguments: cases)
    func rebalancing(_ row: PolicyCase) {
        row.check()
    }

    @Test("an incomplete topology (a server's count unknown after a registry restart) is not rebalanced, scaled in or removed from")
    func unknownCountsHoldBackEverythingButGrowth() {
        var unknown = InstanceSnapshot.active("ws-2", 0)
        unknown.sessionsUnknown = true
        var unknownDraining = InstanceSnapshot.draining("ws-4", 0, for: .seconds(3600))
        unknownDraining.sessionsUnknown = true
        // Known, this pool would shed from ws-1 and ws-3 and remove ws-4.
        let known = TopologySnapshot(instances: [.active("ws-1", 9), .active("ws-2", 0), .active("ws-3", 9), .draining("ws-4", 0)])
        var policy = PacedPolicy(configuration: .seed)
        let knownPlan = policy.plan(for: known, now: .seconds(100))
        #expect(!knownPlan.shed.isEmpty && knownPlan.remove == ["ws-4"])

        var fresh = PacedPolicy(configuration: .seed)
        let plan = fresh.plan(for: TopologySnapshot(instances: [.active("ws-1", 9), unknown, .active("ws-3", 9), unknownDraining]),
                              now: .seconds(100))
        #expect(plan.isEmpty, "\(plan.reasons)")

        // Low utilization while a count is unknown never starts the scale-in window.
        var scaleIn = PacedPolicy(configuration: .seed { $0.scaleInStabilization = .seconds(5) })
        let low = TopologySnapshot(instances: [.active("ws-1", 1), unknown, .active("ws-3", 1)])
        for second in 0...30 { #expect(scaleIn.plan(for: low, now: .seconds(second)).drain.isEmpty) }

        // Growth still acts on what is known: 30 sessions on 3 servers is over the threshold.
        var growth = PacedPolicy(configuration: .seed)
        let overloaded = growth.plan(for: TopologySnapshot(instances: [.active("ws-1", 15), unknown, .active("ws-3", 15)]),
                                     now: .seconds(100))
        #expect(overloaded.launch == 2)
    }

    @Test("the next round waits for the shed sessions to come back, at most the settle limit; it never counts them twice")
    func nextRoundWaitsForTheMovesToLand() {
        var policy = PacedPolicy(configuration: .seed)
        let uneven = TopologySnapshot.active(14, 0)
        let first = policy.plan(for: uneven, now: .seconds(10))
        #expect(first.rebalanceSheds == ["ws-1": 7])
        // Not carried out (dry run): planned again.
        #expect(policy.plan(for: uneven, now: .seconds(11)).rebalanceSheds == ["ws-1": 7])
        policy.carriedOut(first, now: .seconds(11))
        // Shed, not yet back: 7 / 0 would look like an average of 3.5 and shed 3 more.
        #expect(policy.plan(for: .active(7, 0), now: .milliseconds(11_100)).isEmpty)
        #expect(policy.plan(for: .active(7, 4), now: .milliseconds(11_200)).isEmpty)
        // Back (14 on the active hosts again): judged again at once, and balanced.
        #expect(policy.plan(for: .active(7, 7), now: .milliseconds(11_300)).isEmpty)
        #expect(policy.plan(for: .active(14, 0), now: .milliseconds(11_400)).rebalanceSheds == ["ws-1": 7],
                "nothing in flight any more: a new hole is rebalanced without a cooldown")

        // Users who left meanwhile: the wait ends at the settle limit.
        var leaving = PacedPolicy(configuration: .seed)
        leaving.carriedOut(leaving.plan(for: uneven, now: .seconds(0)), now: .seconds(0))
        #expect(leaving.plan(for: .active(9, 0), now: .milliseconds(1_999)).isEmpty)
        #expect(leaving.plan(for: .active(9, 0), now: .seconds(2)).rebalanceSheds == ["ws-1": 4])
    }

    @Test("the budget refills at REBALANCE_MAX_MOVES_PER_SECOND, up to one second of it, and every over-utilized host sheds in the same round")
    func budgetRefillsAtTheRate() {
        var policy = PacedPolicy(configuration: .seed { $0.rebalanceMovesPerSecond = 10; $0.connectionLimitPerHost = 100; $0.maxConnectionsPerHost = 300; $0.minUtilizationPercent = 0 })
        // 60 + 60 on two hosts, two empty: 60 moves wanted, 10 available.
        let uneven = TopologySnapshot.active(60, 60, 0, 0)
        let first = policy.plan(for: uneven, now: .seconds(0))
        #expect(first.rebalanceSheds == ["ws-1": 5, "ws-2": 5], "both over-utilized hosts shed at once")
        policy.carriedOut(first, now: .seconds(0))
        let after = TopologySnapshot.active(55, 55, 5, 5)  // the 10 came back
        #expect(policy.plan(for: after, now: .milliseconds(300)).rebalanceSheds == ["ws-1": 2, "ws-2": 1],
                "300 ms refilled 3 moves")
        // Long idle: never more than one second of moves at once.
        var idle = PacedPolicy(configuration: .seed { $0.rebalanceMovesPerSecond = 10; $0.connectionLimitPerHost = 100; $0.maxConnectionsPerHost = 300; $0.minUtilizationPercent = 0 })
        idle.carriedOut(idle.plan(for: uneven, now: .seconds(0)), now: .seconds(0))
        #expect(idle.plan(for: after, now: .seconds(3600)).rebalanceSheds.values.reduce(0, +) == 10)
    }

    @Test func aPlanWithoutRebalanceSpendsNoBudget() {
        var policy = PacedPolicy(configuration: .seed)
        let launch = policy.plan(for: .active(30), now: .seconds(0))
        policy.carriedOut(launch, now: .seconds(0))
        #expect(policy.plan(for: .active(30, 0, 0, 0, 0), now: .seconds(1)).rebalanceSheds == ["ws-1": 24])
    }

    @Test func lowerFullestFirstSpreadsTheLeftoverByID() {
        let hosts: [InstanceSnapshot] = [.active("c", 10), .active("a", 10), .active("b", 9)]
        // Down to level 9 costs 2; the third shed goes to the first id at level 9 (a).
        #expect(ScalingPolicy.lowerFullestFirst(hosts, floor: 5, budget: 3)
            == [rebalance("c", 1), rebalance("a", 2)])
        #expect(ScalingPolicy.lowerFullestFirst(hosts, floor: 8, budget: 100)
            == [rebalance("c", 2), rebalance("a", 2), rebalance("b", 1)])
    }
}
