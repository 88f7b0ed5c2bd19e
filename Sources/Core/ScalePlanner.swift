/// Turns a topology snapshot into a plan. The control loop calls it; `ScalingPolicy` is the
/// implementation wsscale uses, tests may pass others.
///
/// A planner may keep state between calls (how long utilization has been low), so `plan` is
/// `mutating`. It is pure: the same calls in the same order with the same `now` give the same
/// plans. It never performs I/O, and it is never told whether a plan was carried out: what
/// depends on that (the pace of rebalancing) is the loop's, passed in as an allowance.
public protocol ScalePlanner: Sendable {
    /// Computes what to do now.
    /// - Parameters:
    ///   - snapshot: the pool as it is.
    ///   - now: monotonic time since an arbitrary origin, increasing between calls.
    ///   - rebalanceAllowance: the most rebalancing moves (`ShedCause.rebalance` sessions) the
    ///     plan may order, from the loop's `RebalancePacer`.
    /// - Returns: the plan, empty when nothing is to be done.
    mutating func plan(for snapshot: TopologySnapshot, now: Duration, rebalanceAllowance: Int) -> ScalePlan
}
