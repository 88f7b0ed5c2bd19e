import WSScaleCore

/// The rules with the loop's rebalancing pace, composed as the control loop composes them:
/// `plan` asks the pacer for its allowance and the policy for a plan; `carriedOut` tells the
/// pacer that the plan ran. Lets the policy tests walk through time without the loop.
struct PacedPolicy {
    var policy: ScalingPolicy
    var pacer: RebalancePacer

    init(configuration: ScalingConfiguration) {
        policy = ScalingPolicy(configuration: configuration)
        pacer = RebalancePacer(movesPerSecond: configuration.rebalanceMovesPerSecond)
    }

    /// The plan for `snapshot` at `now`, within the pacer's allowance.
    mutating func plan(for snapshot: TopologySnapshot, now: Duration) -> ScalePlan {
        policy.plan(for: snapshot, now: now, rebalanceAllowance: pacer.allowance(for: snapshot, now: now))
    }

    /// Records that `plan` was carried out at `now`.
    mutating func carriedOut(_ plan: ScalePlan, now: Duration) {
        pacer.carriedOut(plan, now: now)
    }
}
