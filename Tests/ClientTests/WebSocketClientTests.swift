import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOPosix
import Testing
import WSScaleTestSupport
@testable import WSScaleClient

/// The WebSocket client and the users' reconnection against a real SwiftNIO WebSocket server
/// on 127.0.0.1.
@Suite("WebSocket client against a real server", .timeLimit(.minutes(2)))
struct WebSocketClientTests {
    static let fastBackoff = BackoffPolicy(base: .milliseconds(10), cap: .milliseconds(40))
    /// The connect timeout of every test that counts attempts. The timeout is real time: on a
    /// busy machine (CI runs every suite at once on two cores) an attempt can take seconds, and
    /// an attempt abandoned by its timeout after the server upgraded it is one more upgrade and
    /// one more reconnect than the test expects. These tests are about what the server says,
    /// not about time, so their attempts never time out; `anUpgradeThatNeverComesIsAbandoned`
    /// covers the timeout itself.
    static let noTimeout: Duration = .seconds(3600)
    let logger = Logger(label: "ClientTests")

    func makeSessions(_ server: TestWebSocketServer, backoff: BackoffPolicy = fastBackoff) throws -> UserSessions {
        let connector = try connector(for: server)
        return UserSessions(connector: connector, backoff: backoff, connectConcurrency: 8,
                            random: SeededRandom(seed: 11), logger: logger)
    }

    /// A connector to the test server whose attempts never time out.
    func connector(for server: TestWebSocketServer) throws -> WebSocketConnector {
        WebSocketConnector(target: try WebSocketTarget(url: server.target), timeout: Self.noTimeout, logger: logger)
    }

    @Test("connect: upgrade, host from X-WSScale-Host, echo, pong, intentional close with 1000")
    func connectorRoundTrip() async throws {
        let server = try await TestWebSocketServer.start(hostID: "host-a")
        defer { Task { await server.stop() } }
        let connector = try connector(for: server)

        let connection = try await connector.connect(userID: "alice")
        #expect(connection.host == "host-a")
        try await TestSupport.waitUntil("server sees the connection", timeout: nil) { server.openConnections == 1 }

        connection.send(text: "hello")
        try await TestSupport.waitUntil("the echo comes back", timeout: nil) { (try? await connection.textMessagesReceived()) == 1 }
        server.pingAll()
        try await TestSupport.waitUntil("the client answers the ping", timeout: nil) { server.state.withLockedValue { $0.pongs } == 1 }

        #expect(await connection.close() == .closedByClient)
        try await TestSupport.waitUntil("server saw the close", timeout: nil) { server.openConnections == 0 }
        #expect(server.state.withLockedValue { $0.closeCodesReceived } == [1000])
        await server.stop()
    }

    @Test("a target named by a host name is resolved at each connect; an IP literal is used as it is")
    func targetByNameOrAddress() async throws {
        let server = try await TestWebSocketServer.start(hostID: "host-n")
        defer { Task { await server.stop() } }
        let byAddress = try WebSocketTarget(url: server.target)
        #expect(byAddress.host == "127.0.0.1")
        // `localhost` goes through NIO's resolver (and happy eyeballs, ::1 then 127.0.0.1).
        let byName = WebSocketTarget(host: "localhost", port: byAddress.port)
        for target in [byAddress, byName] {
            let connector = WebSocketConnector(target: target, timeout: Self.noTimeout, logger: logger)
            let connection = try await connector.connect(userID: "u")
            #expect(connection.host == "host-n", "through \(target)")
            #expect(await connection.close() == .closedByClient)
        }
        let unknown = WebSocketConnector(target: WebSocketTarget(host: "no-such-host.invalid", port: byAddress.port),
                                         timeout: Self.noTimeout, logger: logger)
        await #expect(throws: WebSocketConnector.Failure.self) { _ = try await unknown.connect(userID: "u") }
        await server.stop()
    }

    @Test("no X-WSScale-Host header: the host is unknown (nil)")
    func missingHostHeader() async throws {
        let server = try await TestWebSocketServer.start(hostID: nil)
        defer { Task { await server.stop() } }
        let connection = try await connector(for: server).connect(userID: "bob")
        #expect(connection.host == nil)
        await connection.close()
        await server.stop()
    }

