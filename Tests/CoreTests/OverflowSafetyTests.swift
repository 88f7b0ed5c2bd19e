import Testing
@testable import WSScaleCore

/// Inputs near `Int.max` that used to trap in the decision rules' products (`PoolLoad`, the
/// rebalance) now give an answer. The configuration bounds such knobs at reading; these are
/// configurations built in code and counts from a broken registry.
@Suite struct OverflowSafetyTests {
    @Test func saturatingArithmeticNeverTraps() {
        #expect(Int.max.saturatingMultiplied(by: 100) == .max)
        #expect(Int.min.saturatingMultiplied(by: 2) == .min)
        #expect((-5).saturatingMultiplied(by: Int.max) == .min)
        #expect(Int.max.saturatingAdding(1) == .max)
        #expect(Int.min.saturatingSubtracting(1) == .min)
        #expect(3.saturatingMultiplied(by: 4) == 12)
        #expect([Int.max, Int.max, 1].saturatingSum() == .max)
    }

    static let hugeConfigurations: [ScalingConfiguration] = [
        .seed { $0.connectionLimitPerHost = .max },
        .seed { $0.connectionLimitPerHost = .max; $0.maxConnectionsPerHost = .max },
        .seed { $0.maxConnectionsPerHost = .max; $0.rebalanceMovesPerSecond = .max },
        .seed { $0.maxInstances = .max; $0.overutilizedTolerancePercent = .max; $0.underutilizedTolerancePercent = .max },
        .seed { $0.maxInstances = .max; $0.maxUtilizationPercent = .max },
        .seed { $0.maxConnectionsPerHost = .min; $0.maxInstances = .min },
    ]

    static let hugeSnapshots: [TopologySnapshot] = [
        .active(Int.max, 0),
        .active(Int.max, Int.max, 0),
        .active(Int.max, Int.max, Int.max, 1),
        .active(30, 0, 0),
        TopologySnapshot(instances: [.active("a", .max), .draining("b", .max), .starting("c")]),
        TopologySnapshot(instances: [.draining("b", .max)]),
    ]

    @Test(arguments: hugeConfigurations)
    func theRulesGiveAPlanForHugeKnobsAndCounts(configuration: ScalingConfiguration) {
        for snapshot in Self.hugeSnapshots {
            var policy = PacedPolicy(configuration: configuration)
            let plan = policy.plan(for: snapshot, now: .seconds(100))
            #expect(plan.shed.allSatisfy { $0.count > 0 })
            #expect(plan.launch >= 0)
        }
    }

    @Test func aHugeCountIsClampedAndTheRebalanceStillLevels() {
        var policy = PacedPolicy(configuration: .seed {
            $0.connectionLimitPerHost = .max; $0.maxConnectionsPerHost = .max; $0.rebalanceMovesPerSecond = .max
        })
        let plan = policy.plan(for: .active(Int.max, 0), now: .seconds(100))
        // Count and limit clamped to 2^32: not overloaded, and half of ws-1's sessions go.
        #expect(plan.rebalanceSheds == ["ws-1": PoolLoad.maxCount / 2])
    }

    @Test func utilizationTextOfAHugeValueDoesNotTrap() {
        #expect(Double(1e300).percentText.hasSuffix("%"))
        #expect(Double.infinity.percentText == "∞%")
        #expect(PoolStatus.utilizationPercent(sessions: .max, hosts: .max, limit: .max).isFinite)
    }
}
