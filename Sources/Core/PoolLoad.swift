/// The numbers the decision rules share, computed once per snapshot.
///
/// Comparisons with a percentage are done in whole numbers (no rounding at the thresholds):
/// "utilization above p %" is `sessions × 100 > p × servers × L`.
///
/// No input traps: each count is clamped to `0...maxCount` and `L` to `1...maxCount`, and the
/// products saturate (`Int.saturatingMultiplied`), so a registry glitch or a knob built in code
/// near `Int.max` gives an extreme answer instead of an overflow.
struct PoolLoad {
    /// The largest session count or limit taken as it is (2^32); larger ones are lowered to it.
    static let maxCount = 1 << 32

    /// `CONNECTION_LIMIT_PER_HOST`: sessions per server counted as 100 %.
    let limit: Int
    /// Instances in rotation, in snapshot order.
    let active: [InstanceSnapshot]
    /// Instances launched, not yet in rotation.
    let starting: [InstanceSnapshot]
    /// Instances out of rotation.
    let draining: [InstanceSnapshot]
    /// `S`: sessions on every instance, draining ones included.
    let sessions: Int
    /// `Q`: connections waiting in the proxy's queue for a server with room.
    let queued: Int
    /// Connections the proxy holds to the pool's servers.
    let proxyConnections: Int
    /// `S + Q`: what the pool is asked to hold, the load the growth and scale-in rules weigh.
    /// `S` is the larger of the registry's count and the proxy's, which learns of a
    /// new connection first.
    var demand: Int { Swift.max(sessions, proxyConnections).saturatingAdding(queued) }
    /// Sessions on active instances only.
    let activeSessions: Int
    /// True when an active or draining instance's count is not known yet
    /// (`InstanceSnapshot.sessionsUnknown`): counts that may be too low by a whole server.
    let hasUnknownCounts: Bool

    /// Reads a snapshot; a negative session count (a registry glitch) counts as 0, one above
    /// `maxCount` as `maxCount`.
    init(_ snapshot: TopologySnapshot, limit: Int) {
        let instances = snapshot.instances.map { instance in
            var instance = instance
            instance.sessions = Swift.min(Swift.max(0, instance.sessions), Self.maxCount)
            return instance
        }
        self.limit = Swift.min(Swift.max(1, limit), Self.maxCount)
        active = instances.filter { $0.state == .active }
        starting = instances.filter { $0.state == .starting }
        draining = instances.filter { $0.state == .draining }
        sessions = instances.map(\.sessions).saturatingSum()
        queued = Swift.min(Swift.max(0, snapshot.queued), Self.maxCount)
        proxyConnections = Swift.min(Swift.max(0, snapshot.proxyConnections), Self.maxCount)
        activeSessions = active.map(\.sessions).saturatingSum()
        hasUnknownCounts = instances.contains { $0.sessionsUnknown && $0.state != .starting }
    }

    /// Every instance of the pool, whatever its state.
    var total: Int { active.count + starting.count + draining.count }

    /// Whether the registry's counts can be decided on: nobody waits in the proxy's
    /// queue, and the proxy does not hold notably more connections than the registry
    /// counts sessions (it learns of a connection first; the servers write theirs every
    /// 100 ms). "Notably": more than 2 % of the sessions, and more than 2.
    var countsHaveSettled: Bool {
        queued == 0 && proxyConnections <= sessions.saturatingAdding(Swift.max(2, sessions / 50))
    }

    /// Servers that carry load now or soon: active and starting.
    var capacityServers: Int { active.count + starting.count }

    /// Overall utilization `U = S / ((active + starting) × L) × 100`, the figure the API
    /// shows too (`PoolStatus.utilizationPercent`): with no server active or starting, the
    /// servers count as 1. The rules decide with the exact comparisons below, in which no
    /// server and some sessions is over any threshold.
    var utilization: Double {
        PoolStatus.utilizationPercent(sessions: demand, hosts: capacityServers, limit: limit)
    }

    /// `U > percent`, exactly (`U` counts the queue: `(S + Q) / ((active + starting) × L)`).
    func utilizationExceeds(_ percent: Int) -> Bool {
        guard capacityServers > 0 else { return demand > 0 }
        return demand.saturatingMultiplied(by: 100) > capacity(atPercent: percent)
    }

    /// `U < percent`, exactly.
    func utilizationIsBelow(_ percent: Int) -> Bool {
        guard capacityServers > 0 else { return demand == 0 && percent > 0 }
        return demand.saturatingMultiplied(by: 100) < capacity(atPercent: percent)
    }

    /// `T = ceil((S + Q) / (L × max / 100))`, the servers that carry the demand at `max` % each, unclamped.
    func serversNeeded(atPercent maxPercent: Int) -> Int {
        let perServer = limit.saturatingMultiplied(by: Swift.max(1, maxPercent))
        let hundredfold = demand.saturatingMultiplied(by: 100)
        return hundredfold / perServer + (hundredfold % perServer == 0 ? 0 : 1)
    }

    /// `percent × (active + starting) × L`, saturating.
    private func capacity(atPercent percent: Int) -> Int {
        percent.saturatingMultiplied(by: capacityServers).saturatingMultiplied(by: limit)
    }

    /// "utilization 85.0% (17 sessions on 2 servers of 10)".
    var utilizationText: String {
        let waiting = queued > 0 ? " + \(queued) waiting in the proxy's queue" : ""
        return "utilization \(utilization.percentText) (\(Swift.max(sessions, proxyConnections)) sessions\(waiting) on \(capacityServers) servers of \(limit))"
    }
}

extension Double {
    /// A percentage with one decimal: `85.0%`.
    var percentText: String {
        guard isFinite else { return "∞%" }
        guard abs(self) < 1e15 else { return "\(self)%" }
        let tenths = Int((self * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))%"
    }
}

extension Array where Element == InstanceSnapshot {
    /// The ids, comma-separated, for reasons.
    var idList: String { map(\.id).joined(separator: ", ") }
}