    @Test("a server close reports its code and reason; a dropped connection reports 1006")
    func connectionEnds() async throws {
        let server = try await TestWebSocketServer.start(hostID: "h")
        defer { Task { await server.stop() } }
        let connector = try connector(for: server)

        let shed = try await connector.connect(userID: "u1")
        try await TestSupport.waitUntil("open", timeout: nil) { server.openConnections == 1 }
        server.closeAll(code: 4001, reason: "Server Rebalancing")
        #expect(try await shed.ended.get() == .closedByServer(code: 4001, reason: "Server Rebalancing"))

        let dropped = try await connector.connect(userID: "u2")
        try await TestSupport.waitUntil("open", timeout: nil) { server.openConnections == 1 }
        server.dropAll()
        #expect(try await dropped.ended.get() == .abnormal)
        await server.stop()
    }

    @Test("liveness against a real server that never answers a ping: the connection is given up (.silent, 1006)")
    func silentServerIsGivenUp() async throws {
        let server = try await TestWebSocketServer.start(hostID: "h")
        defer { Task { await server.stop() } }
        let liveness = ConnectionLiveness(pingInterval: .milliseconds(100), silenceTimeout: .milliseconds(400))
        let connector = WebSocketConnector(target: try WebSocketTarget(url: server.target), timeout: Self.noTimeout,
                                           liveness: liveness, logger: logger)
        // Never a pong: as a server or proxy on a host that vanished (nothing comes back).
        let silent = try await connector.connect(userID: "u1")
        let end = try await silent.ended.get()
        #expect(end == .silent(.milliseconds(400)))
        #expect(end.closeCode == 1006)
        // When it pings is the embedded-loop suite's (ConnectionLivenessTests): here a busy
        // machine may reach the give-up before the first ping, and that is fine.
        try await TestSupport.waitUntil("the server sees the connection closed", timeout: nil) { server.openConnections == 0 }
        await server.stop()
    }

