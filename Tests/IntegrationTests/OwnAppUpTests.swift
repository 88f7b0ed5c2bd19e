#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import WSScaleTestSupport

/// The team's own app in the pool on the process backend: `wsscale up` with
/// `WSSCALE_APP_COMMAND` runs the example chat app (`examples/chat/chat.py`, Python) behind
/// every server, the way the README tells a user to.
extension RealStackTests {
@Suite("your own app in the pool: wsscale up with the example chat", .timeLimit(.minutes(4)))
struct OwnAppUpTests {
    /// The example chat app.
    static var chatApp: String {
        DockerTestEnvironment.repositoryRoot.appendingPathComponent("examples/chat/chat.py").path
    }

    /// The settings that put the chat behind every server, its messages through `chatRedis`.
    static func appEnvironment(chatRedis: TestRedisServer) -> [String: String] {
        ["WSSCALE_APP_COMMAND": "/usr/bin/python3 \(chatApp)",
         "APP_UPSTREAM_URL": "ws://127.0.0.1:{port}/ws/{userId}", "APP_HEALTH_CHECK": "/health",
         "CHAT_REDIS_URL": chatRedis.url + "/0"]
    }

    /// Runs `body` on a stack with the chat app and its own Redis.
    private func withChatStack(_ overrides: [String: String] = [:], _ body: (UpStack) async throws -> Void) async throws {
        let chatRedis = try await TestRedisServer.start()
        defer { chatRedis.stop() }
        try await UpStack.with(Self.appEnvironment(chatRedis: chatRedis).merging(overrides) { $1 }) { stack in
            try await body(stack)
        }
    }

    @Test("chat: a message from a user on server A reaches a user on server B, also after a rebalance moved one of them")
    func chatAcrossServers() async throws {
        try await withChatStack(["MIN_INSTANCES": "2"]) { stack in
            try await TestSupport.waitUntil("two servers in rotation") { try await stack.api.topology().active.count == 2 }
            let api = stack.api
            let check = ChatCheck(trafficPort: stack.ports.lb) { host in
                let server = try await api.topology().instances.first { $0.id == host }
                let port = try #require(server?.endpoint?.port)
                let answer = try await RawHTTPClient.request("POST", "/ws-session/\(host)/drop", port: port,
                                                             headers: [("Authorization", "Bearer \(api.adminToken ?? "")")])
                guard answer.status == 200 else { throw StackAPIError("drop on \(host) answered \(answer.status)") }
            }
            let report = try await check.run()
            print("chat through wsscale up: \(report)")
        }
    }

    @Test("experiment 1 with the app: 40 users at once, everyone gets in, no server above 30")
    func burst() async throws {
        try await withChatStack { stack in
            let report = try await stack.scenario.burstOfUsers(40)
            print("own app, experiment 1: all 40 connected after \(report.timeToAllConnected), highest \(report.highestSessions)")
            #expect(report.refusedByFirstServer == 0)
            #expect(report.highestSessions <= 30)
        }
    }

    @Test("experiment 2 with the app: users arrive in batches, servers are added")
    func gradualConnects() async throws {
        try await withChatStack { stack in
            let report = try await stack.scenario.gradualConnects(total: 40, batch: 5)
            print("own app, experiment 2: active servers after each batch \(report.serversAfterBatch)")
            #expect(report.serversAfterBatch.last ?? 0 >= 5)
        }
    }

    @Test("experiment 3 with the app: users leave in batches, servers drain and go, each stopping its app")
    func gradualDisconnects() async throws {
        try await withChatStack { stack in
            let report = try await stack.scenario.gradualDisconnects(total: 40, batch: 5)
            print("own app, experiment 3: drained \(report.drained.sorted()) down to the minimum \(report.timeToMinimum) after")
            #expect(!report.drained.isEmpty)
        }
    }

    @Test("experiment 4 with the app: Swiss cheese settles within 10 s")
    func swissCheese() async throws {
        try await withChatStack { stack in
            let report = try await stack.scenario.swissCheese(total: 40, timeout: .seconds(10))
            print("own app, experiment 4: \(report.left) users left \(report.holedServer); settled after \(report.settleTime)")
            #expect(report.settleTime < .seconds(10))
        }
    }

    @Test("an app that crashes under load: its server exits, its users reconnect elsewhere, the pool replaces it")
    func appCrashes() async throws {
        try await withChatStack { stack in
            var scenario = stack.scenario
            scenario.killServer = { id in
                guard let server = stack.serverPid(id) else { throw StackAPIError("no pid for server \(id)") }
                let app = try #require(Self.children(of: server).first, "server \(id) runs no app")
                kill(app, SIGKILL)
            }
            let report = try await scenario.serverCrash(total: 20)
            print("own app crashed on \(report.killed): \(report.usersOnIt) users back after \(report.timeToRecover), "
                  + "replacements \(report.replacements)")
        }
    }

    @Test("an app that never becomes healthy: the launch fails with the tail of the app's log in the balancer's error")
    func neverHealthy() async throws {
        let marker = "chat-never-ready-\(UInt32.random(in: 0...UInt32.max))"
        let command = "echo \(marker) >&2; exec /usr/bin/python3 \(Self.chatApp)"
        try await withLaunchFailure(["WSSCALE_APP_COMMAND": command, "APP_HEALTH_CHECK": "/not-there",
                                     "APP_START_TIMEOUT_SECONDS": "1", "APP_UPSTREAM_URL": "ws://127.0.0.1:{port}/ws/{userId}"],
                                    marker: marker)
    }

    /// `up` with an app that cannot come up: it does not get ready, and its log says why, with the app's own words.
    private func withLaunchFailure(_ overrides: [String: String], marker: String) async throws {
        let stackError = await #expect(throws: StackAPIError.self) {
            try await UpStack.with(overrides) { _ in }
        }
        let message = stackError.map { "\($0)" } ?? ""
        #expect(message.contains("did not pass its health check"), "\(message.suffix(2000))")
        #expect(message.contains(marker), "the app's own output is not in the error: \(message.suffix(2000))")
    }

    /// The pids of a process's children.
    static func children(of pid: pid_t) -> [pid_t] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { task in
            ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { pid_t($0) }
        }
    }
}
}
