import WSScaleTestSupport
import Foundation
import Testing
import WSScaleCore
import WSScaleServer

@Suite("WebSocket sessions on a real server")
struct WebSocketSessionTests {
    @Test("a session is recorded on open, answers with X-WSScale-Host, and its record goes on close")
    func recordsOpenAndClose() async throws {
        try await TestServer.with { server in
            let client = try await server.connect("alice@example.com")
            #expect(client.serverHost == server.serverId)
            #expect(await TestSupport.eventually { server.store.records.count == 1 })
            let record = try #require(server.store.records.first)
            #expect(record.userId == "alice@example.com")
            #expect(record.hostId == server.serverId)
            #expect(record.connectedAt > 0 && record.lastActive == record.connectedAt)
            #expect(server.server.liveSessionCount == 1)

            try await client.close(code: .normalClosure)
            let close = try await within { await client.closeFrame() }
            #expect(close?.code == 1000)
            await client.waitUntilClosed()
            #expect(await TestSupport.eventually { server.store.records.isEmpty && server.server.liveSessionCount == 0 })
            #expect(server.server.metrics.render().contains(#"wsscale_connections_closed_total{reason="client"} 1"#))
        }
    }

    @Test("text is echoed, pings get pongs, and every message moves last-active")
    func echoesAndTouches() async throws {
        try await TestServer.with { server in
            let client = try await server.connect("bob")
            #expect(await TestSupport.eventually { server.store.records.count == 1 })
            let opened = try #require(server.store.records.first)
            try await Task.sleep(for: .milliseconds(20))

            try await client.send(text: "hello")
            #expect(try await within { await client.nextMessage() } == .text("hello"))
            try await client.ping("p1")
            #expect(try await within { await client.nextMessage() } == .pong("p1"))
            let touched = try #require(server.store.records.first)
            #expect(touched.lastActive > opened.lastActive)
            try await client.close()
            await client.waitUntilClosed()
        }
    }

    @Test("bad user ids get 400 with a reason before any upgrade; unknown paths 404")
    func refusesBadUserIds() async throws {
        try await TestServer.with { server in
            let upgradeHeaders = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                  ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]
            let tooLong = String(repeating: "a", count: 129)
            for bad in ["/api/v1/websocket/", "/api/v1/websocket/bad%20user", "/api/v1/websocket/a/b",
                        "/api/v1/websocket/\(tooLong)", "/api/v1/websocket/x!y"] {
                let response = try await server.http("GET", bad, headers: upgradeHeaders)
                #expect(response.status == 400, "\(bad)")
                #expect(response.body.contains("user id"), "\(bad): \(response.body)")
            }
            await #expect(throws: WebSocketTestClient.UpgradeRefused.self) {
                _ = try await server.connect("percent%21encoded")
            }
            let longest = try await server.connect(String(repeating: "b", count: 128))
            #expect(longest.serverHost == server.serverId)
            try await longest.close()

