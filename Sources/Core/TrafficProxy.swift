/// The administrative state of a server in the proxy.
public enum ProxyServerState: String, Sendable, Codable, Equatable {
    /// In rotation.
    case ready
    /// Out of rotation for new connections; existing ones stay.
    case drain
    /// Out of rotation and not health-checked (how a server is added, and before removal).
    case maintenance
}

/// One server as the proxy reports it.
public struct ProxyServer: Sendable, Equatable {
    /// The server's name in the proxy: the instance id.
    public var id: InstanceID
    /// Where the proxy sends its traffic.
    public var endpoint: Endpoint
    /// Its administrative state.
    public var state: ProxyServerState
    /// Whether its health check passes (false while unchecked or failing).
    public var healthy: Bool
    /// Connections the proxy currently holds to it.
    public var currentConnections: Int
    /// The most connections the proxy holds to it (`ServerConnectionLimit`); `nil` when
    /// it has no limit of its own.
    public var connectionLimit: Int?

    /// Creates a server description.
    public init(id: InstanceID, endpoint: Endpoint, state: ProxyServerState,
                healthy: Bool, currentConnections: Int, connectionLimit: Int? = nil) {
        self.id = id
        self.endpoint = endpoint
        self.state = state
        self.healthy = healthy
        self.currentConnections = currentConnections
        self.connectionLimit = connectionLimit
    }
}

/// What the proxy holds for the pool, read at once.
public struct ProxyReading: Sendable, Equatable {
    /// The pool's servers.
    public var servers: [ProxyServer]
    /// Connections waiting in its queue for a server with room.
    public var queued: Int
    /// The instances behind this reading, when it combines several (`ProxyFleet`): each
    /// with whether it answered; empty for a single proxy.
    public var members: [ProxyMemberStatus]

    /// Creates a reading.
    public init(servers: [ProxyServer], queued: Int = 0, members: [ProxyMemberStatus] = []) {
        self.servers = servers
        self.queued = queued
        self.members = members
    }
}

/// One proxy instance of several, as the last reading found it.
public struct ProxyMemberStatus: Sendable, Equatable, Codable {
    /// Its name: the address of its runtime API.
    public var name: String
    /// Whether it answered.
    public var reachable: Bool
    /// Why not, when it did not.
    public var error: String?
    /// The pool's servers it holds (0 when unreachable).
    public var servers: Int

    /// Creates a member status.
    public init(name: String, reachable: Bool, error: String? = nil, servers: Int = 0) {
        self.name = name
        self.reachable = reachable
        self.error = error
        self.servers = servers
    }
}

/// The proxy in front of the pool (HAProxy through its runtime API).
///
/// Contract:
/// - `add` creates the server in `maintenance`; `setState(.ready)` puts it in rotation and
///   enables its health check. Adding an id that exists with the same endpoint succeeds.
/// - `setState(.drain)` stops new connections and keeps the existing ones.
/// - `remove` puts the server in maintenance first and deletes it; removing an unknown id
///   succeeds. A server that no longer runs is removed `cuttingSessions`: its connections
///   are closed first, because they lead nowhere and may never close on their own (a server
///   on a host that vanished sends no reset, and the proxy would hold its clients for good).
/// - `read()` lists only the servers of this pool's backend, and the connections waiting
///   in its queue because every server in rotation is at its connection limit.
/// - `setConnectionLimit` caps the connections held to one server; past it new ones wait in
///   the queue (existing ones stay).
public protocol TrafficProxy: Sendable {
    /// The pool's servers with their state and current connections, and the queue.
    func read() async throws -> ProxyReading
    /// Sets the most connections held to one server.
    func setConnectionLimit(_ id: InstanceID, _ limit: Int) async throws
    /// Adds a server, in maintenance.
    func add(_ id: InstanceID, at endpoint: Endpoint) async throws
    /// Changes a server's administrative state.
    func setState(_ id: InstanceID, _ state: ProxyServerState) async throws
    /// Removes a server; with `cuttingSessions`, its connections are closed at once first.
    func remove(_ id: InstanceID, cuttingSessions: Bool) async throws
}

extension TrafficProxy {
    /// Removes a server that still runs (drained and empty, or never in rotation): it keeps
    /// its connections until they end.
    public func remove(_ id: InstanceID) async throws {
        try await remove(id, cuttingSessions: false)
    }

    /// The pool's servers with their state and current connections.
    public func servers() async throws -> [ProxyServer] {
        try await read().servers
    }
}