    @Test("nothing listening: the connect fails with connectFailed")
    func connectRefused() async throws {
        let server = try await TestWebSocketServer.start(hostID: "h")
        let target = try WebSocketTarget(url: server.target)
        await server.stop()  // the port is now free and closed
        await #expect {
            _ = try await WebSocketConnector(target: target, logger: logger).connect(userID: "u")
        } throws: { error in
            guard let failure = error as? WebSocketConnector.Failure, case .connectFailed = failure.end else { return false }
            return true
        }
    }

    @Test("users connect concurrently (64 at once) and learn their host")
    func usersConnect() async throws {
        let server = try await TestWebSocketServer.start(hostID: "host-1")
        defer { Task { await server.stop() } }
        let connector = try connector(for: server)
        let sessions = UserSessions(connector: connector, backoff: Self.fastBackoff, connectConcurrency: 64, logger: logger)
        // CLIENT_TEST_USERS raises the count for a measurement run (the default keeps the test fast).
        let count = ProcessInfo.processInfo.environment["CLIENT_TEST_USERS"].flatMap { Int($0) } ?? 200
        let users = (1...count).map { "user\($0)" }

        let start = ContinuousClock.now
        #expect(try await sessions.connect(users: users) == .init(accepted: count, unchanged: 0))
        try await TestSupport.waitUntil("all connected", timeout: nil) { await sessions.status().totals.connected == count }
        print("\(count) users connected in \(ContinuousClock.now - start)")
        let status = await sessions.status()
        #expect(status.hosts == ["host-1": count])
        #expect(status.users.allSatisfy { $0.host == "host-1" && $0.reconnectCount == 0 })
        #expect(server.openConnections == count)

        // Connecting connected users again is a no-op: no new connection.
        #expect(try await sessions.connect(users: ["user1", "user2"]) == .init(accepted: 0, unchanged: 2))
        await sessions.shutdown()  // waits for every attempt under way: a stray one is counted below
        #expect(server.upgrades == count)
        try await TestSupport.waitUntil("server sees every close", timeout: nil) { server.openConnections == 0 }
        await server.stop()
    }

    @Test("a shed (4001) makes the user reconnect, and it learns its new host")
    func shedReconnects() async throws {
        let server = try await TestWebSocketServer.start(hostID: "host-1")
        defer { Task { await server.stop() } }
        let sessions = try makeSessions(server)
        _ = try await sessions.connect(users: ["u1", "u2"])
        try await TestSupport.waitUntil("connected to host-1", timeout: nil) { await sessions.status().hosts == ["host-1": 2] }

        server.announce(hostID: "host-2")
        server.closeAll(code: 4001, reason: "Server Rebalancing")
        try await TestSupport.waitUntil("reconnected to host-2", timeout: nil) { await sessions.status().hosts == ["host-2": 2] }
        let user = try #require(await sessions.status(of: "u1"))
        #expect(user.state == .connected)
        #expect(user.host == "host-2")
        #expect(user.reconnectCount == 1, "last close: \(user.lastCloseReason ?? "none")")
        #expect(user.lastCloseCode == 4001)
        #expect(user.lastCloseReason == "Server Rebalancing")
        #expect(server.upgrades == 4)
        await sessions.shutdown()
        await server.stop()
    }

    @Test("refused with 1013: the user retries with backoff until it gets in")
    func tryAgainLaterRetries() async throws {
        let server = try await TestWebSocketServer.start(hostID: "host-1")
        defer { Task { await server.stop() } }
        let sessions = try makeSessions(server)
        server.refuseNext(3)
        _ = try await sessions.connect(users: ["late"])
        try await TestSupport.waitUntil("connected after the refusals", timeout: nil) {
            let user = await sessions.status(of: "late")
            return user?.reconnectCount == 3 && user?.state == .connected && server.openConnections == 1
        }
        let user = try #require(await sessions.status(of: "late"))
        #expect(user.reconnectCount == 3)
        #expect(user.lastCloseCode == 1013)
        #expect(user.lastCloseReason == "try again later")
        #expect(server.upgrades == 4)
        await sessions.shutdown()
        await server.stop()
    }

    @Test("going away (1001) and a dropped connection (1006) both lead to a reconnect")
    func goingAwayAndAbnormalReconnect() async throws {
        let server = try await TestWebSocketServer.start(hostID: "host-1")
        defer { Task { await server.stop() } }
        let sessions = try makeSessions(server)
        _ = try await sessions.connect(users: ["u"])
        try await TestSupport.waitUntil("connected", timeout: nil) { await sessions.status().totals.connected == 1 && server.openConnections == 1 }

        server.closeAll(code: 1001, reason: "going away")
        try await TestSupport.waitUntil("back after 1001", timeout: nil) {
            let user = await sessions.status(of: "u")
            return user?.state == .connected && user?.reconnectCount == 1 && server.upgrades == 2 && server.openConnections == 1
        }
        #expect(await sessions.status(of: "u")?.lastCloseCode == 1001)

        server.dropAll()
        try await TestSupport.waitUntil("back after the drop", timeout: nil) {
            let user = await sessions.status(of: "u")
            return user?.state == .connected && user?.reconnectCount == 2 && server.upgrades == 3 && server.openConnections == 1
        }
        #expect(await sessions.status(of: "u")?.lastCloseCode == 1006)
        #expect(await sessions.status(of: "u")?.state == .connected)
        await sessions.shutdown()
        await server.stop()
    }

    @Test("an intentional disconnect closes with 1000 and the user stays disconnected")
    func intentionalDisconnectStays() async throws {
        let server = try await TestWebSocketServer.start(hostID: "host-1")
        defer { Task { await server.stop() } }
        let sessions = try makeSessions(server)
        _ = try await sessions.connect(users: ["u1", "u2"])
        // Both sides: the server counts a connection when it sends the upgrade answer, the
        // client only once it has read it.
        try await TestSupport.waitUntil("connected", timeout: nil) { await sessions.status().totals.connected == 2 && server.openConnections == 2 }

        #expect(await sessions.disconnect(users: ["u1", "nobody"]) == .init(accepted: 1, unchanged: 1))
        try await TestSupport.waitUntil("u1 closed", timeout: nil) { server.openConnections == 1 }
        #expect(server.state.withLockedValue { $0.closeCodesReceived } == [1000])
        // Disconnected is a state at rest: the state machine schedules no reconnect from it
        // (UserSessionStateMachineTests), so there is nothing to wait for.
        let user = try #require(await sessions.status(of: "u1"))
        #expect(user.state == .disconnected)
        #expect(user.reconnectCount == 0, "last close: \(user.lastCloseReason ?? "none")")
        #expect(server.upgrades == 2)
        #expect(await sessions.status(of: "u2")?.state == .connected)
        #expect(await sessions.disconnect(users: ["u1"]) == .init(accepted: 0, unchanged: 1))
        await sessions.shutdown()
        await server.stop()
    }

    @Test("a server that accepts but never answers the upgrade: the attempt is abandoned after the timeout, and retried")
    func anUpgradeThatNeverComesIsAbandoned() async throws {
        // The kernel completes the TCP handshakes into the backlog; nobody ever reads them.
        let silent = try ReservedPort(listening: true)
        defer { silent.release() }
        let target = try WebSocketTarget(url: "ws://127.0.0.1:\(silent.port)")
        // The connector on a loop of its own, so the TCP connect (which the kernel completes at
        // once here) is not queued behind other tests' work and taken for the timeout.
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { loop.shutdownGracefully { _ in } }
        let connector = WebSocketConnector(target: target, timeout: .seconds(1), group: loop, logger: logger)
        await #expect {
            _ = try await connector.connect(userID: "u")
        } throws: { error in
            guard let failure = error as? WebSocketConnector.Failure, case .connectFailed(let detail) = failure.end else {
                return false
            }
            return detail.contains("no answer to the upgrade within 1.0 seconds")
        }

        let sessions = UserSessions(connector: connector, backoff: Self.fastBackoff, random: SeededRandom(seed: 5),
                                    logger: logger)
        _ = try await sessions.connect(users: ["u"])
        try await TestSupport.waitUntil("two abandoned attempts", timeout: nil) { (await sessions.status(of: "u")?.reconnectCount ?? 0) >= 2 }
        #expect(await sessions.status(of: "u")?.lastCloseReason?.contains("no answer to the upgrade") == true)
        await sessions.shutdown()
    }

    @Test("a user whose server is gone keeps retrying with backoff and reports why")
    func retriesWhileNothingListens() async throws {
        // A port bound but not listening, held for the whole test: every connect is refused,
        // and no other test's server can take the port meanwhile (a stopped server's could).
        let reserved = try ReservedPort()
        defer { reserved.release() }
        let target = try WebSocketTarget(url: "ws://127.0.0.1:\(reserved.port)")
        let connector = WebSocketConnector(target: target, timeout: .seconds(1), logger: logger)
        let sessions = UserSessions(connector: connector, backoff: Self.fastBackoff, random: SeededRandom(seed: 3),
                                    logger: logger)
        _ = try await sessions.connect(users: ["u"])
        try await TestSupport.waitUntil("several failed retries", timeout: nil) { (await sessions.status(of: "u")?.reconnectCount ?? 0) >= 3 }
        let user = try #require(await sessions.status(of: "u"))
        #expect(user.state != .connected)
        #expect(user.lastCloseCode == nil)
        #expect(user.lastCloseReason?.contains("connect") == true)
        await sessions.shutdown()
        #expect(await sessions.status(of: "u")?.state == .disconnected)
    }
}

/// A TCP port on 127.0.0.1, held for a test: bound without listening (connections are
/// refused), or listening without ever accepting (connections complete and hear nothing).
struct ReservedPort {
    let fd: Int32
    let port: Int

    init(listening: Bool = false) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, bound, !listening || listen(fd, 16) == 0 else { throw ReservedPortError() }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func release() { close(fd) }
}

struct ReservedPortError: Error {}
