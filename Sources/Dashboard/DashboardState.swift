import WSScaleAPI
import WSScaleCore

/// What the page shows, the body of `GET /api/state`: the pool from the balancer, the users
/// from the client simulator, put together per server; `errors` names an upstream that did
/// not answer (what it did answer is still there).
public struct DashboardState: Sendable, Codable, Equatable {
    /// The pool as a whole; `nil` when the balancer did not answer.
    public var pool: PoolSummary?
    /// One box per server: the balancer's servers, plus hosts the users report that the
    /// balancer does not know (or all of them, when the balancer did not answer).
    public var servers: [ServerView]
    /// Users on no server: connecting, reconnecting or disconnected.
    public var unplacedUsers: [UserView]
    /// Counts over the client simulator's users; `nil` when it did not answer.
    public var userTotals: ClientStatus.Totals?
    /// The upstreams that failed, with why.
    public var errors: [UpstreamFailure]

    /// Creates a state.
    public init(pool: PoolSummary?, servers: [ServerView], unplacedUsers: [UserView],
                userTotals: ClientStatus.Totals?, errors: [UpstreamFailure]) {
        self.pool = pool
        self.servers = servers
        self.unplacedUsers = unplacedUsers
        self.userTotals = userTotals
        self.errors = errors
    }
}

/// The pool as a whole, from the balancer's topology.
public struct PoolSummary: Sendable, Codable, Equatable {
    /// The backend's name.
    public var driver: String
    /// `CONNECTION_LIMIT_PER_HOST`.
    public var connectionLimitPerHost: Int
    /// Overall utilization in percent.
    public var utilizationPercent: Double
    /// Sessions over all servers.
    public var totalSessions: Int
    /// Servers in the pool, whatever their state.
    public var poolSize: Int
    /// Servers in rotation.
    public var activeServers: Int
    /// The last decisions, newest first.
    public var decisions: [DecisionView]
    /// The control loop's last error, if any.
    public var lastError: String?

    /// Creates a summary.
    public init(driver: String, connectionLimitPerHost: Int, utilizationPercent: Double, totalSessions: Int,
                poolSize: Int, activeServers: Int, decisions: [DecisionView], lastError: String?) {
        self.driver = driver
        self.connectionLimitPerHost = connectionLimitPerHost
        self.utilizationPercent = utilizationPercent
        self.totalSessions = totalSessions
        self.poolSize = poolSize
        self.activeServers = activeServers
        self.decisions = decisions
        self.lastError = lastError
    }
}

/// One decision of the balancer, as the page lists it.
public struct DecisionView: Sendable, Codable, Equatable {
    /// Its number within the balancer's run.
    public var sequence: Int
    /// When, in milliseconds since 1970.
    public var timestamp: Int64
    /// `plan`, `reconcile` or `crash`.
    public var kind: String
    /// Why.
    public var reasons: [String]
    /// What was done.
    public var actions: [String]
    /// What failed.
    public var errors: [String]

    /// Creates a decision view.
    public init(sequence: Int, timestamp: Int64, kind: String, reasons: [String], actions: [String], errors: [String]) {
        self.sequence = sequence
        self.timestamp = timestamp
        self.kind = kind
        self.reasons = reasons
        self.actions = actions
        self.errors = errors
    }
}

/// One server box: the balancer's view of it and the users on it.
///
/// JSON: HAProxy's view is `proxyState` and `proxyConnections`; the names they had until
/// 2026-12, `balancerState` and `balancerConnections`, are still written beside them (and
/// read when the new ones are missing). They are deprecated.
public struct ServerView: Sendable, Codable, Equatable {
    /// The instance id (the host users report).
    public var id: String
    /// `starting`, `active` or `draining`; `nil` when only the users name this host.
    public var state: InstanceState?
    /// Its state in HAProxy (`ready`, `drain`, `maintenance`), when known.
    public var proxyState: ProxyServerState?
    /// HAProxy's connection count to it, when known.
    public var proxyConnections: Int?
    /// Sessions according to the registry (the balancer's count), or the users on it when
    /// the balancer does not know the server.
    public var sessions: Int
    /// `CONNECTION_LIMIT_PER_HOST`, when the balancer answered.
    public var connectionLimit: Int?
    /// `sessions / CONNECTION_LIMIT_PER_HOST * 100`, when the balancer answered.
    public var utilizationPercent: Double?
    /// The client simulator's users connected to it, sorted by id.
    public var users: [UserView]

