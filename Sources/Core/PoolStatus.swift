/// One instance of the pool as the balancer's API shows it.
///
/// JSON: the proxy's view is `proxyState`, `proxyConnections` and `proxyDisagrees`. Until
/// 2026-12 they were `balancerState`, `balancerConnections` and `balancerDisagrees` (when
/// "balancer" meant HAProxy as well as the `wsscale balancer` process); the old names are
/// still written, with the same values, for tools that read them, and read when the new ones
/// are missing. They are deprecated.
public struct InstanceStatus: Sendable, Codable, Equatable {
    /// The instance's identity.
    public var id: InstanceID
    /// Its place in the rotation.
    public var state: InstanceState
    /// Where the proxy reaches it, once known.
    public var endpoint: Endpoint?
    /// Live sessions according to the session registry.
    public var sessions: Int
    /// `sessions / CONNECTION_LIMIT_PER_HOST * 100`.
    public var utilizationPercent: Double
    /// Its administrative state in the proxy; `nil` when the proxy lacks it.
    public var proxyState: ProxyServerState?
    /// Connections the proxy holds to it; `nil` when the proxy lacks it.
    public var proxyConnections: Int?
    /// True when the proxy's connection count differs from the registry's sessions.
    public var proxyDisagrees: Bool
    /// Seconds since it was launched (or first seen by this run of the loop).
    public var ageSeconds: Double
    /// Seconds since it entered `state`.
    public var secondsInState: Double

    /// Creates an instance status.
    public init(id: InstanceID, state: InstanceState, endpoint: Endpoint?, sessions: Int,
                utilizationPercent: Double, proxyState: ProxyServerState?,
                proxyConnections: Int?, proxyDisagrees: Bool,
                ageSeconds: Double, secondsInState: Double) {
        self.id = id
        self.state = state
        self.endpoint = endpoint
        self.sessions = sessions
        self.utilizationPercent = utilizationPercent
        self.proxyState = proxyState
        self.proxyConnections = proxyConnections
        self.proxyDisagrees = proxyDisagrees
        self.ageSeconds = ageSeconds
        self.secondsInState = secondsInState
    }

    private enum CodingKeys: String, CodingKey {
        case id, state, endpoint, sessions, utilizationPercent, proxyState, proxyConnections, proxyDisagrees
        case ageSeconds, secondsInState
        case deprecatedBalancerState = "balancerState"
        case deprecatedBalancerConnections = "balancerConnections"
        case deprecatedBalancerDisagrees = "balancerDisagrees"
    }

    /// Reads an instance status, the proxy's fields by their new names or, failing those, by
    /// their deprecated ones.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(InstanceID.self, forKey: .id)
        state = try container.decode(InstanceState.self, forKey: .state)
        endpoint = try container.decodeIfPresent(Endpoint.self, forKey: .endpoint)
        sessions = try container.decode(Int.self, forKey: .sessions)
        utilizationPercent = try container.decode(Double.self, forKey: .utilizationPercent)
        proxyState = try container.decodeIfPresent(ProxyServerState.self, forKey: .proxyState)
            ?? container.decodeIfPresent(ProxyServerState.self, forKey: .deprecatedBalancerState)
        proxyConnections = try container.decodeIfPresent(Int.self, forKey: .proxyConnections)
            ?? container.decodeIfPresent(Int.self, forKey: .deprecatedBalancerConnections)
        proxyDisagrees = try container.decodeIfPresent(Bool.self, forKey: .proxyDisagrees)
            ?? container.decode(Bool.self, forKey: .deprecatedBalancerDisagrees)
        ageSeconds = try container.decode(Double.self, forKey: .ageSeconds)
        secondsInState = try container.decode(Double.self, forKey: .secondsInState)
    }

    /// Writes the instance status with the proxy's fields under their names and their
    /// deprecated aliases.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(state, forKey: .state)
        try container.encodeIfPresent(endpoint, forKey: .endpoint)
        try container.encode(sessions, forKey: .sessions)
        try container.encode(utilizationPercent, forKey: .utilizationPercent)
        for key in [CodingKeys.proxyState, .deprecatedBalancerState] {
            try container.encodeIfPresent(proxyState, forKey: key)
        }
        for key in [CodingKeys.proxyConnections, .deprecatedBalancerConnections] {
            try container.encodeIfPresent(proxyConnections, forKey: key)
        }
        for key in [CodingKeys.proxyDisagrees, .deprecatedBalancerDisagrees] {
            try container.encode(proxyDisagrees, forKey: key)
        }
        try container.encode(ageSeconds, forKey: .ageSeconds)
        try container.encode(secondsInState, forKey: .secondsInState)
    }
}

