import PropertyBased
import Testing
@testable import WSScaleCore

/// Invariants of `ScalingPolicy` over random consistent configurations and random sequences of
/// snapshots (every state, counts up to twice the hard limit, drain times around the timeout).
@Suite struct ScalingPolicyPropertyTests {
    /// A configuration that passes validation.
    static let configurations = zip(
        zip(Gen.int(in: 1...20), Gen.int(in: 0...20), Gen.int(in: 2...100), Gen.int(in: 0...99)),
        zip(Gen.int(in: 0...30), Gen.int(in: 0...30), Gen.int(in: 1...4), Gen.int(in: 0...8)),
        zip(Gen.int(in: 0...50), Gen.int(in: 0...2), Gen.int(in: 0...1), Gen.int(in: 0...1))
    ).map { numbers -> ScalingConfiguration in
        var configuration = ScalingConfiguration()
        configuration.connectionLimitPerHost = numbers.0.0
        configuration.maxConnectionsPerHost = numbers.0.0 + numbers.0.1
        configuration.maxUtilizationPercent = numbers.0.2
        configuration.minUtilizationPercent = numbers.0.3 % numbers.0.2
        configuration.overutilizedTolerancePercent = numbers.1.0
        configuration.underutilizedTolerancePercent = numbers.1.1
        configuration.minInstances = numbers.1.2
        configuration.maxInstances = numbers.1.2 + numbers.1.3
        configuration.rebalanceMovesPerSecond = numbers.2.0
        configuration.drainTimeout = .seconds([0, 30, 300][numbers.2.1])
        configuration.scaleInStabilization = .seconds(numbers.2.2 * 5)
        return configuration
    }

    /// Instances of any state; ids are given by position.
    static let instances = zip(Gen<InstanceState>.case, Gen.int(in: 0...60), Gen.int(in: 0...400))
        .map { InstanceSnapshot(id: "", state: $0.0, sessions: $0.1, age: .seconds($0.2), timeInState: .seconds($0.2)) }

    static let snapshots = instances.array(of: 0...10).map { list in
        TopologySnapshot(instances: list.enumerated().map { var instance = $0.element; instance.id = "ws-\($0.offset)"; return instance })
    }

    /// A few snapshots seen one after the other, with the seconds between them.
    static let sequences = zip(snapshots, Gen.int(in: 0...12)).array(of: 1...5)

    /// Plans each snapshot in turn (carrying out every plan) and checks `check` on each.
    static func run(_ configuration: ScalingConfiguration, _ sequence: [(TopologySnapshot, Int)],
                    _ check: (TopologySnapshot, ScalePlan) -> Void) {
        var policy = PacedPolicy(configuration: configuration)
        var now = Duration.seconds(1000)
        for (snapshot, gap) in sequence {
            now += .seconds(gap)
            let plan = policy.plan(for: snapshot, now: now)
            check(snapshot, plan)
            policy.carriedOut(plan, now: now)
        }
    }

