extension PoolState {
    /// Step 1 of `reconcile`: brings the bookkeeping in line with the reports, and nothing
    /// else (what needs correcting is `corrections`' job).
    ///
    /// - An instance the driver lists and the loop did not know is adopted as `starting`.
    /// - Retired instances stay out; launches under way and instances that exited keep their
    ///   entry as it is (the corrections give them up when they must).
    /// - An instance the loop changed after the reports were read keeps the loop's view.
    ///   Any other follows the proxy: `ready` is `active` (`draining` when the registry says
    ///   it drains), `drain` is `draining`, `maintenance` is the state the loop remembers. One
    ///   the proxy lacks keeps the remembered state while it runs with a known endpoint (it
    ///   will be added back), and is `starting` otherwise.
    /// - An entry whose instance the driver no longer lists is forgotten, unless it is
    ///   launching or was changed after the reports were read.
    mutating func follow(_ reports: IndexedObservation, now: Duration) {
        for instance in reports.driverInstances where !retired.contains(instance.id) {
            let id = instance.id
            var entry = tracked[id] ?? TrackedInstance(
                id: id, state: .starting, launching: false, endpoint: instance.endpoint,
                firstSeen: now, stateSince: now, changedAt: nil)
            defer { tracked[id] = entry }
            if entry.launching { continue }
            if case .exited = instance.status { continue }
            if !entry.changed(since: reports.startedAt) {
                Self.follow(&entry, instance: instance, reports: reports, now: now)
            }
            if entry.state == .starting || reports.registry[id] != nil {
                entry.missingFromRegistrySince = nil
            } else if entry.missingFromRegistrySince == nil {
                entry.missingFromRegistrySince = now
            }
        }
        for (id, entry) in tracked where reports.listed[id] == nil
            && !entry.launching && !entry.changed(since: reports.startedAt) {
            tracked[id] = nil  // gone: `corrections` removes its proxy entry, if any
        }
    }

    /// The state and endpoint of one listed instance the loop did not change meanwhile.
    private static func follow(_ entry: inout TrackedInstance, instance: DriverInstance,
                               reports: IndexedObservation, now: Duration) {
        let registryDraining = reports.registry[entry.id]?.draining ?? false
        let remembered: InstanceState = entry.state == .starting
            ? (registryDraining ? .draining : .active) : entry.state
        if let server = reports.proxy[entry.id] {
            entry.endpoint = server.endpoint
            switch server.state {
            case .ready: entry.enter(registryDraining ? .draining : .active, at: now)
            case .drain: entry.enter(.draining, at: now)
            case .maintenance: entry.enter(remembered, at: now)
            }
        } else if instance.status == .running, let endpoint = instance.endpoint ?? entry.endpoint {
            entry.endpoint = endpoint
            entry.enter(remembered, at: now)
        } else {
            entry.enter(.starting, at: now)
        }
    }
}
