extension PoolState {
    /// Compares what the driver, the proxy and the registry report with what the loop
    /// remembers; updates the bookkeeping (adopts unknown instances, forgets vanished ones,
    /// follows state changes made by others) and says what to correct.
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
        let listed = Self.index(observation.driver, by: \.id)
        let proxy = Self.index(observation.proxy, by: \.id)
        let registry = Self.index(observation.registry, by: \.host)
        var actions: [ReconcileAction] = []
        var visible: [TrackedInstance] = []

        for instance in observation.driver.sorted(by: { $0.id < $1.id }) {
            let id = instance.id
            if retired.contains(id) {
                if !stopping.contains(id) { actions.append(.stop(id)) }
                continue
            }
            var entry = tracked[id] ?? TrackedInstance(
                id: id, state: .starting, launching: false, endpoint: instance.endpoint,
                firstSeen: now, stateSince: now, changedAt: nil)
            if entry.launching {
                if now - entry.firstSeen > launchTimeout * 2 {
                    actions.append(.retire(id, reason: "is still launching after \(launchTimeout * 2)"))
                } else {
                    visible.append(entry)
                }
                tracked[id] = entry
                continue
            }
            if case let .exited(code) = instance.status {
                actions.append(.retire(id, reason: "exited" + (code.map { " with code \($0)" } ?? "")))
                tracked[id] = entry
                continue
            }
            let registryDraining = registry[id]?.draining ?? false
            let remembered: InstanceState = entry.state == .starting
                ? (registryDraining ? .draining : .active) : entry.state
            if entry.changed(since: observation.startedAt) {
                // The reports may predate the loop's own change: keep the loop's view.
            } else if let server = proxy[id] {
                entry.endpoint = server.endpoint
                switch server.state {
                case .ready: entry.enter(registryDraining ? .draining : .active, at: now)
                case .drain: entry.enter(.draining, at: now)
                case .maintenance:
                    entry.enter(remembered, at: now)
                    actions.append(.setProxyState(id, remembered.proxyState))
                }
            } else if instance.status == .running, let endpoint = instance.endpoint ?? entry.endpoint {
                entry.endpoint = endpoint
                entry.enter(remembered, at: now)
                actions.append(.addToProxy(id, endpoint, remembered.proxyState))
            } else {
                entry.enter(.starting, at: now)
                if now - entry.stateSince > launchTimeout {
                    actions.append(.retire(id, reason: "did not become ready within \(launchTimeout)"))
                    tracked[id] = entry
                    continue
                }
            }
            // One owner of drain state: the loop. A host that says otherwise for longer than the
            // registry's grace (its report lags by up to a renewal) is told the record again.
            if !entry.changed(since: observation.startedAt), entry.state == .active || entry.state == .draining,
               let says = registry[id]?.reportsDraining, says != (entry.state == .draining),
               now - entry.stateSince > registryGrace {
                actions.append(.tellDrainState(id, draining: entry.state == .draining))
            }
            if entry.state == .starting || registry[id] != nil {
                entry.missingFromRegistrySince = nil
            } else if entry.missingFromRegistrySince == nil {
                entry.missingFromRegistrySince = now
            }
            tracked[id] = entry
            visible.append(entry)
        }

        for (id, entry) in tracked.sorted(by: { $0.key < $1.key }) where listed[id] == nil {
            if entry.launching || entry.changed(since: observation.startedAt) {
                if entry.launching && now - entry.firstSeen > launchTimeout * 2 {
                    actions.append(.retire(id, reason: "is still launching after \(launchTimeout * 2)"))
                } else {
                    visible.append(entry)
                }
            } else {
                tracked[id] = nil  // gone: the proxy entry, if any, is removed below
            }
        }
        for server in observation.proxy.sorted(by: { $0.id < $1.id })
        where tracked[server.id] == nil && listed[server.id].map({ _ in retired.contains(server.id) }) ?? true {
            actions.append(.removeFromProxy(server.id))
        }
        retired = retired.filter { listed[$0] != nil || stopping.contains($0) }

        visible.sort { $0.id < $1.id }
        var snapshot = Self.snapshot(of: visible, registry: registry, now: now, registryGrace: registryGrace)
        snapshot.queued = observation.queued
        snapshot.proxyConnections = observation.proxy.map(\.currentConnections).saturatingSum()
        let instances = Self.statuses(of: visible, listed: listed, proxy: proxy, registry: registry,
                                      now: now, connectionLimit: connectionLimit)
        return Reconciliation(actions: actions, snapshot: snapshot, instances: instances)
    }

    /// What the planner sees: each visible instance with its state, sessions, age and time in
    /// state; a count is unknown while the registry has not listed the instance for less than
    /// `registryGrace`.
    private static func snapshot(of visible: [TrackedInstance], registry: [InstanceID: HostSessions],
                                 now: Duration, registryGrace: Duration) -> TopologySnapshot {
        TopologySnapshot(instances: visible.map { entry in
            InstanceSnapshot(id: entry.id, state: entry.state, sessions: registry[entry.id]?.sessions ?? 0,
                             age: now - entry.firstSeen, timeInState: now - entry.stateSince,
                             sessionsUnknown: entry.missingFromRegistrySince.map { now - $0 < registryGrace } ?? false)
        })
    }

    /// What the API shows of each visible instance: the loop's view beside the proxy's.
    private static func statuses(of visible: [TrackedInstance], listed: [InstanceID: DriverInstance],
                                 proxy: [InstanceID: ProxyServer], registry: [InstanceID: HostSessions],
                                 now: Duration, connectionLimit: Int) -> [InstanceStatus] {
        visible.map { entry in
            let sessions = registry[entry.id]?.sessions ?? 0
            let server = proxy[entry.id]
            return InstanceStatus(
                id: entry.id, state: entry.state,
                endpoint: entry.endpoint ?? listed[entry.id]?.endpoint, sessions: sessions,
                utilizationPercent: PoolStatus.utilizationPercent(sessions: sessions, hosts: 1, limit: connectionLimit),
                proxyState: server?.state, proxyConnections: server?.currentConnections,
                proxyDisagrees: server.map { $0.currentConnections != sessions } ?? false,
                ageSeconds: (now - entry.firstSeen).seconds, secondsInState: (now - entry.stateSince).seconds)
        }
    }

    private static func index<T>(_ items: [T], by key: (T) -> InstanceID) -> [InstanceID: T] {
        Dictionary(items.map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
