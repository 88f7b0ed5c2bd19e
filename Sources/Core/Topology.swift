/// The identity of one server instance in the pool (for example `ws-3f2a1c`).
///
/// The same string names the instance everywhere: the backend's container / unit /
/// process, the HAProxy server, and the host id in the session registry.
public typealias InstanceID = String

/// Where a server instance listens, as the proxy should reach it.
public struct Endpoint: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Host name or IP address.
    public var host: String
    /// TCP port.
    public var port: Int

    /// Creates an endpoint.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }
}

/// Where an instance stands in the pool's rotation.
public enum InstanceState: String, Sendable, Codable, CaseIterable {
    /// Launched, not yet healthy or not yet in the proxy's rotation.
    case starting
    /// In rotation: takes new connections.
    case active
    /// Out of rotation: keeps its connections, takes no new ones.
    case draining
}

/// One instance as the policy sees it at one moment.
public struct InstanceSnapshot: Sendable, Equatable, Hashable {
    /// The instance's identity.
    public var id: InstanceID
    /// Its place in the rotation.
    public var state: InstanceState
    /// Live sessions it holds (from the session registry).
    public var sessions: Int
    /// Time since it was launched.
    public var age: Duration
    /// Time since it entered `state`.
    public var timeInState: Duration
    /// True when the registry does not list it although it runs, for less than the control
    /// loop's registry grace: a registry that lost its data (a Redis restart) is waiting for
    /// the server to write its sessions again, so `sessions` (0) is not known to be true.
    /// The rules neither rebalance, scale in nor remove on such a count.
    public var sessionsUnknown: Bool

    /// Creates a snapshot of one instance.
    public init(id: InstanceID, state: InstanceState, sessions: Int,
                age: Duration = .zero, timeInState: Duration = .zero, sessionsUnknown: Bool = false) {
        self.id = id
        self.state = state
        self.sessions = sessions
        self.age = age
        self.timeInState = timeInState
        self.sessionsUnknown = sessionsUnknown
    }
}

/// The whole pool at one moment: the input of the decision rules.
public struct TopologySnapshot: Sendable, Equatable {
    /// Every instance of the pool, whatever its state.
    public var instances: [InstanceSnapshot]
    /// Connections waiting in the proxy's queue for a server with room: users who
    /// asked for a session and have none yet.
    public var queued: Int
    /// Connections the proxy holds to the pool's servers. It knows of a connection
    /// before the registry does (the servers write theirs every 100 ms), so during a burst it
    /// is the fresher count.
    public var proxyConnections: Int

    /// Creates a snapshot.
    public init(instances: [InstanceSnapshot], queued: Int = 0, proxyConnections: Int = 0) {
        self.instances = instances
        self.queued = queued
        self.proxyConnections = proxyConnections
    }

    /// Instances in rotation.
    public var active: [InstanceSnapshot] { instances.filter { $0.state == .active } }
    /// Instances launched but not yet in rotation.
    public var starting: [InstanceSnapshot] { instances.filter { $0.state == .starting } }
    /// Instances out of rotation that still exist.
    public var draining: [InstanceSnapshot] { instances.filter { $0.state == .draining } }
    /// Sessions held by all instances, draining ones included.
    public var totalSessions: Int { instances.map(\.sessions).saturatingSum() }
}
