/// The balancer's `GET /api/topology`, the fields the scenarios read.
///
/// Decoded on its own (not through the product's `PoolStatus`) so the scenarios check the
/// API as a user sees it, and unknown fields do not matter.
public struct TopologySnapshot: Sendable, Decodable {
    /// One server of the pool.
    public struct Instance: Sendable, Decodable {
        /// Where the server listens.
        public struct Endpoint: Sendable, Decodable {
            /// The host.
            public var host: String
            /// The port.
            public var port: Int
        }

        /// The server's id.
        public var id: String
        /// `starting`, `active` or `draining`.
        public var state: String
        /// Where it listens, once known.
        public var endpoint: Endpoint?
        /// Sessions per the registry.
        public var sessions: Int
        /// Its state in HAProxy (`ready`, `drain`, `maint`), `nil` when HAProxy lacks it.
        public var proxyState: String?
        /// HAProxy's current connections to it.
        public var proxyConnections: Int?
    }

    /// One entry of the decision log.
    public struct DecisionEntry: Sendable, Decodable {
        /// Its number within one run of the balancer (absent from older balancers).
        public var sequence: Int?
        /// `plan`, `exit`, …
        public var kind: String
        /// What was done.
        public var actions: [String]
        /// Why.
        public var reasons: [String]
    }

    /// Every server, ordered by id.
    public var instances: [Instance]
    /// Sessions over all servers.
    public var totalSessions: Int
    /// Overall utilization in percent.
    public var utilizationPercent: Double
    /// Connections waiting in the proxy's queue (absent from older balancers: 0).
    public var queued: Int?
    /// The last decisions.
    public var decisions: [DecisionEntry]
    /// When the balancer last read the pool (ms since 1970); the status stays as it was while
    /// a read fails (Redis or HAProxy down).
    public var observedAt: Int64?

    /// The highest decision number shown, 0 when none is.
    public var lastDecisionSequence: Int { decisions.compactMap(\.sequence).max() ?? 0 }
    /// The decisions numbered above `sequence`.
    public func decisions(after sequence: Int) -> [DecisionEntry] { decisions.filter { ($0.sequence ?? 0) > sequence } }

    /// The servers in rotation.
    public var active: [Instance] { instances.filter { $0.state == "active" } }
    /// The servers being drained.
    public var draining: [Instance] { instances.filter { $0.state == "draining" } }
    /// A server by id.
    public func instance(_ id: String) -> Instance? { instances.first { $0.id == id } }
}

/// The client simulator's `GET /route/status`, the fields the scenarios read.
public struct ClientSnapshot: Sendable, Decodable {
    /// Counts over all users.
    public struct Totals: Sendable, Decodable {
        /// Users known to the simulator.
        public var users: Int
        /// Users with an open WebSocket.
        public var connected: Int
        /// Users waiting to reconnect.
        public var reconnecting: Int
        /// Reconnections so far.
        public var reconnects: Int
    }

    /// One simulated user.
    public struct User: Sendable, Decodable {
        /// The user's id.
        public var userId: String
        /// `connecting`, `connected`, `reconnecting` or `disconnected`.
        public var state: String
        /// The server it is on, when connected.
        public var host: String?
        /// How often it reconnected after a close it did not ask for.
        public var reconnectCount: Int
        /// The last close code it got.
        public var lastCloseCode: Int?
        /// The words of its last end (the close reason, or why an attempt failed).
        public var lastCloseReason: String?
    }

    /// The totals.
    public var totals: Totals
    /// Connected users per server id.
    public var hosts: [String: Int]
    /// Every user.
    public var users: [User]

    /// A user by id.
    public func user(_ id: String) -> User? { users.first { $0.userId == id } }

    /// Whether every one of `ids` is connected.
    public func allConnected(_ ids: [String]) -> Bool {
        let byID = Dictionary(users.map { ($0.userId, $0) }, uniquingKeysWith: { first, _ in first })
        return ids.allSatisfy { byID[$0]?.state == "connected" }
    }
}