    @Test func neverBelowMinNorAboveMaxInstances() async {
        await propertyCheck(count: 400, input: Self.configurations, Self.sequences) { configuration, sequence in
            Self.run(configuration, sequence) { snapshot, plan in
                let serving = snapshot.active.count + snapshot.starting.count
                let servingAfter = serving + plan.activate.count + plan.launch - plan.drain.count
                #expect(servingAfter >= configuration.minInstances, "\(plan.reasons)")
                let total = snapshot.instances.count
                #expect(total + plan.launch <= max(configuration.maxInstances, total), "\(plan.reasons)")
                if plan.launch > 0 { #expect(total + plan.launch <= configuration.maxInstances) }
            }
        }
    }

    @Test func neverLaunchesAndDrainsTogetherAndRebalancesOnlyInQuietPlans() async {
        await propertyCheck(count: 400, input: Self.configurations, Self.sequences) { configuration, sequence in
            Self.run(configuration, sequence) { _, plan in
                #expect(!(plan.launch > 0 && !plan.drain.isEmpty), "\(plan.reasons)")
                #expect(!(!plan.activate.isEmpty && !plan.drain.isEmpty), "\(plan.reasons)")
                if !plan.rebalanceSheds.isEmpty {
                    #expect(plan.launch == 0 && plan.activate.isEmpty && plan.drain.isEmpty, "\(plan.reasons)")
                }
                #expect(plan.isEmpty == plan.reasons.isEmpty, "\(plan.reasons)")
            }
        }
    }

    @Test func actionsApplyToInstancesInTheRightState() async {
        await propertyCheck(count: 400, input: Self.configurations, Self.sequences) { configuration, sequence in
            Self.run(configuration, sequence) { snapshot, plan in
                let active = Set(snapshot.active.map(\.id))
                let draining = Set(snapshot.draining.map(\.id))
                let emptyDraining = Set(snapshot.draining.filter { $0.sessions == 0 }.map(\.id))
                #expect(Set(plan.activate).isSubset(of: draining))
                #expect(Set(plan.drain).isSubset(of: active))
                #expect(Set(plan.remove).isSubset(of: emptyDraining))
                #expect(Set(plan.remove).isDisjoint(with: plan.activate))
                for order in plan.shed {
                    #expect(order.count > 0)
                    switch order.cause {
                    case .rebalance: #expect(active.contains(order.host))
                    case .drainTimeout: #expect(draining.contains(order.host) && !plan.activate.contains(order.host))
                    }
                }
                #expect(Set(plan.shed.map(\.host)).count == plan.shed.count, "one order per host")
            }
        }
    }

    @Test func neverShedsBelowTheAverageNorAboveTheCap() async {
        await propertyCheck(count: 400, input: Self.configurations, Self.sequences) { configuration, sequence in
            Self.run(configuration, sequence) { snapshot, plan in
                let active = snapshot.active
                let total = active.reduce(0) { $0 + $1.sessions }
                var shed = 0
                for (host, count) in plan.rebalanceSheds {
                    let sessions = active.first { $0.id == host }?.sessions ?? 0
                    #expect((sessions - count) * active.count >= total, "\(host) shed \(count) of \(sessions); \(plan.reasons)")
                    shed += count
                }
                #expect(shed <= configuration.rebalanceMovesPerSecond, "one round sheds at most one second of moves")
            }
        }
    }

    /// Applying the rebalance to its snapshot: the shed clients reconnect by least connections
    /// among the active hosts. Every one lands on a host below the average and under the hard
    /// limit, and the spread (max − min sessions among active hosts) does not grow.
    @Test func rebalancingNeverRaisesTheSpread() async {
        await propertyCheck(count: 400, input: Self.configurations, Self.sequences) { configuration, sequence in
            Self.run(configuration, sequence) { snapshot, plan in
                let sheds = plan.rebalanceSheds
                guard !sheds.isEmpty else { return }
                let active = snapshot.active
                let total = active.reduce(0) { $0 + $1.sessions }
                var counts = active.map { $0.sessions - (sheds[$0.id] ?? 0) }
                let before = active.map(\.sessions)
                for _ in 0..<sheds.values.reduce(0, +) {
                    let receiver = counts.indices.min { counts[$0] < counts[$1] }!
                    #expect(counts[receiver] * active.count < total, "a reconnect lands at or above the average")
                    #expect(counts[receiver] < configuration.maxConnectionsPerHost, "a reconnect would be refused")
                    counts[receiver] += 1
                }
                let spreadBefore = before.max()! - before.min()!
                let spreadAfter = counts.max()! - counts.min()!
                #expect(spreadAfter <= spreadBefore, "\(before) → \(counts): \(plan.reasons)")
            }
        }
    }

    /// The configuration's description reads back to the same configuration.
    @Test func describeReadsBack() async {
        await propertyCheck(count: 200, input: Self.configurations) { configuration in
            let environment = Dictionary(uniqueKeysWithValues: configuration.describe().map { ($0.name, $0.value) })
            let loaded = try ScalingConfiguration.read(environment: environment, dotEnv: nil)
            #expect(loaded == configuration)
        }
    }
}
