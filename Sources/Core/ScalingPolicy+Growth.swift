extension ScalingPolicy {
    /// The clamped target `T = ceil(S / (L × MAX/100))` in [`MIN_INSTANCES`, `MAX_INSTANCES`].
    func targetServers(_ load: PoolLoad) -> Int {
        let needed = load.serversNeeded(atPercent: configuration.maxUtilizationPercent)
        return min(max(needed, configuration.minInstances), max(configuration.maxInstances, configuration.minInstances))
    }

    /// Rule 1: scale out above `MAX + OVERUTILIZED_TOLERANCE`, and keep `MIN_INSTANCES` servers
    /// active or starting.
    ///
    /// Missing servers come first from draining instances, fullest first (their sessions stay
    /// and they take new ones at once; ties by id), then from launches. Launches never bring
    /// the pool (all states) above `MAX_INSTANCES`; a pool already above it launches nothing.
    /// Overload never shrinks the pool: when `T` is not above the servers present, nothing
    /// happens here.
    func planGrowth(_ load: PoolLoad, into plan: inout ScalePlan) {
        let threshold = configuration.maxUtilizationPercent.saturatingAdding(configuration.overutilizedTolerancePercent)
        let overloaded = load.utilizationExceeds(threshold)
        let desired = overloaded ? targetServers(load) : configuration.minInstances
        let present = load.capacityServers
        guard desired > present else { return }

        let missing = desired - present
        let reactivated = load.draining
            .sorted { ($0.sessions, $1.id) > ($1.sessions, $0.id) }
            .prefix(missing)
        let wantedLaunches = missing - reactivated.count
        let launches = min(wantedLaunches, max(0, configuration.maxInstances.saturatingSubtracting(load.total)))
        guard launches > 0 || !reactivated.isEmpty else { return }

        plan.activate = reactivated.map(\.id)
        plan.launch = launches
        var actions: [String] = []
        if !reactivated.isEmpty { actions.append("re-activating \(Array(reactivated).idList)") }
        if launches > 0 { actions.append("launching \(launches)") }
        if launches < wantedLaunches {
            actions.append("MAX_INSTANCES \(configuration.maxInstances) reached, \(wantedLaunches - launches) not launched")
        }
        let why: String
        if !overloaded {
            why = "\(present) servers active or starting < MIN_INSTANCES \(configuration.minInstances)"
        } else if present == 0 {
            why = "\(load.sessions) sessions and no server active or starting: target \(desired) servers"
        } else {
            why = "\(load.utilizationText) > \(threshold)% (max \(configuration.maxUtilizationPercent)% "
                + "+ tolerance \(configuration.overutilizedTolerancePercent)%): target \(desired) servers"
        }
        plan.reasons.append(why + ", " + actions.joined(separator: ", "))
    }
}
