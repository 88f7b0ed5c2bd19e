import Testing
@testable import WSScaleCore

/// The seed's four experiments, replayed as the snapshots the balancer would see, with the
/// seed's settings (L = 10, hard limit 30, 70/40/10/10) and the plan expected at each step.
/// Every non-empty plan is taken as carried out at its step.
@Suite struct SeedExperimentReplayTests {
    struct Step {
        var second: Int
        var instances: [InstanceSnapshot]
        var expected: ScalePlan = ScalePlan()
        var reason: String? = nil

        static func at(_ second: Int, _ instances: [InstanceSnapshot], _ expected: ScalePlan = ScalePlan(),
                       reason: String? = nil) -> Step {
            Step(second: second, instances: instances, expected: expected, reason: reason)
        }
    }

    func replay(_ steps: [Step], sourceLocation: SourceLocation = #_sourceLocation) {
        var policy = PacedPolicy(configuration: .seed)
        for step in steps {
            let plan = policy.plan(for: TopologySnapshot(instances: step.instances), now: .seconds(step.second))
            #expect(plan.actions == step.expected, "at \(step.second)s: \(plan.reasons)", sourceLocation: sourceLocation)
            if let reason = step.reason {
                #expect(plan.reasons.contains(reason), "at \(step.second)s: \(plan.reasons)", sourceLocation: sourceLocation)
            }
            if !plan.isEmpty { policy.carriedOut(plan, now: .seconds(step.second)) }
        }
    }

    static func active(_ counts: Int...) -> [InstanceSnapshot] {
        counts.enumerated().map { .active("ws-\($0.offset + 1)", $0.element) }
    }

    /// 1. Forty users at once: ws-1 takes 30 (the hard limit refuses 10); the pool grows to
    /// five, ws-1 sheds down to the average, and everybody lands at 8 per server.
    @Test func fortyUsersAtOnce() {
        let starting: [InstanceSnapshot] = (2...5).map { .starting("ws-\($0)") }
        replay([
            .at(0, Self.active(30), ScalePlan(launch: 4),
                reason: "utilization 300.0% (30 sessions on 1 servers of 10) > 80% (max 70% + tolerance 10%): target 5 servers, launching 4"),
            .at(1, Self.active(30) + starting),
            .at(2, Self.active(30, 0, 0, 0, 0), ScalePlan(shed: [rebalance("ws-1", 24)]),
                reason: "rebalance: average 60.0% (30 sessions on 5 active servers of 10); over 70.0%: ws-1 300.0%; "
                    + "under 50.0%: ws-2 0.0%, ws-3 0.0%, ws-4 0.0%, ws-5 0.0%; shedding 24 from ws-1 (not below 6 each)"),
            // The 24 shed and the 10 refused reconnect (least connections); back on the
            // active hosts, the pool is judged again: ws-2 is above the average + 10 %.
            .at(3, Self.active(6, 10, 9, 8, 7), ScalePlan(shed: [rebalance("ws-2", 2)])),
            .at(4, Self.active(6, 9, 9, 8, 8)),
            // 40 sessions on 5 servers is 80 %: not above 80 %, and nobody is over the average + 10 %.
            .at(10, Self.active(8, 8, 8, 8, 8)),
        ])
    }

    /// 2. Users connect one by one: the pool grows when utilization passes 80 %, and the new
    /// server takes a fair share (a rebalance) and then the new connections.
    @Test func gradualConnects() {
        var steps: [Step] = (1...8).map { .at($0, Self.active($0)) }
        steps += [
            .at(9, Self.active(9), ScalePlan(launch: 1), reason: "utilization 90.0% (9 sessions on 1 servers of 10) > 80% (max 70% + tolerance 10%): target 2 servers, launching 1"),
            .at(10, Self.active(10) + [.starting("ws-2")]),
            .at(11, Self.active(10, 0), ScalePlan(shed: [rebalance("ws-1", 5)])),
            .at(12, Self.active(6, 5)),
            .at(15, Self.active(8, 8)),
            .at(16, Self.active(9, 8), ScalePlan(launch: 1), reason: "utilization 85.0% (17 sessions on 2 servers of 10) > 80% (max 70% + tolerance 10%): target 3 servers, launching 1"),
            .at(17, Self.active(9, 8) + [.starting("ws-3")]),
            .at(18, Self.active(9, 8, 0), ScalePlan(shed: [rebalance("ws-1", 3), rebalance("ws-2", 2)])),
            .at(19, Self.active(6, 6, 5)),
            .at(25, Self.active(8, 8, 8)),
        ]
        replay(steps)
    }

    /// 3. Users disconnect gradually: after 10 s under 40 % the least-loaded servers drain;
    /// nobody is cut (no shed before the 300 s drain timeout); empty drained servers go;
    /// the pool never goes below MIN_INSTANCES.
    @Test func gradualDisconnects() {
        replay([
            .at(0, Self.active(7, 7, 7, 7)),
            .at(10, Self.active(4, 4, 4, 3)),          // 37.5 %: the window starts
            .at(15, Self.active(4, 4, 3, 3)),
            .at(20, Self.active(4, 4, 3, 3), ScalePlan(drain: ["ws-3", "ws-4"]),
                reason: "utilization 35.0% (14 sessions on 4 servers of 10) < 40% for 10s (stabilization 10s): target 2 servers, draining ws-3, ws-4"),
            .at(21, Self.active(4, 4) + [.draining("ws-3", 3), .draining("ws-4", 3)]),
            .at(30, Self.active(4, 4) + [.draining("ws-3", 0, for: .seconds(9)), .draining("ws-4", 1, for: .seconds(9))],
                ScalePlan(remove: ["ws-3"])),
            .at(40, Self.active(3, 2) + [.draining("ws-4", 0, for: .seconds(19))], ScalePlan(remove: ["ws-4"])),
            .at(45, Self.active(2, 1)),
            .at(50, Self.active(2, 1), ScalePlan(drain: ["ws-2"])),
            .at(51, Self.active(2) + [.draining("ws-2", 1)]),
            .at(60, Self.active(0) + [.draining("ws-2", 0, for: .seconds(10))], ScalePlan(remove: ["ws-2"])),
            .at(80, Self.active(0)),
            .at(1000, Self.active(0)),
        ])
    }

    /// 4. Swiss cheese: most users of one server leave; the others shed one each down to
    /// ceil(average) and the pool settles.
    @Test func swissCheese() {
        replay([
            .at(0, Self.active(8, 8, 8, 8, 8)),
            .at(1, Self.active(1, 8, 8, 8, 8),
                ScalePlan(shed: [rebalance("ws-2", 1), rebalance("ws-3", 1), rebalance("ws-4", 1), rebalance("ws-5", 1)])),
            .at(2, Self.active(5, 7, 7, 7, 7)),
            .at(10, Self.active(5, 7, 7, 7, 7)),
        ])
    }

    /// 4b. A deeper hole: one server emptied completely.
    @Test func swissCheeseEmptyServer() {
        replay([
            .at(0, Self.active(0, 8, 8, 8, 8),
                ScalePlan(shed: [rebalance("ws-2", 1), rebalance("ws-3", 1), rebalance("ws-4", 1), rebalance("ws-5", 1)])),
            .at(5, Self.active(4, 7, 7, 7, 7)),
        ])
    }
}
