extension ScalingPolicy {
    /// Rule 3: what becomes of draining instances (those re-activated by this plan excepted).
    ///
    /// - One with no session left is removed (not while its count is unknown).
    /// - One draining for `DRAIN_TIMEOUT_SECONDS` or more sheds all its remaining sessions
    ///   (cause `.drainTimeout`; the clients reconnect to active servers), and is removed by a
    ///   later plan once empty. The shed is ordered again at each plan until it is empty; it
    ///   is not bounded by `REBALANCE_MAX_MOVES_PER_SECOND`, which paces rebalancing only.
    func planDrainingInstances(_ load: PoolLoad, into plan: inout ScalePlan) {
        let reactivated = Set(plan.activate)
        // An instance whose count is unknown may still hold sessions: neither removed nor shed.
        let draining = load.draining.filter { !reactivated.contains($0.id) && !$0.sessionsUnknown }

        let empty = draining.filter { $0.sessions == 0 }
        if !empty.isEmpty {
            plan.remove = empty.map(\.id)
            plan.reasons.append("removing \(empty.idList): drained, no session left")
        }
        for instance in draining where instance.sessions > 0 && instance.timeInState >= configuration.drainTimeout {
            plan.shed.append(ShedOrder(host: instance.id, count: instance.sessions, cause: .drainTimeout))
            plan.reasons.append(
                "\(instance.id) draining for \(instance.timeInState.secondsText)s ≥ DRAIN_TIMEOUT_SECONDS "
                + "\(configuration.drainTimeout.secondsText): shedding its \(instance.sessions) remaining sessions")
        }
    }
}
