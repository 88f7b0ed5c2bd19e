/// The pool as the three sides reported it during one wake of the control loop.
struct PoolObservation: Sendable {
    /// What the driver runs.
    var driver: [DriverInstance]
    /// What the proxy holds.
    var proxy: [ProxyServer]
    /// Connections waiting in the proxy's queue.
    var queued: Int = 0
    /// What the session registry counts.
    var registry: [HostSessions]
    /// Monotonic time at which the loop began reading; changes the loop made from then on
    /// may be missing from the reports.
    var startedAt: Duration
}

/// A correction that puts the proxy and the driver back in line with each other.
enum ReconcileAction: Sendable, Equatable, CustomStringConvertible {
    /// The driver runs the instance but the proxy lacks it: add it back in this state.
    case addToProxy(InstanceID, Endpoint, ProxyServerState)
    /// The proxy holds the instance in maintenance: put it in this state.
    case setProxyState(InstanceID, ProxyServerState)
    /// The proxy holds a server the driver no longer runs.
    case removeFromProxy(InstanceID)
    /// The instance exited or never became ready: take it out of the proxy and stop it.
    case retire(InstanceID, reason: String)
    /// A retired instance the driver still lists: stop it (again).
    case stop(InstanceID)
    /// The host says it drains (or not) against the loop's record: tell it the record again.
    case tellDrainState(InstanceID, draining: Bool)

    var description: String {
        switch self {
        case let .addToProxy(id, endpoint, state):
            "\(id) runs but is missing from the proxy: add it at \(endpoint) as \(state.rawValue)"
        case let .setProxyState(id, state):
            "\(id) is in maintenance in the proxy: set it \(state.rawValue)"
        case let .removeFromProxy(id):
            "\(id) is in the proxy but no longer runs: remove it"
        case let .retire(id, reason):
            "\(id) \(reason): remove it from the proxy and stop it"
        case let .tellDrainState(id, draining):
            "\(id) says it is \(draining ? "active" : "draining") but the pool has it \(draining ? "draining" : "active"): tell it again"
        case let .stop(id):
            "\(id) was taken out of the pool but still runs: stop it"
        }
    }
}

/// The outcome of comparing an observation with the loop's bookkeeping.
struct Reconciliation: Sendable {
    /// Corrections to carry out, in order.
    var actions: [ReconcileAction]
    /// The pool as the planner should see it (corrections taken as done).
    var snapshot: TopologySnapshot
    /// The pool as the API shows it.
    var instances: [InstanceStatus]
}
