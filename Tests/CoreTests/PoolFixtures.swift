@testable import WSScaleCore

/// Short ways to write snapshots and configurations in the policy tests.
extension InstanceSnapshot {
    static func active(_ id: String, _ sessions: Int) -> InstanceSnapshot {
        InstanceSnapshot(id: id, state: .active, sessions: sessions, age: .seconds(60), timeInState: .seconds(60))
    }

    static func starting(_ id: String, since age: Duration = .seconds(1)) -> InstanceSnapshot {
        InstanceSnapshot(id: id, state: .starting, sessions: 0, age: age, timeInState: age)
    }

    static func draining(_ id: String, _ sessions: Int, for time: Duration = .seconds(1)) -> InstanceSnapshot {
        InstanceSnapshot(id: id, state: .draining, sessions: sessions, age: .seconds(600), timeInState: time)
    }
}

extension TopologySnapshot {
    /// A pool of active instances `ws-1`, `ws-2`, … holding these session counts.
    static func active(_ counts: Int...) -> TopologySnapshot {
        TopologySnapshot(instances: counts.enumerated().map { .active("ws-\($0.offset + 1)", $0.element) })
    }
}

extension ScalingConfiguration {
    /// The seed's experiment settings: L = 10, hard limit 30, 70/40/10/10; our defaults otherwise.
    static var seed: ScalingConfiguration {
        var configuration = ScalingConfiguration()
        configuration.connectionLimitPerHost = 10
        configuration.maxConnectionsPerHost = 30
        configuration.maxUtilizationPercent = 70
        configuration.minUtilizationPercent = 40
        configuration.overutilizedTolerancePercent = 10
        configuration.underutilizedTolerancePercent = 10
        return configuration
    }

    /// The seed's settings with some knobs changed.
    static func seed(_ change: (inout ScalingConfiguration) -> Void) -> ScalingConfiguration {
        var configuration = seed
        change(&configuration)
        return configuration
    }
}

extension ScalePlan {
    /// The plan's actions without its reasons, for comparisons.
    var actions: ScalePlan {
        var plan = self
        plan.reasons = []
        return plan
    }

    /// Rebalancing sheds as `host: count`.
    var rebalanceSheds: [InstanceID: Int] {
        Dictionary(shed.filter { $0.cause == .rebalance }.map { ($0.host, $0.count) }, uniquingKeysWith: +)
    }
}

/// One rebalancing shed order.
func rebalance(_ host: InstanceID, _ count: Int) -> ShedOrder {
    ShedOrder(host: host, count: count, cause: .rebalance)
}
