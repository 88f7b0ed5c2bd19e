import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing
import WSScaleTestSupport
@testable import WSScaleClient
import WSScaleCore

/// The HTTP API on a real port on 127.0.0.1, driven over HTTP, with users connecting to a real
/// WebSocket server.
@Suite("Client simulator HTTP API", .timeLimit(.minutes(2)))
struct ClientHTTPAPITests {
    let logger = Logger(label: "ClientHTTPAPITests")

    /// Runs a simulator (HTTP API on a free port) against `server` for the duration of `body`.
    func withSimulator(_ server: TestWebSocketServer, limits: HTTPListenerLimits = HTTPListenerLimits(), maxUsers: Int = 100_000,
                       group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                       _ body: (ClientSimulator, URL) async throws -> Void) async throws {
        var configuration = ClientConfiguration(listenHost: "127.0.0.1", port: 0,
                                                target: try WebSocketTarget(url: server.target),
                                                backoff: BackoffPolicy(base: .milliseconds(10), cap: .milliseconds(40)),
                                                adminToken: AdminToken(Self.token))
        configuration.httpLimits = limits
        configuration.maxUsers = maxUsers
        let simulator = ClientSimulator(configuration: configuration, random: SeededRandom(seed: 9), group: group, logger: logger)
        let group = ServiceGroup(services: [simulator], logger: logger)
        let running = Task { try await group.run() }
        defer { running.cancel() }
        let port = try await simulator.listeningPort()
        try await body(simulator, URL(string: "http://127.0.0.1:\(port)")!)
        await group.triggerGracefulShutdown()
        try await running.value
    }

    static let token = "client-api-test-token-0123456789"

