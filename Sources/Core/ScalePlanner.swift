/// Turns a topology snapshot into a plan. The control loop calls it; `ScalingPolicy` is the
/// implementation wsscale uses, tests may pass others.
///
/// A planner may keep state between calls (how long utilization has been low, when it last
/// rebalanced), so `plan` is `mutating`. It is pure: the same calls in the same order with the
/// same `now` give the same plans. It never performs I/O.
public protocol ScalePlanner: Sendable {
    /// Computes what to do now.
    /// - Parameters:
    ///   - snapshot: the pool as it is.
    ///   - now: monotonic time since an arbitrary origin, increasing between calls.
    /// - Returns: the plan, empty when nothing is to be done.
    mutating func plan(for snapshot: TopologySnapshot, now: Duration) -> ScalePlan

    /// Tells the planner that a plan was carried out at `now` (so cooldowns start then). In
    /// dry-run the loop calls it when it records the plan, so a dry run decides as a real one.
    mutating func planExecuted(_ plan: ScalePlan, now: Duration)
}
