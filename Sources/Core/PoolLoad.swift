/// The numbers the decision rules share, computed once per snapshot.
///
/// Comparisons with a percentage are done in whole numbers (no rounding at the thresholds):
/// "utilization above p %" is `sessions × 100 > p × servers × L`.
struct PoolLoad {
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
    /// Sessions on active instances only.
    let activeSessions: Int
    /// True when an active or draining instance's count is not known yet
    /// (`InstanceSnapshot.sessionsUnknown`): counts that may be too low by a whole server.
    let hasUnknownCounts: Bool

    /// Reads a snapshot; a negative session count (a registry glitch) counts as 0.
    init(_ snapshot: TopologySnapshot, limit: Int) {
        let instances = snapshot.instances.map { instance in
            var instance = instance
            instance.sessions = max(0, instance.sessions)
            return instance
        }
        self.limit = max(1, limit)
        active = instances.filter { $0.state == .active }
        starting = instances.filter { $0.state == .starting }
        draining = instances.filter { $0.state == .draining }
        sessions = instances.reduce(0) { $0 + $1.sessions }
        activeSessions = active.reduce(0) { $0 + $1.sessions }
        hasUnknownCounts = instances.contains { $0.sessionsUnknown && $0.state != .starting }
    }

    /// Every instance of the pool, whatever its state.
    var total: Int { active.count + starting.count + draining.count }

    /// Servers that carry load now or soon: active and starting.
    var capacityServers: Int { active.count + starting.count }

    /// Overall utilization `U = S / ((active + starting) × L) × 100`; infinite when sessions
    /// exist but no server is active or starting, 0 when the pool holds no session.
    var utilization: Double {
        guard capacityServers > 0 else { return sessions > 0 ? .infinity : 0 }
        return Double(sessions) * 100 / Double(capacityServers * limit)
    }

    /// `U > percent`, exactly.
    func utilizationExceeds(_ percent: Int) -> Bool {
        guard capacityServers > 0 else { return sessions > 0 }
        return sessions * 100 > percent * capacityServers * limit
    }

    /// `U < percent`, exactly.
    func utilizationIsBelow(_ percent: Int) -> Bool {
        guard capacityServers > 0 else { return sessions == 0 && percent > 0 }
        return sessions * 100 < percent * capacityServers * limit
    }

    /// `T = ceil(S / (L × max / 100))`, the servers that carry `S` at `max` % each, unclamped.
    func serversNeeded(atPercent maxPercent: Int) -> Int {
        let perServer = limit * max(1, maxPercent)
        return (sessions * 100 + perServer - 1) / perServer
    }

    /// "utilization 85.0% (17 sessions on 2 servers of 10)".
    var utilizationText: String {
        "utilization \(utilization.percentText) (\(sessions) sessions on \(capacityServers) servers of \(limit))"
    }
}

extension Double {
    /// A percentage with one decimal: `85.0%`.
    var percentText: String {
        guard isFinite else { return "∞%" }
        let tenths = Int((self * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))%"
    }
}

extension Array where Element == InstanceSnapshot {
    /// The ids, comma-separated, for reasons.
    var idList: String { map(\.id).joined(separator: ", ") }
}
