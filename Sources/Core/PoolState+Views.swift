extension PoolState {
    /// Step 3 of `reconcile`, for the planner: each visible instance with its state,
    /// sessions, age and time in state; a count is unknown while the registry has not listed
    /// the instance for less than `registryGrace`.
    static func snapshot(of visible: [TrackedInstance], reports: IndexedObservation,
                         now: Duration, registryGrace: Duration) -> TopologySnapshot {
        TopologySnapshot(instances: visible.map { entry in
            InstanceSnapshot(id: entry.id, state: entry.state, sessions: reports.registry[entry.id]?.sessions ?? 0,
                             age: now - entry.firstSeen, timeInState: now - entry.stateSince,
                             sessionsUnknown: entry.missingFromRegistrySince.map { now - $0 < registryGrace } ?? false)
        })
    }

    /// Step 3 of `reconcile`, for the API: each visible instance, the loop's view beside the
    /// proxy's.
    static func statuses(of visible: [TrackedInstance], reports: IndexedObservation,
                         now: Duration, connectionLimit: Int) -> [InstanceStatus] {
        visible.map { entry in
            let sessions = reports.registry[entry.id]?.sessions ?? 0
            let server = reports.proxy[entry.id]
            return InstanceStatus(
                id: entry.id, state: entry.state,
                endpoint: entry.endpoint ?? reports.listed[entry.id]?.endpoint, sessions: sessions,
                utilizationPercent: PoolStatus.utilizationPercent(sessions: sessions, hosts: 1, limit: connectionLimit),
                proxyState: server?.state, proxyConnections: server?.currentConnections,
                proxyDisagrees: server.map { $0.currentConnections != sessions } ?? false,
                ageSeconds: (now - entry.firstSeen).secondsValue, secondsInState: (now - entry.stateSince).secondsValue)
        }
    }
}