/// The pool as the balancer's `GET /api/topology` shows it: instances, utilization and the
/// last decisions with their reasons.
public struct PoolStatus: Sendable, Codable, Equatable {
    /// The backend's name (`process`, `docker`, `podman`, `systemd`).
    public var driver: String
    /// True when the loop only logs its decisions (`DRY_RUN`).
    public var dryRun: Bool
    /// `CONNECTION_LIMIT_PER_HOST`: sessions counted as 100 % of one server.
    public var connectionLimitPerHost: Int
    /// Every instance, ordered by id.
    public var instances: [InstanceStatus]
    /// Sessions held by all instances, draining ones included.
    public var totalSessions: Int
    /// Overall utilization, the figure the scaling rules decide on: all sessions and the
    /// users waiting in the proxy's queue over the capacity of the active and
    /// starting instances, `(S + Q) / ((active + starting) × L) × 100` (with none, they count
    /// as 1, so the figure stays a number).
    public var utilizationPercent: Double
    /// Connections waiting in the proxy's queue for a server with room.
    public var queued: Int
    /// The most connections the proxy holds to one server (`ServerConnectionLimit`),
    /// once the loop has decided it.
    public var serverConnectionLimit: Int?
    /// The last decisions, oldest first.
    public var decisions: [Decision]
    /// When the loop last read the pool successfully, in milliseconds since 1970.
    public var observedAt: Int64?
    /// The last error that kept the loop from reading or changing the pool, cleared on success.
    public var lastError: String?
    /// Seconds since the loop last read the pool whole (since it started, before the first read).
    public var secondsSinceObservation: Double
    /// Whether that is longer than the stall limit: the loop is stuck (a stalled Redis, a
    /// backend or HAProxy that does not answer) and decides nothing; `/health` answers 503.
    public var stalled: Bool
    /// Which balancer leads the pool, and whether it is this one.
    public var leadership: LeadershipStatus?
    /// Each HAProxy instance in front of the pool, whether it answered the last reading and
    /// how many of the pool's servers it holds (an unreachable one is brought up to date once
    /// it answers again).
    public var proxies: [ProxyMemberStatus]?

    /// Creates a pool status.
    public init(driver: String, dryRun: Bool, connectionLimitPerHost: Int, instances: [InstanceStatus],
                totalSessions: Int, utilizationPercent: Double, queued: Int = 0, serverConnectionLimit: Int? = nil,
                decisions: [Decision], observedAt: Int64?, lastError: String?, secondsSinceObservation: Double = 0,
                stalled: Bool = false, leadership: LeadershipStatus? = nil, proxies: [ProxyMemberStatus]? = nil) {
        self.driver = driver
        self.dryRun = dryRun
        self.connectionLimitPerHost = connectionLimitPerHost
        self.instances = instances
        self.totalSessions = totalSessions
        self.utilizationPercent = utilizationPercent
        self.queued = queued
        self.serverConnectionLimit = serverConnectionLimit
        self.decisions = decisions
        self.observedAt = observedAt
        self.lastError = lastError
        self.secondsSinceObservation = secondsSinceObservation
        self.stalled = stalled
        self.leadership = leadership
        self.proxies = proxies
    }

    /// Utilization in percent of `sessions` over `hosts` servers of `limit` sessions each
    /// (`hosts` counts as at least 1, `limit` as at least 1).
    public static func utilizationPercent(sessions: Int, hosts: Int, limit: Int) -> Double {
        Double(sessions) / (Double(max(1, hosts)) * Double(max(1, limit))) * 100
    }
}

/// Who leads the pool, as `/api/topology` shows it (any balancer, leading or standing by).
public struct LeadershipStatus: Sendable, Codable, Equatable {
    /// The balancer that answers: its run's name in the lease (`BALANCER_ID/<suffix>`).
    public var holder: String
    /// Whether it leads (acts on the pool) now.
    public var leading: Bool
    /// The lease as last seen: who leads, with which fencing token, since when (ms since
    /// 1970); `nil` when nobody holds it.
    public var leader: LeaderRecord?

    /// Creates a leadership status.
    public init(holder: String, leading: Bool, leader: LeaderRecord?) {
        self.holder = holder
        self.leading = leading
        self.leader = leader
    }
}