    func request(_ base: URL, _ method: String, _ path: String, body: String? = nil,
                 token: String? = Self.token) async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: base.appendingPathComponent(path))
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return (status, json)
    }

    @Test("batch connect and disconnect answer 202 with counts; status and health answer 200")
    func acceptedRequests() async throws {
        let server = try await TestWebSocketServer.start(hostID: "host-9")
        defer { Task { await server.stop() } }
        try await withSimulator(server) { simulator, base in
            let (health, _) = try await request(base, "GET", "health")
            #expect(health == 200)

            let (status, counts) = try await request(base, "POST", "route/kickstart/ws/batch/connect",
                                                     body: #"{"userIds": ["user1", "user2", "user3"]}"#)
            #expect(status == 202)
            #expect(counts["accepted"] as? Int == 3)
            try await TestSupport.waitUntil("users connected", timeout: nil) { await simulator.status().totals.connected == 3 }

            let (again, againCounts) = try await request(base, "POST", "route/kickstart/ws/batch/connect",
                                                         body: #"{"userIds": ["user1", "user4"]}"#)
            #expect(again == 202)
            #expect(againCounts["accepted"] as? Int == 1)
            #expect(againCounts["unchanged"] as? Int == 1)
            try await TestSupport.waitUntil("user4 connected", timeout: nil) { await simulator.status().totals.connected == 4 }

            let (listed, report) = try await request(base, "GET", "route/status")
            #expect(listed == 200)
            let totals = try #require(report["totals"] as? [String: Any])
            #expect(totals["connected"] as? Int == 4)
            #expect((report["hosts"] as? [String: Any])?["host-9"] as? Int == 4)
            let users = try #require(report["users"] as? [[String: Any]])
            #expect(users.map { $0["userId"] as? String } == ["user1", "user2", "user3", "user4"])
            #expect(users.allSatisfy { $0["state"] as? String == "connected" && $0["host"] as? String == "host-9" })
            #expect(users.allSatisfy { $0["reconnectCount"] as? Int == 0 })

            let (gone, goneCounts) = try await request(base, "POST", "route/kickstart/ws/batch/disconnect",
                                                       body: #"{"userIds": ["user1", "user2"]}"#)
            #expect(gone == 202)
            #expect(goneCounts["accepted"] as? Int == 2)
            try await TestSupport.waitUntil("two closed at the server", timeout: nil) { server.openConnections == 2 }
            let after = await simulator.status()
            #expect(after.totals.connected == 2)
            #expect(after.totals.disconnected == 2)
        }
        try await TestSupport.waitUntil("shutdown closed everyone", timeout: nil) { server.openConnections == 0 }
        await server.stop()
    }

    @Test("malformed batch bodies get 400 with a JSON reason", arguments: [
        ("not json", "not valid JSON"),
        ("{}", "\"userIds\" is missing"),
        (#"{"userIds": "user1"}"#, "must be an array"),
        (#"{"userIds": [1, 2]}"#, "is not a string"),
        (#"{"userIds": []}"#, "is empty"),
        (#"{"userIds": ["bad id!"]}"#, "is not a valid user id"),
    ])
    func rejectedRequests(body: String, reason: String) async throws {
        let server = try await TestWebSocketServer.start(hostID: "h")
        defer { Task { await server.stop() } }
        try await withSimulator(server) { simulator, base in
            for path in ["route/kickstart/ws/batch/connect", "route/kickstart/ws/batch/disconnect"] {
                let (status, answer) = try await request(base, "POST", path, body: body)
                #expect(status == 400, "\(path)")
                #expect((answer["error"] as? String)?.contains(reason) == true, "\(path): \(answer)")
            }
            #expect(await simulator.status().totals.users == 0)
        }
        #expect(server.upgrades == 0)
        await server.stop()
    }

    @Test("the Swift API refuses an invalid user id before doing anything")
    func swiftAPIRejectsInvalidIDs() async throws {
        let simulator = ClientSimulator(configuration: ClientConfiguration(port: 0), logger: logger)
        await #expect(throws: ClientSimulator.InvalidUserID(userID: "a b")) {
            try await simulator.connect(users: ["ok", "a b"])
        }
        #expect(await simulator.status().totals.users == 0)
    }

    @Test("the admin gate: no token, a wrong token, a foreign Origin or a form body is refused; health stays open")
    func adminGate() async throws {
        let server = try await TestWebSocketServer.start(hostID: "host-gate")
        defer { Task { await server.stop() } }
        try await withSimulator(server) { simulator, base in
            let connect = "route/kickstart/ws/batch/connect"
            let body = #"{"userIds": ["mallory"]}"#
            #expect(try await request(base, "GET", "health", token: nil).0 == 200)
            #expect(try await request(base, "GET", "route/status", token: nil).0 == 401)
            #expect(try await request(base, "POST", connect, body: body, token: nil).0 == 401)
            let (wrong, answer) = try await request(base, "POST", connect, body: body, token: "not-the-token-0123456789")
            #expect(wrong == 401)
            #expect((answer["error"] as? String)?.contains("wrong admin credential") == true)

            var foreign = URLRequest(url: base.appendingPathComponent(connect))
            foreign.httpMethod = "POST"
            foreign.httpBody = Data(body.utf8)
            foreign.setValue("application/json", forHTTPHeaderField: "Content-Type")
            foreign.setValue("Bearer \(Self.token)", forHTTPHeaderField: "Authorization")
            foreign.setValue("http://evil.example", forHTTPHeaderField: "Origin")
            #expect(((try await URLSession.shared.data(for: foreign)).1 as? HTTPURLResponse)?.statusCode == 403)

            var form = URLRequest(url: base.appendingPathComponent(connect))
            form.httpMethod = "POST"
            form.httpBody = Data("userIds=mallory".utf8)
            form.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            form.setValue("Bearer \(Self.token)", forHTTPHeaderField: "Authorization")
            #expect(((try await URLSession.shared.data(for: form)).1 as? HTTPURLResponse)?.statusCode == 415)

            #expect(await simulator.status().totals.users == 0, "a refused request changed nothing")
        }
    }
}
