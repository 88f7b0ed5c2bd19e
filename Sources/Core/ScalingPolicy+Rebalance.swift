extension ScalingPolicy {
    /// Rule 4: the "Swiss cheese" rebalance, over **active** hosts only.
    ///
    /// With `A` active hosts holding `Sa` sessions, the average is `Sa / A` sessions, that is
    /// utilization `Ua = Sa / (A × L) × 100` (draining hosts are neither sources nor targets).
    /// - Not while a host is starting: the shed clients would reconnect to the old hosts and be
    ///   shed again once the new one is in rotation, so the pool waits for it (at most the
    ///   launch timeout, after which the instance leaves the snapshot).
    /// - Not while the sessions of the last rebalance are on their way: the loop's
    ///   `RebalancePacer` then allows no move.
    /// - A host is over-utilized when `u_h > Ua + OVERUTILIZED_TOLERANCE_PERCENT`; a rebalance
    ///   needs one, and room on the hosts below the average. As in the proof of concept, every
    ///   host below the average can take shed sessions (`UNDERUTILIZED_TOLERANCE_PERCENT` only
    ///   names the notably short hosts in the reason): requiring a notably short host too
    ///   would leave a pool like 6/5/5/5/4/4/4 with a host above the tolerance for good.
    /// - An over-utilized host sheds at most `s_h − ceil(L × Ua / 100)` (that is, down to
    ///   `ceil(Sa / A)`), never below the average.
    /// - The total is capped by the room on hosts strictly below the average: each can take
    ///   up to `ceil(Sa / A)` sessions (the level the shedding hosts stop at), and never more
    ///   than `MAX_CONNECTIONS_PER_HOST` (it would refuse them). Least-connections balancing
    ///   sends the shed clients there, so the spread between active hosts never grows, and a
    ///   pool like 8/6/6 ends at 7/7/6 instead of staying put.
    /// - The total is paced by `budget`, the moves the loop's `RebalancePacer` allows:
    ///   `REBALANCE_MAX_MOVES_PER_SECOND` refilled since the last rebalance, at most one
    ///   second of it (0: no rebalancing). Every over-utilized host sheds in the same round.
    /// - Within the total, the fullest hosts shed first (their counts are lowered together,
    ///   ties by id), which lowers the maximum most.
    /// - Not while a host's count is unknown (the registry lost its data and the servers are
    ///   writing theirs again): an incomplete topology looks uneven when it is not.
    /// - Not while users are arriving faster than the registry shows them
    ///   (`PoolLoad.countsHaveSettled`): during a burst the newest servers are still filling,
    ///   and shedding on counts that lag would move users who were about to land evenly.
    func planRebalance(_ load: PoolLoad, budget moveBudget: Int, into plan: inout ScalePlan) {
        let hosts = load.active
        let count = hosts.count
        let total = load.activeSessions
        guard count >= 2, total > 0, configuration.rebalanceMovesPerSecond > 0, load.starting.isEmpty,
              !load.hasUnknownCounts, load.countsHaveSettled else { return }

        // Every product and sum saturates: counts are clamped by `PoolLoad`, but a knob built
        // in code may be near `Int.max`, and no input may trap.
        let unit = count.saturatingMultiplied(by: load.limit)
        let overTolerance = configuration.overutilizedTolerancePercent
        let underTolerance = configuration.underutilizedTolerancePercent
        let scaledTotal = total.saturatingMultiplied(by: 100)
        func scaled(_ host: InstanceSnapshot) -> Int { host.sessions.saturatingMultiplied(by: 100).saturatingMultiplied(by: count) }
        let overLine = scaledTotal.saturatingAdding(overTolerance.saturatingMultiplied(by: unit))
        let underLine = scaledTotal.saturatingSubtracting(underTolerance.saturatingMultiplied(by: unit))
        let overUtilized = hosts.filter { scaled($0) > overLine }
        let underUtilized = hosts.filter { scaled($0) < underLine }
        guard !overUtilized.isEmpty else { return }

        let target = total / count + (total % count == 0 ? 0 : 1)
        let fillLevel = min(target, configuration.maxConnectionsPerHost)
        let room = hosts
            .filter { $0.sessions.saturatingMultiplied(by: count) < total }
            .map { max(0, fillLevel.saturatingSubtracting($0.sessions)) }
            .saturatingSum()
        let wanted = overUtilized.map { max(0, $0.sessions - target) }.saturatingSum()
        let budget = min(wanted, room, max(0, moveBudget))
        guard budget > 0 else { return }

        let orders = Self.lowerFullestFirst(overUtilized, floor: target, budget: budget)
        plan.shed.append(contentsOf: orders)

        let average = Double(total) * 100 / Double(unit)
        func utilization(_ host: InstanceSnapshot) -> String {
            "\(host.id) \((Double(host.sessions) * 100 / Double(load.limit)).percentText)"
        }
        var reason = "rebalance: average \(average.percentText) (\(total) sessions on \(count) active servers of \(load.limit)); "
            + "over \((average + Double(overTolerance)).percentText): \(overUtilized.map(utilization).joined(separator: ", ")); "
            + "under \((average - Double(underTolerance)).percentText): \(underUtilized.isEmpty ? "none" : underUtilized.map(utilization).joined(separator: ", ")); "
            + "shedding " + orders.map { "\($0.count) from \($0.host)" }.joined(separator: ", ")
            + " (not below \(target) each)"
        if budget < wanted {
            let limits = [
                room == budget ? "room \(room) on servers below the average" : nil,
                moveBudget == budget ? "REBALANCE_MAX_MOVES_PER_SECOND \(configuration.rebalanceMovesPerSecond) (\(moveBudget) available now)" : nil,
            ].compactMap { $0 }
            reason += ", \(budget) of \(wanted): limited by " + limits.joined(separator: " and ")
        }
        plan.reasons.append(reason)
    }

    /// Distributes `budget` sheds over `hosts` by lowering the fullest first, never taking a
    /// host below `floor`: every host ends at `max(level, its count)` or one above, for the
    /// lowest common level the budget reaches. Orders come in the hosts' order; ties by id.
    static func lowerFullestFirst(_ hosts: [InstanceSnapshot], floor: Int, budget: Int) -> [ShedOrder] {
        func shedAbove(_ level: Int) -> Int { hosts.map { max(0, $0.sessions.saturatingSubtracting(level)) }.saturatingSum() }
        // The lowest level in [floor, highest] whose shedding fits in the budget.
        var low = floor, high = hosts.map(\.sessions).max() ?? floor
        while low < high {
            let middle = low + (high - low) / 2
            if shedAbove(middle) <= budget { high = middle } else { low = middle + 1 }
        }
        let level = low
        var leftover = budget - shedAbove(level)
        var counts = hosts.map { max(0, $0.sessions - level) }
        // Hosts sitting at the level after shedding give one more each, by id, for the leftover.
        let atLevel = hosts.indices.filter { hosts[$0].sessions >= level && level > floor }
        for index in atLevel.sorted(by: { hosts[$0].id < hosts[$1].id }) where leftover > 0 {
            counts[index] += 1
            leftover -= 1
        }
        return hosts.indices.compactMap { index in
            counts[index] > 0 ? ShedOrder(host: hosts[index].id, count: counts[index], cause: .rebalance) : nil
        }
    }
}
