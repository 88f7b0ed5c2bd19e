/// What the control loop remembers about one instance between wakes.
struct TrackedInstance: Sendable, Equatable {
    /// The instance.
    var id: InstanceID
    /// Its place in the rotation as the loop last saw or set it.
    var state: InstanceState
    /// True while a launch of it is under way (not yet added to the proxy).
    var launching: Bool
    /// Where the proxy reaches it, once known.
    var endpoint: Endpoint?
    /// When it was launched, or first seen when this run of the loop did not launch it.
    var firstSeen: Duration
    /// When it entered `state`.
    var stateSince: Duration
    /// When the loop itself last changed it; observations read before this are stale for it.
    var changedAt: Duration?
    /// Since when the registry has not listed it while it runs (nil when it does).
    var missingFromRegistrySince: Duration? = nil

    /// Moves it to `newState` at `now`, keeping `stateSince` when the state does not change.
    mutating func enter(_ newState: InstanceState, at now: Duration) {
        guard newState != state else { return }
        state = newState
        stateSince = now
    }

    /// True when the loop changed it at or after `time`, so an observation read from `time`
    /// on may not show the change yet.
    func changed(since time: Duration) -> Bool {
        changedAt.map { $0 >= time } ?? false
    }
}

/// The control loop's bookkeeping: the instances it tracks, with their ages and states,
/// the launches under way, and the instances it retired (stopped or crashed) until the
/// driver stops listing them. Pure: every change is an explicit call with the time.
struct PoolState: Sendable {
    /// Instances in the pool, launching ones included.
    var tracked: [InstanceID: TrackedInstance] = [:]
    /// Instances taken out of the pool that the driver may still list.
    var retired: Set<InstanceID> = []
    /// Retired instances whose `stop` is under way.
    var stopping: Set<InstanceID> = []

    /// Every id the loop knows of, so a new id is never one of them.
    var knownIDs: Set<InstanceID> { Set(tracked.keys).union(retired) }

    /// Launches under way.
    var launchingCount: Int { tracked.values.filter(\.launching).count }

    /// Records that the loop started launching `id`: it counts as `starting` from now on.
    mutating func launchStarted(_ id: InstanceID, at now: Duration) {
        tracked[id] = TrackedInstance(id: id, state: .starting, launching: true, endpoint: nil,
                                      firstSeen: now, stateSince: now, changedAt: now)
    }

    /// Records that `id` is in the proxy and in rotation.
    /// - Returns: false when the launch was given up meanwhile (timed out, crashed):
    ///   the caller then stops the instance.
    mutating func launchSucceeded(_ id: InstanceID, at endpoint: Endpoint, now: Duration) -> Bool {
        guard var entry = tracked[id], entry.launching else { return false }
        entry.launching = false
        entry.endpoint = endpoint
        entry.enter(.active, at: now)
        entry.changedAt = now
        tracked[id] = entry
        return true
    }

    /// Records that the loop put `id` in `state` (activate, drain) at `now`.
    mutating func setState(_ id: InstanceID, _ state: InstanceState, now: Duration) {
        guard var entry = tracked[id] else { return }
        entry.enter(state, at: now)
        entry.changedAt = now
        tracked[id] = entry
    }

    /// Takes `id` out of the pool: it is forgotten, and stopped again while the driver lists it.
    mutating func retire(_ id: InstanceID) {
        tracked[id] = nil
        retired.insert(id)
    }

    /// Records that a `stop` of the retired `id` is under way.
    mutating func stopStarted(_ id: InstanceID) {
        stopping.insert(id)
    }

    /// Records that the `stop` of `id` returned (successfully or not).
    mutating func stopFinished(_ id: InstanceID) {
        stopping.remove(id)
    }

}

extension InstanceState {
    /// The proxy state that puts an instance in this rotation state.
    var proxyState: ProxyServerState {
        switch self {
        case .starting: .maintenance
        case .active: .ready
        case .draining: .drain
        }
    }
}
