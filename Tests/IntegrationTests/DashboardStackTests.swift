#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import WSScaleBackends
import WSScaleDashboard
import WSScaleTestSupport

extension RealStackTests {
/// The dashboard as `wsscale up` runs it (and as `wsscale dashboard` runs it beside a stack),
/// driven over HTTP on 127.0.0.1 the way its page drives it.
@Suite struct DashboardStackTests {
    /// The page, the state of servers and users, connect and disconnect through the dashboard,
    /// the 400s of bad bodies, and a dashboard whose client simulator is away.
    @Test func dashboardOverTheRealStack() async throws {
        try await UpStack.with { stack in
            let dashboard = DashboardClient(port: stack.ports.dashboard, token: stack.api.adminToken)
            #expect(stack.logTail(lines: 200).contains("dashboard http://127.0.0.1:\(stack.ports.dashboard)/"),
                    "up prints where the dashboard is")
            #expect(try await dashboard.send("GET", "/health").status == 200)
            let page = try await dashboard.send("GET", "/")
            #expect(page.status == 200)
            #expect(page.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(page.body.contains("id=\"\(DashboardPage.rootElementID)\""))
            #expect(!page.body.contains("http://") && !page.body.contains("https://"), "the page loads nothing from elsewhere")

            // Twelve users through the dashboard: ids the client does not know, all connected.
            let connect = try await dashboard.send("POST", "/api/connect", json: #"{"count": 12}"#)
            #expect(connect.status == 202, "\(connect.body)")
            let connected = try JSONDecoder().decode(BatchAnswer.self, from: Data(connect.body.utf8))
            #expect(connected.userIds == (1...12).map { "user\($0)" })
            let allIn = await TestSupport.eventually(timeout: .seconds(20)) {
                try await stack.api.clientStatus().users.filter { $0.state == "connected" }.count == 12
            }
            #expect(allIn, "the client simulator connects the 12 users")
            // 12 users start a scale-out and a rebalance: compare once nobody moves any more.
            _ = try await stack.scenario.waitUntilSettled(connected.userIds, timeout: .seconds(20))
            let shown = await TestSupport.eventually(timeout: .seconds(10)) {
                let state = try await dashboard.state()
                return state.servers.flatMap(\.users).count == 12 && state.errors.isEmpty
            }
            #expect(shown, "the dashboard shows the 12 users on servers")
            let state = try await dashboard.state()
            let topology = try await stack.api.topology()
            let pool = try #require(state.pool)
            #expect(pool.connectionLimitPerHost == 10)
            #expect(pool.poolSize == topology.instances.count)
            #expect(Set(topology.instances.map(\.id)).isSubset(of: Set(state.servers.map(\.id))))
            let client = try await stack.api.clientStatus()
            for server in state.servers {
                for user in server.users {
                    #expect(client.users.first { $0.userId == user.userId }?.host == server.id,
                            "\(user.userId) is in the box of the server it is connected to")
                }
            }

            // Bad bodies: 400 with a reason.
            for (path, body, reason) in [("/api/connect", #"{"count": 0}"#, "count"),
                                         ("/api/connect", #"{"count": 10001}"#, "count"),
                                         ("/api/connect", #"{"count": 2, "prefix": "a b"}"#, "prefix"),
                                         ("/api/connect", "nope", "JSON"),
                                         ("/api/disconnect", #"{"userIds": []}"#, "empty"),
                                         ("/api/disconnect", #"{"userIds": ["bad id"]}"#, "valid user id")] {
                let answer = try await dashboard.send("POST", path, json: body)
                #expect(answer.status == 400, "\(path) \(body)")
                #expect(answer.body.contains(reason), "\(path) \(body): \(answer.body)")
            }

            // One user disconnected through the dashboard.
            let disconnect = try await dashboard.send("POST", "/api/disconnect", json: #"{"userIds": ["user5"]}"#)
            #expect(disconnect.status == 202, "\(disconnect.body)")
            let gone = await TestSupport.eventually(timeout: .seconds(10)) {
                let state = try await dashboard.state()
                return !state.servers.flatMap(\.users).contains { $0.userId == "user5" }
                    && state.unplacedUsers.contains { $0.userId == "user5" && $0.state == .disconnected }
            }
            #expect(gone, "user5 leaves its server's box and shows as disconnected")
            #expect(try await stack.api.clientStatus().users.first { $0.userId == "user5" }?.state == "disconnected")
            #expect(try await stack.api.clientStatus().users.filter { $0.state == "connected" }.count == 11)

            // New ids skip those the client knows (user5 included).
            let more = try await dashboard.send("POST", "/api/connect", json: #"{"count": 2, "prefix": "user"}"#)
            #expect(try JSONDecoder().decode(BatchAnswer.self, from: Data(more.body.utf8)).userIds == ["user13", "user14"])

            // Two connects at once pick different ids, and every one of them is a new user.
            async let left = dashboard.send("POST", "/api/connect", json: #"{"count": 3, "prefix": "twin"}"#)
            async let right = dashboard.send("POST", "/api/connect", json: #"{"count": 3, "prefix": "twin"}"#)
            let answers = try await [left, right].map { try JSONDecoder().decode(BatchAnswer.self, from: Data($0.body.utf8)) }
            #expect(Set(answers.flatMap(\.userIds)) == Set((1...6).map { "twin\($0)" }), "\(answers.map(\.userIds))")
            #expect(answers.map { $0.accepted ?? 0 } == [3, 3])

            try await Self.withStandaloneDashboard(balancerPort: stack.ports.balancer,
                                                   clientPort: try TestSupport.freeLoopbackPort(),
                                                   stack: stack) { away in
                let state = try await away.state()
                #expect(state.errors.map(\.upstream) == ["client"], "\(state.errors)")
                #expect(state.pool != nil, "what the balancer answered is still there")
                #expect(!state.servers.isEmpty)
                #expect(state.userTotals == nil)
                let answer = try await away.send("POST", "/api/connect", json: #"{"count": 1}"#)
                #expect(answer.status == 502)
                #expect(answer.body.contains("client"), "\(answer.body)")
            }
        }
    }

    /// Runs `wsscale dashboard` on a free port beside `stack`, its client URL on `clientPort`.
    private static func withStandaloneDashboard(balancerPort: Int, clientPort: Int, stack: UpStack,
                                                _ body: (DashboardClient) async throws -> Void) async throws {
        let port = try TestSupport.freeLoopbackPort()
        var environment = stack.environment
        environment.merge(["DASHBOARD_HOST": "127.0.0.1", "DASHBOARD_PORT": "\(port)",
                           "DASHBOARD_BALANCER_URL": "http://127.0.0.1:\(balancerPort)",
                           "DASHBOARD_CLIENT_URL": "http://127.0.0.1:\(clientPort)",
                           "WSSCALE_ADMIN_TOKEN_FILE": stack.adminTokenPath]) { $1 }
        let log = stack.stateDirectory + "/dashboard.log"
        let process = try LocalProcess.spawn(executable: UpStack.binary, arguments: ["dashboard"],
                                             environment: environment, outputPath: log)
        let client = DashboardClient(port: port, token: stack.api.adminToken)
        do {
            let up = await TestSupport.eventually(timeout: .seconds(10)) {
                try await client.send("GET", "/health").status == 200
            }
            try #require(up, "wsscale dashboard answers /health: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            try await body(client)
        } catch {
            _ = await process.terminate(grace: .seconds(5))
            throw error
        }
        #expect(await process.terminate(grace: .seconds(5)) != nil, "wsscale dashboard stops on SIGTERM")
    }
}
}

/// `wsscale dashboard` with a bad setting stops at once, naming the variable.
@Suite struct DashboardCommandTests {
    @Test func badSettingsStopStartupNamingTheVariable() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsscale-dash-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/out.log"
        var environment = ProcessInfo.processInfo.environment
        environment.merge(["DASHBOARD_HOST": "127.0.0.1", "DASHBOARD_PORT": "eighty",
                           "DASHBOARD_CLIENT_URL": "ftp://client"]) { $1 }
        let process = try LocalProcess.spawn(executable: UpStack.binary, arguments: ["dashboard"],
                                             environment: environment, outputPath: log)
        let status = await process.waitForExit(within: .seconds(10))
        if status == nil { _ = await process.terminate(grace: .seconds(1)) }
        #expect(status?.exitCode == 2)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(output.contains("DASHBOARD_PORT"), "\(output)")
        #expect(output.contains("DASHBOARD_CLIENT_URL"), "\(output)")
    }
}

/// What `POST /api/connect` and `/api/disconnect` answer.
private struct BatchAnswer: Decodable {
    var userIds: [String]
    var accepted: Int?
}

/// The dashboard's HTTP API on 127.0.0.1, bounded.
private struct DashboardClient {
    var port: Int
    /// The admin token sent on every request.
    var token: String?

    func send(_ method: String, _ path: String, json: String? = nil) async throws -> RawHTTPClient.Response {
        let port = self.port
        var headers = json == nil ? [] : [("Content-Type", "application/json")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        let sent = headers
        do {
            return try await within(.seconds(5)) {
                try await RawHTTPClient.request(method, path, port: port, headers: sent, body: json)
            }
        } catch is TimedOut {
            throw StackAPIError("\(method) \(path) on the dashboard :\(port) got no answer within 5 s")
        }
    }

    func state() async throws -> DashboardState {
        let response = try await send("GET", "/api/state")
        guard response.status == 200 else { throw StackAPIError("GET /api/state answered \(response.status)") }
        return try JSONDecoder().decode(DashboardState.self, from: Data(response.body.utf8))
    }
}