    /// Creates a server view.
    public init(id: String, state: InstanceState?, proxyState: ProxyServerState?, proxyConnections: Int?,
                sessions: Int, connectionLimit: Int?, utilizationPercent: Double?, users: [UserView]) {
        self.id = id
        self.state = state
        self.proxyState = proxyState
        self.proxyConnections = proxyConnections
        self.sessions = sessions
        self.connectionLimit = connectionLimit
        self.utilizationPercent = utilizationPercent
        self.users = users
    }

    private enum CodingKeys: String, CodingKey {
        case id, state, proxyState, proxyConnections, sessions, connectionLimit, utilizationPercent, users
        case deprecatedBalancerState = "balancerState"
        case deprecatedBalancerConnections = "balancerConnections"
    }

    /// Reads a server view, HAProxy's fields by their new names or their deprecated ones.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        state = try container.decodeIfPresent(InstanceState.self, forKey: .state)
        proxyState = try container.decodeIfPresent(ProxyServerState.self, forKey: .proxyState)
            ?? container.decodeIfPresent(ProxyServerState.self, forKey: .deprecatedBalancerState)
        proxyConnections = try container.decodeIfPresent(Int.self, forKey: .proxyConnections)
            ?? container.decodeIfPresent(Int.self, forKey: .deprecatedBalancerConnections)
        sessions = try container.decode(Int.self, forKey: .sessions)
        connectionLimit = try container.decodeIfPresent(Int.self, forKey: .connectionLimit)
        utilizationPercent = try container.decodeIfPresent(Double.self, forKey: .utilizationPercent)
        users = try container.decode([UserView].self, forKey: .users)
    }

    /// Writes the server view with HAProxy's fields under their names and deprecated aliases.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encodeIfPresent(state, forKey: .state)
        for key in [CodingKeys.proxyState, .deprecatedBalancerState] {
            try container.encodeIfPresent(proxyState, forKey: key)
        }
        for key in [CodingKeys.proxyConnections, .deprecatedBalancerConnections] {
            try container.encodeIfPresent(proxyConnections, forKey: key)
        }
        try container.encode(sessions, forKey: .sessions)
        try container.encodeIfPresent(connectionLimit, forKey: .connectionLimit)
        try container.encodeIfPresent(utilizationPercent, forKey: .utilizationPercent)
        try container.encode(users, forKey: .users)
    }
}

/// One simulated user as the page lists it.
public struct UserView: Sendable, Codable, Equatable {
    /// The user id.
    public var userId: String
    /// `connecting`, `connected`, `reconnecting` or `disconnected`.
    public var state: UserState
    /// Retries the user made.
    public var reconnectCount: Int
    /// The close code of its last connection, if one ended.
    public var lastCloseCode: Int?

    /// Creates a user view.
    public init(userId: String, state: UserState, reconnectCount: Int, lastCloseCode: Int?) {
        self.userId = userId
        self.state = state
        self.reconnectCount = reconnectCount
        self.lastCloseCode = lastCloseCode
    }
}

/// An upstream API the dashboard could not use, and why.
public struct UpstreamFailure: Error, Sendable, Codable, Equatable, CustomStringConvertible {
    /// `balancer` or `client`.
    public var upstream: String
    /// What went wrong (refused, timed out, an error status with its body …).
    public var message: String

    /// Creates a failure.
    public init(upstream: String, message: String) {
        self.upstream = upstream
        self.message = message
    }

    public var description: String { "\(upstream): \(message)" }
}
