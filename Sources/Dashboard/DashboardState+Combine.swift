import WSScaleAPI
import WSScaleCore

extension DashboardState {
    /// How many of the balancer's last decisions the page shows.
    public static let decisionsShown = 6

    /// Puts the balancer's topology and the client simulator's users together: each connected
    /// user goes into the box of the server it reports, users on no server into
    /// `unplacedUsers`. Pure.
    /// - Parameters:
    ///   - topology: the balancer's `GET /api/topology`, `nil` when it did not answer.
    ///   - users: the client simulator's `GET /route/status`, `nil` when it did not answer.
    ///   - errors: the upstreams that failed.
    /// - Returns: the balancer's servers in its order, then hosts only the users name (sorted).
    public static func combine(topology: PoolStatus?, users: ClientStatus?, errors: [UpstreamFailure]) -> DashboardState {
        var usersByHost: [String: [UserView]] = [:]
        var unplaced: [UserView] = []
        for user in users?.users ?? [] {
            let view = UserView(userId: user.userId, state: user.state, reconnectCount: user.reconnectCount,
                                lastCloseCode: user.lastCloseCode)
            if user.state == .connected, let host = user.host {
                usersByHost[host, default: []].append(view)
            } else {
                unplaced.append(view)
            }
        }
        var servers: [ServerView] = []
        let limit = topology?.connectionLimitPerHost
        for instance in topology?.instances ?? [] {
            servers.append(ServerView(id: instance.id, state: instance.state, proxyState: instance.proxyState,
                                      proxyConnections: instance.proxyConnections, sessions: instance.sessions,
                                      connectionLimit: limit, utilizationPercent: instance.utilizationPercent,
                                      users: sorted(usersByHost.removeValue(forKey: instance.id) ?? [])))
        }
        for (host, hostUsers) in usersByHost.sorted(by: { $0.key < $1.key }) {
            let utilization = limit.map { PoolStatus.utilizationPercent(sessions: hostUsers.count, hosts: 1, limit: $0) }
            servers.append(ServerView(id: host, state: nil, proxyState: nil, proxyConnections: nil,
                                      sessions: hostUsers.count, connectionLimit: limit, utilizationPercent: utilization,
                                      users: sorted(hostUsers)))
        }
        return DashboardState(pool: topology.map(summary), servers: servers, unplacedUsers: sorted(unplaced),
                              userTotals: users?.totals, errors: errors)
    }

    private static func summary(_ topology: PoolStatus) -> PoolSummary {
        let decisions = topology.decisions.suffix(decisionsShown).reversed().map { decision in
            DecisionView(sequence: decision.sequence, timestamp: decision.timestamp, kind: decision.kind.rawValue,
                         reasons: decision.reasons, actions: decision.actions, errors: decision.errors)
        }
        return PoolSummary(driver: topology.driver, connectionLimitPerHost: topology.connectionLimitPerHost,
                           utilizationPercent: topology.utilizationPercent, totalSessions: topology.totalSessions,
                           poolSize: topology.instances.count,
                           activeServers: topology.instances.filter { $0.state == .active }.count,
                           decisions: Array(decisions), lastError: topology.lastError)
    }

    private static func sorted(_ users: [UserView]) -> [UserView] {
        users.sorted { UserOrder.precedes($0.userId, $1.userId) }
    }
}

/// The order users are listed in: by prefix, then by trailing number (`u2` before `u10`).
enum UserOrder {
    /// Whether `left` comes before `right`.
    static func precedes(_ left: String, _ right: String) -> Bool {
        let (leftPrefix, leftNumber) = split(left)
        let (rightPrefix, rightNumber) = split(right)
        if leftPrefix != rightPrefix { return leftPrefix < rightPrefix }
        if leftNumber != rightNumber { return (leftNumber ?? -1) < (rightNumber ?? -1) }
        return left < right
    }

    /// An id's prefix and its trailing number, if it ends in digits (at most 18 of them).
    static func split(_ id: String) -> (prefix: Substring, number: Int?) {
        let digits = id.reversed().prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 18 else { return (Substring(id), nil) }
        return (id.dropLast(digits.count), Int(String(digits.reversed())))
    }
}
