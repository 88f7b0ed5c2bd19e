extension PoolState {
    /// Compares what the driver, the proxy and the registry report with what the loop
    /// remembers, in three steps with one job each:
    /// 1. `follow` updates the bookkeeping: adopts unknown instances, forgets vanished ones,
    ///    follows state changes made by others (`PoolState+Follow.swift`);
    /// 2. `corrections` says what to put back in line, from the updated bookkeeping, without
    ///    changing it (`PoolState+Corrections.swift`);
    /// 3. the views: what the planner sees and what the API shows (`PoolState+Views.swift`).
    ///
    /// Rules: an instance's state is `active` when the proxy has it `ready`, `draining` when
    /// the proxy has it `drain` or the registry says it drains, `starting` while its launch is
    /// under way or the driver has not reported it running. A running instance the proxy
    /// lacks is added back in the state the loop remembers (for an unknown one: what the
    /// registry's draining flag says). Entries the loop changed after `startedAt` keep the
    /// loop's view, since the reports may predate the change.
    /// - Parameters:
    ///   - observation: the three reports.
    ///   - now: monotonic time.
    ///   - launchTimeout: how long an instance may stay `starting`.
    ///   - registryGrace: how long an active or draining instance the registry does not list
    ///     has its sessions marked unknown (`InstanceSnapshot.sessionsUnknown`) before it
    ///     counts as holding none.
    ///   - connectionLimit: `CONNECTION_LIMIT_PER_HOST`, for utilization.
    mutating func reconcile(with observation: PoolObservation, now: Duration,
                            launchTimeout: Duration, registryGrace: Duration = .seconds(10),
                            connectionLimit: Int) -> Reconciliation {
        let reports = IndexedObservation(observation)
        follow(reports, now: now)
        let actions = corrections(for: reports, now: now, launchTimeout: launchTimeout, registryGrace: registryGrace)
        retired = retired.filter { reports.listed[$0] != nil || stopping.contains($0) }

        let givenUp = Set(actions.compactMap(\.retiredID))
        let visible = tracked.values.filter { !givenUp.contains($0.id) }.sorted { $0.id < $1.id }
        var snapshot = Self.snapshot(of: visible, reports: reports, now: now, registryGrace: registryGrace)
        snapshot.queued = observation.queued
        snapshot.proxyConnections = observation.proxy.map(\.currentConnections).saturatingSum()
        let instances = Self.statuses(of: visible, reports: reports, now: now, connectionLimit: connectionLimit)
        return Reconciliation(actions: actions, snapshot: snapshot, instances: instances)
    }
}

/// One observation with each report indexed by instance id (the first entry wins when a
/// report names an id twice) and listed in id order.
struct IndexedObservation: Sendable {
    /// The observation itself.
    let observation: PoolObservation
    /// What the driver runs, by id.
    let listed: [InstanceID: DriverInstance]
    /// What the proxy holds, by id.
    let proxy: [InstanceID: ProxyServer]
    /// What the registry counts, by host.
    let registry: [InstanceID: HostSessions]

    init(_ observation: PoolObservation) {
        self.observation = observation
        listed = Self.index(observation.driver, by: \.id)
        proxy = Self.index(observation.proxy, by: \.id)
        registry = Self.index(observation.registry, by: \.host)
    }

    /// The driver's instances in id order.
    var driverInstances: [DriverInstance] { observation.driver.sorted { $0.id < $1.id } }
    /// The proxy's servers in id order.
    var proxyServers: [ProxyServer] { observation.proxy.sorted { $0.id < $1.id } }
    /// When the loop began reading (see `PoolObservation.startedAt`).
    var startedAt: Duration { observation.startedAt }

    private static func index<T>(_ items: [T], by key: (T) -> InstanceID) -> [InstanceID: T] {
        Dictionary(items.map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
    }
}