            let unknown = try await server.http("GET", "/api/v2/websocket/alice", headers: upgradeHeaders)
            #expect(unknown.status == 404)
            #expect(server.store.records.allSatisfy { $0.userId.count == 128 })
        }
    }

    @Test("over MAX_CONNECTIONS_PER_HOST the upgrade is accepted and closed at once with 1013")
    func hardLimit() async throws {
        try await TestServer.with(maxConnections: 2) { server in
            let first = try await server.connect("u1")
            let second = try await server.connect("u2")
            let third = try await server.connect("u3")
            let close = try await within { await third.closeFrame() }
            #expect(close?.code == 1013)
            #expect(close?.reason == "try again later")
            await third.waitUntilClosed()
            #expect(server.store.records.map(\.userId).sorted() == ["u1", "u2"])
            let metrics = server.server.metrics.render()
            #expect(metrics.contains("wsscale_connections_refused_total 1"))
            #expect(metrics.contains("wsscale_connections_opened_total 2"))

            // The first two still work.
            try await first.send(text: "still here")
            #expect(try await within { await first.nextMessage() } == .text("still here"))
            _ = second
        }
    }

    @Test("shed N closes exactly the N most idle sessions with 4001 Server Rebalancing")
    func shedsTheMostIdle() async throws {
        try await TestServer.with { server in
            var opened: [WebSocketTestClient] = []
            for index in 0..<6 { opened.append(try await server.connect("user\(index)")) }
            let clients = opened
            // All six admitted (each after its 101 is out, so connects in a row may be admitted
            // in either order), then user5, user1 and user0 speak: the three most idle are
            // user2, user3 and user4, whatever their order of admission.
            #expect(await TestSupport.eventually { server.store.records.count == 6 })
            for index in [5, 1, 0] {
                try await clients[index].send(text: "ping \(index)")
                #expect(try await within { await clients[index].nextMessage() } == .text("ping \(index)"))
            }
            server.store.deliver(.shed(count: 3))
            for index in [2, 3, 4] {
                let close = try await within { await clients[index].closeFrame() }
                #expect(close?.code == 4001, "user\(index)")
                #expect(close?.reason == "Server Rebalancing")
            }
            #expect(await TestSupport.eventually { server.store.records.count == 3 })
            #expect(Set(server.store.records.map(\.userId)) == ["user0", "user1", "user5"])
            for index in [0, 1, 5] {
                try await clients[index].send(text: "alive")
                #expect(try await within { await clients[index].nextMessage() } == .text("alive"), "user\(index)")
            }
            let metrics = server.server.metrics.render()
            #expect(metrics.contains("wsscale_connections_shed_total 3"))
            #expect(metrics.contains(#"wsscale_connections_closed_total{reason="shed"} 3"#))
        }
    }

    @Test("a shed session leaves the registry when its close frame is sent, not when the client answers it")
    func shedSessionLeavesTheRegistryAtOnce() async throws {
        // A shed client may reconnect to another server before its close handshake ends; if
        // the old record stayed until then, the topology would count the user twice.
        try await TestServer.with { server in
            let slow = try await server.connect("slow", answersClose: false)
            let other = try await server.connect("other")
            #expect(await TestSupport.eventually { server.store.records.count == 2 })
            server.store.deliver(.shed(count: 1))
            let close = try await within { await slow.closeFrame() }
            #expect(close?.code == 4001)
            #expect(await TestSupport.eventually { server.store.records.map(\.userId) == ["other"] })
            #expect(slow.channel.isActive, "the handshake is still open: the server waits up to 3 s for the answer")
            #expect(server.server.liveSessionCount == 1)
            #expect(server.server.metrics.render().contains(#"wsscale_connections_closed_total{reason="shed"} 1"#))
            // The server gives up on the handshake and closes the socket itself; nothing changes twice.
            await slow.waitUntilClosed()
            #expect(server.store.records.map(\.userId) == ["other"])
            #expect(server.server.metrics.render().contains(#"wsscale_connections_closed_total{reason="shed"} 1"#))
            try await other.close()
        }
    }

    @Test("drain makes /health answer 503, activate 200 again; sessions stay")
    func drainAndActivate() async throws {
        try await TestServer.with { server in
            let client = try await server.connect("carol")
            #expect(try await server.http("GET", "/health").status == 200)
            server.store.deliver(.drain)
            #expect(await TestSupport.eventually { try await server.http("GET", "/health").status == 503 })
            #expect(try await server.http("GET", "/health").body.contains("draining"))
            try await client.send(text: "during drain")
            #expect(try await within { await client.nextMessage() } == .text("during drain"))
            server.store.deliver(.activate)
            #expect(await TestSupport.eventually { try await server.http("GET", "/health").status == 200 })
        }
    }

    @Test("graceful shutdown closes every session with 1001 and removes every record")
    func gracefulShutdown() async throws {
        var clients: [WebSocketTestClient] = []
        var storeAfter: InMemoryHostSessionStore?
        try await TestServer.with { server in
            for index in 0..<4 { clients.append(try await server.connect("leaver\(index)")) }
            #expect(await TestSupport.eventually { server.store.records.count == 4 })
            storeAfter = server.store
            let waiters = clients
            async let closes = within(.seconds(5)) {
                var codes: [UInt16?] = []
                for client in waiters { codes.append(await client.closeFrame()?.code) }
                return codes
            }
            await server.group.triggerGracefulShutdown()
            #expect(try await closes == [1001, 1001, 1001, 1001])
            #expect(await TestSupport.eventually {
                server.server.metrics.render().contains(#"wsscale_connections_closed_total{reason="shutdown"} 4"#)
            })
        }
        #expect(storeAfter?.records.isEmpty == true)
        for client in clients { #expect(!client.channel.isActive) }
    }
}

@Suite("WebSocket protocol errors")
struct WebSocketProtocolErrorTests {
    @Test("a message over the 64 KiB limit is answered with close 1009 and the session is removed")
    func frameTooLarge() async throws {
        try await TestServer.with { server in
            let client = try await server.connect("big")
            #expect(await TestSupport.eventually { server.store.records.count == 1 })
            try? await client.send(text: String(repeating: "x", count: ServerConfiguration.defaultMaxMessageBytes + 1))
            let close = try await within { await client.closeFrame() }
            #expect(close?.code == 1009)
            await client.waitUntilClosed()
            #expect(await TestSupport.eventually { server.store.records.isEmpty })
            #expect(server.server.metrics.render().contains(#"wsscale_connections_closed_total{reason="error"} 1"#))
        }
    }
}
