/// wsscale's decision rules: turns a topology snapshot into a plan. Pure, no I/O; the only
/// state it keeps is when utilization went low (for the scale-in stabilization window). The
/// pace of rebalancing is the loop's (`RebalancePacer`), passed in as an allowance.
///
/// Notation: `L` = `CONNECTION_LIMIT_PER_HOST`; `S` = sessions on **all** instances, draining
/// ones included (they are load: if the drain times out they come back to the pool);
/// overall utilization `U = S / ((active + starting) × L) × 100`. Starting instances count as
/// capacity so that a slow start does not launch twice; an instance that never becomes
/// active keeps counting until the control loop's launch timeout removes it from the
/// snapshot. With no active or starting instance, any session is over every threshold (the
/// figure shown, in reasons and in `/api/topology` alike, counts them as one server).
///
/// The rules, applied in this order to one snapshot:
/// 1. **Grow** (`ScalingPolicy+Growth.swift`): when `U > MAX_UTILIZATION_PERCENT +
///    OVERUTILIZED_TOLERANCE_PERCENT`, aim at `T = ceil(S / (L × MAX/100))` clamped to
///    [`MIN_INSTANCES`, `MAX_INSTANCES`] servers; otherwise aim at `MIN_INSTANCES`. Missing
///    servers are found by re-activating draining instances (fullest first), then launching,
///    never beyond `MAX_INSTANCES` instances in all.
/// 2. **Scale in** (`ScalingPolicy+ScaleIn.swift`), only if rule 1 did nothing: when
///    `U < MIN_UTILIZATION_PERCENT` has held for `SCALE_IN_STABILIZATION_SECONDS` and no
///    instance is starting, drain the least-loaded active instances down to `max(T, MIN_INSTANCES)`.
/// 3. **Draining instances** (`ScalingPolicy+DrainingInstances.swift`): remove those with no
///    session; after `DRAIN_TIMEOUT_SECONDS`, shed the remaining sessions (cause `.drainTimeout`).
/// 4. **Rebalance** (`ScalingPolicy+Rebalance.swift`), only in plans that neither launch, drain
///    nor re-activate, not while an instance is starting: shed from every over-utilized active
///    host at once down to the average, as far as the hosts below the average have room,
///    at most the moves the loop allows (`RebalancePacer`: `REBALANCE_MAX_MOVES_PER_SECOND`,
///    none while the sessions of the last rebalance are still reconnecting).
///
/// A plan never both launches and drains. Each decision adds one reason with its numbers; a
/// plan that changes nothing carries no reason (so the control loop may skip it silently).
public struct ScalingPolicy: ScalePlanner {
    /// The knobs the rules read.
    public let configuration: ScalingConfiguration

    /// Since when `U < MIN_UTILIZATION_PERCENT` has held without interruption, if it holds now.
    var lowUtilizationSince: Duration?

    /// Creates the policy with its configuration.
    public init(configuration: ScalingConfiguration) {
        self.configuration = configuration
    }

    /// Computes what to do with the pool now (see the type's documentation for the rules).
    /// - Parameters:
    ///   - snapshot: the pool as it is.
    ///   - now: monotonic time, increasing between calls.
    ///   - rebalanceAllowance: the most rebalancing moves the plan may order.
    /// - Returns: the plan, with one reason per decision; empty when nothing is to be done.
    public mutating func plan(for snapshot: TopologySnapshot, now: Duration, rebalanceAllowance: Int) -> ScalePlan {
        let load = PoolLoad(snapshot, limit: configuration.connectionLimitPerHost)
        trackLowUtilization(load, now: now)

        var plan = ScalePlan()
        planGrowth(load, into: &plan)
        if plan.launch == 0 && plan.activate.isEmpty {
            planScaleIn(load, now: now, into: &plan)
        }
        planDrainingInstances(load, into: &plan)
        if plan.launch == 0 && plan.activate.isEmpty && plan.drain.isEmpty {
            planRebalance(load, budget: rebalanceAllowance, into: &plan)
        }
        return plan
    }

}
