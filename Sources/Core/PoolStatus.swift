/// One instance of the pool as the balancer's API shows it.
public struct InstanceStatus: Sendable, Codable, Equatable {
    /// The instance's identity.
    public var id: InstanceID
    /// Its place in the rotation.
    public var state: InstanceState
    /// Where the load balancer reaches it, once known.
    public var endpoint: Endpoint?
    /// Live sessions according to the session registry.
    public var sessions: Int
    /// `sessions / CONNECTION_LIMIT_PER_HOST * 100`.
    public var utilizationPercent: Double
    /// Its administrative state in the load balancer; `nil` when the balancer lacks it.
    public var balancerState: BalancerServerState?
    /// Connections the load balancer holds to it; `nil` when the balancer lacks it.
    public var balancerConnections: Int?
    /// True when the load balancer's connection count differs from the registry's sessions.
    public var balancerDisagrees: Bool
    /// Seconds since it was launched (or first seen by this run of the loop).
    public var ageSeconds: Double
    /// Seconds since it entered `state`.
    public var secondsInState: Double

    /// Creates an instance status.
    public init(id: InstanceID, state: InstanceState, endpoint: Endpoint?, sessions: Int,
                utilizationPercent: Double, balancerState: BalancerServerState?,
                balancerConnections: Int?, balancerDisagrees: Bool,
                ageSeconds: Double, secondsInState: Double) {
        self.id = id
        self.state = state
        self.endpoint = endpoint
        self.sessions = sessions
        self.utilizationPercent = utilizationPercent
        self.balancerState = balancerState
        self.balancerConnections = balancerConnections
        self.balancerDisagrees = balancerDisagrees
        self.ageSeconds = ageSeconds
        self.secondsInState = secondsInState
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
    /// users waiting in the load balancer's queue over the capacity of the active and
    /// starting instances, `(S + Q) / ((active + starting) × L) × 100` (with none, they count
    /// as 1, so the figure stays a number).
    public var utilizationPercent: Double
    /// Connections waiting in the load balancer's queue for a server with room.
    public var queued: Int
    /// The most connections the load balancer holds to one server (`ServerConnectionLimit`),
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

    /// Creates a pool status.
    public init(driver: String, dryRun: Bool, connectionLimitPerHost: Int, instances: [InstanceStatus],
                totalSessions: Int, utilizationPercent: Double, queued: Int = 0, serverConnectionLimit: Int? = nil,
                decisions: [Decision], observedAt: Int64?, lastError: String?, secondsSinceObservation: Double = 0,
                stalled: Bool = false) {
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
    }

    /// Utilization in percent of `sessions` over `hosts` servers of `limit` sessions each
    /// (`hosts` counts as at least 1, `limit` as at least 1).
    public static func utilizationPercent(sessions: Int, hosts: Int, limit: Int) -> Double {
        Double(sessions) / (Double(max(1, hosts)) * Double(max(1, limit))) * 100
    }
}
