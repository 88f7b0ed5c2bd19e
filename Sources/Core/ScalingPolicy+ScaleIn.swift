extension ScalingPolicy {
    /// Keeps the start of the current low-utilization period (`U < MIN_UTILIZATION_PERCENT`),
    /// forgetting it as soon as utilization is not low, or not known (a count is unknown).
    mutating func trackLowUtilization(_ load: PoolLoad, now: Duration) {
        if load.utilizationIsBelow(configuration.minUtilizationPercent) && !load.hasUnknownCounts {
            lowUtilizationSince = lowUtilizationSince ?? now
        } else {
            lowUtilizationSince = nil
        }
    }

    /// Rule 2: scale in once `U < MIN_UTILIZATION_PERCENT` has held for the stabilization window.
    ///
    /// - Never while an instance is starting (the pool is growing; its capacity is not proven),
    ///   nor while a count is unknown (an incomplete topology looks emptier than it is).
    /// - Drains the least-loaded active instances (ties by id) down to `max(T, MIN_INSTANCES)`.
    ///   Since `T` carries `S` at `MAX_UTILIZATION_PERCENT`, the pool left is not overloaded,
    ///   so scale-in cannot trigger a scale-out.
    /// - A decided scale-in restarts the window: the next step waits a full window again.
    mutating func planScaleIn(_ load: PoolLoad, now: Duration, into plan: inout ScalePlan) {
        guard let since = lowUtilizationSince, load.starting.isEmpty, !load.hasUnknownCounts else { return }
        let lowFor = now - since
        guard lowFor >= configuration.scaleInStabilization else { return }
        let keep = max(targetServers(load), configuration.minInstances)
        let excess = load.active.count - keep
        guard excess > 0 else { return }

        let drained = Array(load.active.sorted { ($0.sessions, $0.id) < ($1.sessions, $1.id) }.prefix(excess))
        plan.drain = drained.map(\.id)
        plan.reasons.append(
            "\(load.utilizationText) < \(configuration.minUtilizationPercent)% for \(lowFor.secondsText)s "
            + "(stabilization \(configuration.scaleInStabilization.secondsText)s): target \(keep) servers, "
            + "draining \(drained.idList)")
        lowUtilizationSince = nil
    }
}
