import Foundation
import Testing
import WSScaleAPI
import WSScaleClient
import WSScaleCore
@testable import WSScaleDashboard

@Suite("Dashboard state combining")
struct DashboardStateTests {
    private func instance(_ id: String, _ state: InstanceState, sessions: Int, haproxy: ProxyServerState? = .ready,
                          connections: Int? = nil) -> InstanceStatus {
        InstanceStatus(id: id, state: state, endpoint: Endpoint(host: "127.0.0.1", port: 9000), sessions: sessions,
                       utilizationPercent: Double(sessions) * 10, proxyState: haproxy,
                       proxyConnections: connections ?? sessions, proxyDisagrees: false,
                       ageSeconds: 5, secondsInState: 5)
    }

    private func user(_ id: String, _ state: UserState, host: String? = nil, reconnects: Int = 0) -> UserStatus {
        UserStatus(userId: id, state: state, host: host, reconnectCount: reconnects, lastCloseCode: nil,
                   lastCloseReason: nil, retryAttempt: nil, retryDelayMs: nil, gaveUp: false)
    }

    private func decision(_ sequence: Int) -> Decision {
        Decision(sequence: sequence, timestamp: 1_000 * Int64(sequence), kind: .plan, reasons: ["reason \(sequence)"],
                 dryRun: false, actions: ["action \(sequence)"])
    }

    private var topology: PoolStatus {
        PoolStatus(driver: "process", dryRun: false, connectionLimitPerHost: 10,
                   instances: [instance("ws-a", .active, sessions: 2), instance("ws-b", .draining, sessions: 1, haproxy: .drain),
                               instance("ws-c", .starting, sessions: 0, haproxy: nil, connections: nil)],
                   totalSessions: 3, utilizationPercent: 15, decisions: (1...9).map(decision),
                   observedAt: 1, lastError: nil)
    }

    private var users: ClientStatus {
        ClientStatus(users: [
            user("u10", .connected, host: "ws-a"), user("u2", .connected, host: "ws-a", reconnects: 3),
            user("u3", .connected, host: "ws-b"), user("u4", .reconnecting, reconnects: 1),
            user("u5", .disconnected), user("u6", .connected, host: "ws-gone"), user("u7", .connecting),
        ])
    }

    @Test func usersGoIntoTheirServersBoxes() {
        let state = DashboardState.combine(topology: topology, users: users, errors: [])
        #expect(state.servers.map(\.id) == ["ws-a", "ws-b", "ws-c", "ws-gone"])
        #expect(state.servers[0].users.map(\.userId) == ["u2", "u10"])
        #expect(state.servers[0].users[0].reconnectCount == 3)
        #expect(state.servers[1].users.map(\.userId) == ["u3"])
        #expect(state.servers[2].users.isEmpty)
        #expect(state.errors.isEmpty)
    }

    @Test func serversCarryTheBalancersView() {
        let state = DashboardState.combine(topology: topology, users: users, errors: [])
        let draining = state.servers[1]
        #expect(draining.state == .draining)
        #expect(draining.proxyState == .drain)
        #expect(draining.sessions == 1)
        #expect(draining.connectionLimit == 10)
        #expect(draining.utilizationPercent == 10)
        #expect(state.servers[2].proxyState == nil)
    }

    @Test func aHostTheBalancerDoesNotKnowGetsABoxWithoutState() {
        let state = DashboardState.combine(topology: topology, users: users, errors: [])
        let unknown = state.servers[3]
        #expect(unknown.state == nil)
        #expect(unknown.sessions == 1)
        #expect(unknown.utilizationPercent == 10)
        #expect(unknown.users.map(\.userId) == ["u6"])
    }

    @Test func usersOnNoServerAreUnplaced() {
        let state = DashboardState.combine(topology: topology, users: users, errors: [])
        #expect(state.unplacedUsers.map(\.userId) == ["u4", "u5", "u7"])
        #expect(state.unplacedUsers.map(\.state) == [.reconnecting, .disconnected, .connecting])
        #expect(state.userTotals?.users == 7)
        #expect(state.userTotals?.connected == 4)
    }

    @Test func poolSummaryWithTheNewestDecisionsFirst() throws {
        let pool = try #require(DashboardState.combine(topology: topology, users: users, errors: []).pool)
        #expect(pool.poolSize == 3)
        #expect(pool.activeServers == 1)
        #expect(pool.totalSessions == 3)
        #expect(pool.utilizationPercent == 15)
        #expect(pool.decisions.map(\.sequence) == [9, 8, 7, 6, 5, 4])
        #expect(pool.decisions[0].reasons == ["reason 9"])
        #expect(pool.decisions[0].actions == ["action 9"])
    }

