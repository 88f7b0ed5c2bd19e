extension PoolState {
    /// Step 2 of `reconcile`: what to put back in line, read from the bookkeeping as `follow`
    /// left it. Changes nothing. In order, per listed instance by id, then for launches the
    /// driver does not list, then for the proxy's leftovers:
    /// - a retired instance the driver still lists (and no stop under way): stop it again;
    /// - a launch under way for more than twice the launch timeout, an instance that exited,
    ///   or one still `starting` after the launch timeout: retire it;
    /// - one the loop did not change meanwhile that the proxy holds in maintenance: set its
    ///   state; that runs but the proxy lacks: add it, in the state the loop remembers;
    /// - an active or draining host that has said the opposite of the loop's record for
    ///   longer than `registryGrace` (its report lags by up to a renewal): tell it again
    ///   (one owner of drain state: the loop);
    /// - a proxy server the loop does not track, or a retired one: remove it.
    func corrections(for reports: IndexedObservation, now: Duration,
                     launchTimeout: Duration, registryGrace: Duration) -> [ReconcileAction] {
        var actions: [ReconcileAction] = []
        let stuckLaunch = "is still launching after \(launchTimeout * 2)"
        for instance in reports.driverInstances {
            let id = instance.id
            if retired.contains(id) {
                if !stopping.contains(id) { actions.append(.stop(id)) }
                continue
            }
            guard let entry = tracked[id] else { continue }
            if entry.launching {
                if now - entry.firstSeen > launchTimeout * 2 { actions.append(.retire(id, reason: stuckLaunch)) }
                continue
            }
            if case let .exited(code) = instance.status {
                actions.append(.retire(id, reason: "exited" + (code.map { " with code \($0)" } ?? "")))
                continue
            }
            let unchanged = !entry.changed(since: reports.startedAt)
            if unchanged {
                if let server = reports.proxy[id] {
                    if server.state == .maintenance { actions.append(.setProxyState(id, entry.state.proxyState)) }
                } else if entry.state != .starting, let endpoint = entry.endpoint {
                    actions.append(.addToProxy(id, endpoint, entry.state.proxyState))
                } else if now - entry.stateSince > launchTimeout {
                    actions.append(.retire(id, reason: "did not become ready within \(launchTimeout)"))
                    continue
                }
            }
            if unchanged, entry.state == .active || entry.state == .draining,
               let says = reports.registry[id]?.reportsDraining, says != (entry.state == .draining),
               now - entry.stateSince > registryGrace {
                actions.append(.tellDrainState(id, draining: entry.state == .draining))
            }
        }
        for (id, entry) in tracked.sorted(by: { $0.key < $1.key })
        where reports.listed[id] == nil && entry.launching && now - entry.firstSeen > launchTimeout * 2 {
            actions.append(.retire(id, reason: stuckLaunch))
        }
        for server in reports.proxyServers
        where tracked[server.id] == nil && (reports.listed[server.id] == nil || retired.contains(server.id)) {
            actions.append(.removeFromProxy(server.id))
        }
        return actions
    }
}

extension ReconcileAction {
    /// The instance this action gives up (takes out of the pool), if it is a `retire`.
    var retiredID: InstanceID? {
        if case let .retire(id, _) = self { id } else { nil }
    }
}
