/// A simulated user's state as `GET /route/status` shows it.
public enum UserState: String, Sendable, Codable, Equatable {
    /// A connection attempt is in flight.
    case connecting
    /// The WebSocket is open.
    case connected
    /// Waiting before the next connection attempt.
    case reconnecting
    /// Not connected and not trying to be.
    case disconnected
}

/// One simulated user, as `GET /route/status` shows it.
public struct UserStatus: Sendable, Codable, Equatable {
    /// The user id.
    public var userId: String
    /// Where the user's session stands.
    public var state: UserState
    /// The server host the user is connected to (from `X-WSScale-Host`); `nil` when not connected
    /// or when the server did not say.
    public var host: String?
    /// How many retries the user has made.
    public var reconnectCount: Int
    /// The close code of the last connection that ended (1006 for an abnormal end, none for a
    /// failed connect).
    public var lastCloseCode: Int?
    /// The reason that came with the last close, or what made the last attempt fail.
    public var lastCloseReason: String?
    /// While reconnecting: the retry's number in its series (1-based).
    public var retryAttempt: Int?
    /// While reconnecting: the delay drawn for the retry, in milliseconds.
    public var retryDelayMs: Int?
    /// True when the user stopped retrying (attempts exhausted or a permanent refusal).
    public var gaveUp: Bool

    /// Creates a user status.
    public init(userId: String, state: UserState, host: String?, reconnectCount: Int, lastCloseCode: Int?,
                lastCloseReason: String?, retryAttempt: Int?, retryDelayMs: Int?, gaveUp: Bool) {
        self.userId = userId
        self.state = state
        self.host = host
        self.reconnectCount = reconnectCount
        self.lastCloseCode = lastCloseCode
        self.lastCloseReason = lastCloseReason
        self.retryAttempt = retryAttempt
        self.retryDelayMs = retryDelayMs
        self.gaveUp = gaveUp
    }

    private enum CodingKeys: String, CodingKey {
        case userId, state, host, reconnectCount, lastCloseCode, lastCloseReason, retryAttempt, retryDelayMs, gaveUp
    }

    /// Encodes every field, absent values as `null`, so the JSON shape never changes.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(userId, forKey: .userId)
        try container.encode(state, forKey: .state)
        try container.encode(host, forKey: .host)
        try container.encode(reconnectCount, forKey: .reconnectCount)
        try container.encode(lastCloseCode, forKey: .lastCloseCode)
        try container.encode(lastCloseReason, forKey: .lastCloseReason)
        try container.encode(retryAttempt, forKey: .retryAttempt)
        try container.encode(retryDelayMs, forKey: .retryDelayMs)
        try container.encode(gaveUp, forKey: .gaveUp)
    }
}

/// Every simulated user, with totals: the body of `GET /route/status`.
public struct ClientStatus: Sendable, Codable, Equatable {
    /// Counts over all users.
    public struct Totals: Sendable, Codable, Equatable {
        /// Users known to the simulator.
        public var users: Int = 0
        /// Users whose WebSocket is open.
        public var connected: Int = 0
        /// Users with a connection attempt in flight.
        public var connecting: Int = 0
        /// Users waiting before a retry.
        public var reconnecting: Int = 0
        /// Users not connected and not trying.
        public var disconnected: Int = 0
        /// Retries made, over all users.
        public var reconnects: Int = 0
        /// Creates zero totals.
        public init() {}
    }

    /// Counts over all users.
    public var totals: Totals
    /// Connected users per server host (hosts the server did not name are under `"unknown"`).
    public var hosts: [String: Int]
    /// Every user, sorted by user id.
    public var users: [UserStatus]

    /// Builds the status and its totals from the users' statuses.
    public init(users: [UserStatus]) {
        var totals = Totals()
        var hosts: [String: Int] = [:]
        for user in users {
            totals.users += 1
            totals.reconnects += user.reconnectCount
            switch user.state {
            case .connected:
                totals.connected += 1
                hosts[user.host ?? "unknown", default: 0] += 1
            case .connecting: totals.connecting += 1
            case .reconnecting: totals.reconnecting += 1
            case .disconnected: totals.disconnected += 1
            }
        }
        self.totals = totals
        self.hosts = hosts
        self.users = users.sorted { $0.userId < $1.userId }
    }
}