    @Test func withoutTheBalancerUsersStillShowByHost() {
        let failure = UpstreamFailure(upstream: "balancer", message: "refused")
        let state = DashboardState.combine(topology: nil, users: users, errors: [failure])
        #expect(state.pool == nil)
        #expect(state.servers.map(\.id) == ["ws-a", "ws-b", "ws-gone"])
        #expect(state.servers.allSatisfy { $0.state == nil && $0.connectionLimit == nil && $0.utilizationPercent == nil })
        #expect(state.servers[0].sessions == 2)
        #expect(state.errors == [failure])
    }

    @Test func withoutTheClientServersShowWithoutUsers() {
        let failure = UpstreamFailure(upstream: "client", message: "timed out")
        let state = DashboardState.combine(topology: topology, users: nil, errors: [failure])
        #expect(state.servers.map(\.id) == ["ws-a", "ws-b", "ws-c"])
        #expect(state.servers.allSatisfy { $0.users.isEmpty })
        #expect(state.unplacedUsers.isEmpty)
        #expect(state.userTotals == nil)
        #expect(state.errors.map(\.upstream) == ["client"])
    }

    @Test func userOrderIsByPrefixThenNumber() {
        let ids = ["u10", "b", "u2", "u1", "a3", "u", "a10"]
        #expect(ids.sorted(by: UserOrder.precedes) == ["a3", "a10", "b", "u", "u1", "u2", "u10"])
    }
}

@Suite("Dashboard settings")
struct DashboardSettingsTests {
    @Test func defaults() throws {
        var reader = EnvironmentReader(environment: [:])
        let settings = DashboardSettings.read(from: &reader)
        try reader.finish()
        #expect(settings.host == "127.0.0.1")
        #expect(settings.port == 8489)
        #expect(settings.balancerAddress == .tcp(host: "127.0.0.1", port: 8488))
        #expect(settings.clientAddress == .tcp(host: "127.0.0.1", port: 8089))
    }

    @Test func readsEveryVariable() throws {
        var reader = EnvironmentReader(environment: [
            "DASHBOARD_HOST": "127.0.0.1", "DASHBOARD_PORT": "9489",
            "DASHBOARD_BALANCER_URL": "http://balancer:8488", "DASHBOARD_CLIENT_URL": "http://client:8089/",
        ])
        let settings = DashboardSettings.read(from: &reader)
        try reader.finish()
        #expect(settings.host == "127.0.0.1")
        #expect(settings.port == 9489)
        #expect(settings.balancerAddress == .tcp(host: "balancer", port: 8488))
        #expect(settings.clientAddress == .tcp(host: "client", port: 8089))
    }

    @Test func badValuesNameTheirVariable() {
        var reader = EnvironmentReader(environment: [
            "DASHBOARD_PORT": "80000", "DASHBOARD_BALANCER_URL": "balancer", "DASHBOARD_CLIENT_URL": "http://client",
        ])
        _ = DashboardSettings.read(from: &reader)
        #expect(reader.issues.map(\.variable) == ["DASHBOARD_PORT", "DASHBOARD_BALANCER_URL", "DASHBOARD_CLIENT_URL"])
    }

    @Test func defaultsGivenByUpApplyUnlessSet() throws {
        var defaults = DashboardSettings()
        defaults.balancerAddress = .tcp(host: "127.0.0.1", port: 18488)
        var reader = EnvironmentReader(environment: ["DASHBOARD_CLIENT_URL": "http://127.0.0.1:18089"])
        let settings = DashboardSettings.read(from: &reader, defaults: defaults)
        try reader.finish()
        #expect(settings.balancerAddress == .tcp(host: "127.0.0.1", port: 18488))
        #expect(settings.clientAddress == .tcp(host: "127.0.0.1", port: 18089))
    }

    @Test("a server box writes HAProxy's view as proxyState/proxyConnections and the deprecated balancer… names, and reads either")
    func serverViewJSONKeepsTheOldNames() throws {
        let view = ServerView(id: "ws-a", state: .active, proxyState: .ready, proxyConnections: 3, sessions: 3,
                              connectionLimit: 10, utilizationPercent: 30, users: [])
        let data = try JSONEncoder().encode(view)
        let json = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(json["proxyState"] as? String == "ready" && json["balancerState"] as? String == "ready")
        #expect(json["proxyConnections"] as? Int == 3 && json["balancerConnections"] as? Int == 3)
        #expect(try JSONDecoder().decode(ServerView.self, from: data) == view)
        var old = json
        old["proxyState"] = nil
        old["proxyConnections"] = nil
        #expect(try JSONDecoder().decode(ServerView.self, from: JSONSerialization.data(withJSONObject: old)) == view)
    }
}
