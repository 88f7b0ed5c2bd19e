import Foundation
@testable import WSScaleBackends
import WSScaleCore
import WSScaleTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real `wsscale server` processes against a real redis-server, seen through the balancer's
/// `RedisSessionRegistry` and real WebSocket clients. Serialized: the lease timings (1 s)
/// should not compete with the other tests of this suite for the machine's two cores.
@Suite("wsscale server with Redis", .serialized)
struct RedisServerIntegrationTests {
    @Test("sessions appear in the registry with their ids, move last-active, and leave on close")
    func recordsAppearAndDisappear() async throws {
        try await RedisPoolFixture.with { pool in
            let server = try await pool.startServer("ws-rec")
            let clients = try await [server.connect("alice"), server.connect("bob"),
                                     server.connect("carol@example.org")]
            #expect(clients.allSatisfy { $0.serverHost == "ws-rec" })
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-rec": 3] })

            let records = try await pool.registry.allSessions()
            #expect(Set(records.map(\.userId)) == ["alice", "bob", "carol@example.org"])
            #expect(records.allSatisfy { $0.hostId == "ws-rec" })
            let runtime = try await server.http("GET", "/ws-session/all/runtime")
            let liveIds = try JSONDecoder().decode([String].self, from: Data(runtime.body.utf8))
            #expect(Set(records.map(\.sessionId)) == Set(liveIds))

            // A message moves last-active; it reaches Redis with the next lease renewal (lease/3).
            let bob = try #require(records.first { $0.userId == "bob" })
            try await Task.sleep(for: .milliseconds(20))
            #expect(await clients[1].echoes("hello"))
            #expect(await TestSupport.eventually(timeout: .seconds(10)) {
                try await pool.registry.allSessions().first { $0.sessionId == bob.sessionId }!.lastActive > bob.lastActive
            })

            try await clients[0].close()
            await clients[0].waitUntilClosed()
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-rec": 2] })
            #expect(try await !pool.registry.allSessions().contains { $0.userId == "alice" })
        }
    }

    @Test("the connection over MAX_CONNECTIONS_PER_HOST is closed with 1013 and never recorded")
    func hardLimit() async throws {
        try await RedisPoolFixture.with { pool in
            let server = try await pool.startServer("ws-limit", maxConnections: 2)
            let admitted = try await [server.connect("u1"), server.connect("u2")]
            let refused = try await server.connect("u3")
            let close = try await within { await refused.closeFrame() }
            #expect(close?.code == 1013)
            #expect(close?.reason == "try again later")
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-limit": 2] })
            // Still 2 a flush later: the refused one was never written.
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await pool.sessionCounts() == ["ws-limit": 2])
            #expect(try await !pool.registry.allSessions().contains { $0.userId == "u3" })
            for client in admitted { #expect(await client.echoes("still here")) }
            let metrics = try await server.http("GET", "/metrics").body
            #expect(metrics.contains("wsscale_connections_refused_total 1"))
        }
    }

    @Test("a shed sent through the registry closes exactly the N most idle with 4001")
    func shedThroughRegistry() async throws {
        try await RedisPoolFixture.with { pool in
            let server = try await pool.startServer("ws-shed")
            var connected: [WebSocketTestClient] = []
            for user in ["u1", "u2", "u3", "u4", "u5"] { connected.append(try await server.connect(user)) }
            let clients = connected
            // All five admitted (the server admits each after its 101 is out, so two connects
            // in a row may be admitted in either order), then u4, u5 and u1 speak: the most
            // idle are u2 and u3, whatever their order of admission.
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-shed": 5] })
            for index in [3, 4, 0] { #expect(await clients[index].echoes("busy"), "u\(index + 1)") }

            #expect(try await pool.registry.shed(host: "ws-shed", count: 2) == .heard, "the server listens: it hears the order now")
            for index in [1, 2] {
                let close = try await within { await clients[index].closeFrame() }
                #expect(close?.code == 4001, "u\(index + 1)")
                #expect(close?.reason == "Server Rebalancing")
                // Redis no longer lists it when its close frame arrives: a client that reconnects
                // at once to another server is never counted on both.
                #expect(try await !pool.registry.allSessions().contains { $0.userId == "u\(index + 1)" },
                        "u\(index + 1) still in Redis when its close frame arrived")
            }
            #expect(try await pool.sessionCounts() == ["ws-shed": 3])
            #expect(Set(try await pool.registry.allSessions().map(\.userId)) == ["u1", "u4", "u5"])
            for index in [0, 3, 4] { #expect(await clients[index].echoes("kept"), "u\(index + 1)") }
        }
    }

    @Test("orders left while the server's subscription is cut wait for it: carried out once it is back, the later shed replacing the earlier")
    func ordersWaitForACutSubscription() async throws {
        try await RedisPoolFixture.with { pool in
            let server = try await pool.startServer("ws-cut")
            var connected: [WebSocketTestClient] = []
            for user in ["c1", "c2", "c3", "c4", "c5", "c6"] { connected.append(try await server.connect(user)) }
            let clients = connected
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-cut": 6] })
            for index in 2..<6 { #expect(await clients[index].echoes("busy"), "c\(index + 1)") }

            // One pipeline, so the server cannot subscribe again in between: every subscription
            // is cut, then two shed orders are left as the balancer leaves them (the second
            // replaces the first), with a drain; nobody hears the doorbells.
            let admin = try await pool.connection()
            let orders = [HostCommand.shed(count: 1), .drain, .shed(count: 2)].map {
                HostOrderMailbox.sendCommands($0, to: "ws-cut", schema: pool.schema)
            }
            let replies = try await admin.pipeline([["CLIENT", "KILL", "TYPE", "pubsub"]] + orders.flatMap { $0 })
            #expect(replies[0].integer.map { $0 >= 1 } == true, "the server's subscription was cut: \(replies[0])")
            #expect([3, 6, 9].map { replies[$0].integer } == [0, 0, 0], "nobody heard the doorbells: \(replies)")

            // Back: the drain and one shed of 2 (not 1 + 2), the two most idle.
            for index in [0, 1] {
                let close = try await within { await clients[index].closeFrame() }
                #expect(close?.code == 4001, "c\(index + 1)")
            }
            #expect(await TestSupport.eventually { try await server.http("GET", "/health").status == 503 }, "the drain was carried out")
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-cut": 4] })
            #expect(try await admin.send(["EXISTS", pool.schema.orders(of: "ws-cut")]).integer == 0, "the orders were taken: nothing is left to carry out")
            for index in 2..<6 { #expect(await clients[index].echoes("kept"), "c\(index + 1)") }
            #expect(try await pool.sessionCounts() == ["ws-cut": 4])
        }
    }

    @Test("an order for a host nobody listens for says it waits, and lapses after its lifetime")
    func orderForAbsentHostWaits() async throws {
        try await RedisPoolFixture.with { pool in
            #expect(try await pool.registry.shed(host: "ws-nobody", count: 3) == .waiting)
            let admin = try await pool.connection()
            let life = try await admin.send(["PTTL", pool.schema.orders(of: "ws-nobody")]).integer ?? -1
            #expect(life > 0 && life <= RedisKeySchema.orderLifetime.wholeMilliseconds, "it lapses: PTTL \(life) ms")
        }
    }

    @Test("setDraining makes /health answer 503 and marks the host; activate brings 200 back")
    func drainAndActivate() async throws {
        try await RedisPoolFixture.with { pool in
            let server = try await pool.startServer("ws-drain")
            let client = try await server.connect("stays")
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-drain": 1] })
            try await pool.registry.setDraining(host: "ws-drain", true)
            #expect(await TestSupport.eventually { try await server.http("GET", "/health").status == 503 })
            #expect(try await server.http("GET", "/health").body.contains("draining"))
            #expect(try await pool.registry.topology().map(\.recordOnly) == [HostSessions(host: "ws-drain", sessions: 1, draining: true)])
            #expect(await client.echoes("draining keeps sessions"))

            try await pool.registry.setDraining(host: "ws-drain", false)
            #expect(await TestSupport.eventually { try await server.http("GET", "/health").status == 200 })
            #expect(try await pool.registry.topology().map(\.recordOnly) == [HostSessions(host: "ws-drain", sessions: 1, draining: false)])
        }
    }

    @Test("FLUSHALL: every server writes its sessions and its draining flag back within a lease; no user is cut")
    func flushAllIsRepaired() async throws {
        try await RedisPoolFixture.with { pool in
            let a = try await pool.startServer("ws-fa")
            let b = try await pool.startServer("ws-fb")
            var clients: [WebSocketTestClient] = []
            for index in 0..<3 { clients.append(try await a.connect("a\(index)")) }
            for index in 0..<2 { clients.append(try await b.connect("b\(index)")) }
            try await pool.registry.setDraining(host: "ws-fb", true)
            let before = [HostSessions(host: "ws-fa", sessions: 3), HostSessions(host: "ws-fb", sessions: 2, draining: true)]
            #expect(await TestSupport.eventually { try await pool.registry.topology().map(\.recordOnly) == before })

            let redis = try await pool.connection()
            let clock = ContinuousClock()
            let flushedAt = clock.now
            _ = try await redis.send(["FLUSHALL"])
            await redis.close()
            let repaired = await TestSupport.eventually(timeout: .seconds(10)) {
                try await pool.registry.topology().map(\.recordOnly) == before
            }
            let after = try await pool.registry.topology()
            #expect(repaired, "topology after FLUSHALL: \(after)")
            let took = clock.now - flushedAt
            for client in clients { #expect(await client.echoes("still here")) }
            print("FLUSHALL: every session and the draining flag back in the registry after \(took) (lease 1 s)")
        }
    }

    @Test("CLIENT PAUSE WRITE for 3 s: users still connect and echo meanwhile; their sessions are registered once it ends")
    func pausedWritesDelayOnlyTheRegistry() async throws {
        try await RedisPoolFixture.with { pool in
            let server = try await pool.startServer("ws-pw", lease: 5)
            let first = try await server.connect("before")
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-pw": 1] })
            let redis = try await pool.connection()
            _ = try await redis.send(["CLIENT", "PAUSE", "3000", "WRITE"])
            let clock = ContinuousClock()
            let pausedAt = clock.now
            let during = try await server.connect("during")
            #expect(await during.echoes("served while Redis takes no writes"))
            #expect(await first.echoes("and so is the first"))
            let servedIn = clock.now - pausedAt
            #expect(await TestSupport.eventually(timeout: .seconds(20)) { try await pool.sessionCounts() == ["ws-pw": 2] })
            let registeredAfter = clock.now - pausedAt
            await redis.close()
            print("CLIENT PAUSE WRITE 3 s: a new user connected and echoed within \(servedIn); registered \(registeredAfter) after the pause began")
        }
    }

    @Test("SIGTERM closes every session with 1001, removes the host's records and exits 0")
    func sigtermCleansUp() async throws {
        try await RedisPoolFixture.with { pool in
            let server = try await pool.startServer("ws-term")
            let other = try await pool.startServer("ws-other")
            let clients = try await [server.connect("t1"), server.connect("t2")]
            _ = try await other.connect("o1")
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-term": 2, "ws-other": 1] })

            let started = ContinuousClock.now
            server.process.send(SIGTERM)
            for client in clients {
                let close = try await within { await client.closeFrame() }
                #expect(close?.code == 1001)
                #expect(close?.reason == "going away")
            }
            #expect(server.process.waitForExit(timeout: .seconds(5)))
            #expect(server.exitedCleanly, "wait status \(String(describing: server.process.exitStatus))")
            print("SIGTERM to exit: \(ContinuousClock.now - started)")
            // Removed at once, not by lease expiry.
            #expect(try await pool.sessionCounts() == ["ws-other": 1])
            let redis = try await pool.connection()
            defer { Task { await redis.close() } }
            #expect(try await redis.send(["EXISTS", pool.schema.sessions(of: "ws-term"), pool.schema.meta(of: "ws-term")]) == .integer(0))
            #expect(try await redis.send(["ZSCORE", pool.schema.hosts, "ws-term"]) == .null)
        }
    }

    @Test("kill -9 of a server: its sessions leave the topology within one lease and the registry reports .hostExpired")
    func killedServerExpires() async throws {
        try await RedisPoolFixture.with { pool in
            let doomed = try await pool.startServer("ws-doomed")
            let survivor = try await pool.startServer("ws-survivor")
            _ = try await [doomed.connect("d1"), doomed.connect("d2")]
            let kept = try await survivor.connect("s1")
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-doomed": 2, "ws-survivor": 1] })
            let events = pool.registry.events()
            let expired = Task { () -> Bool in
                for await event in events where event == .hostExpired("ws-doomed") { return true }
                return false
            }
            defer { expired.cancel() }

            doomed.process.kill()
            let killedAt = ContinuousClock.now
            // Lease 1 s, expiry checked every second: about 2 s at most on an idle machine. The
            // bound is loose (a busy 2-core CI machine); without expiry they would never leave.
            #expect(await TestSupport.eventually(timeout: .seconds(10)) { try await pool.sessionCounts() == ["ws-survivor": 1] })
            let leftAfter = ContinuousClock.now - killedAt
            #expect(try await within(.seconds(3)) { await expired.value })
            #expect(try await pool.registry.allSessions().map(\.userId) == ["s1"])
            #expect(await kept.echoes("unaffected"))
            print("killed server left the topology after \(leftAfter)")
        }
    }

    @Test("after a Redis restart the topology is complete again within seconds; clients stay connected")
    func redisRestart() async throws {
        try await RedisPoolFixture.with { pool in
            let first = try await pool.startServer("ws-r1")
            let second = try await pool.startServer("ws-r2")
            var clients: [WebSocketTestClient] = []
            for index in 1...3 { clients.append(try await first.connect("a\(index)")) }
            for index in 1...2 { clients.append(try await second.connect("b\(index)")) }
            let expected = ["ws-r1": 3, "ws-r2": 2]
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == expected })
            let before = Set(try await pool.registry.allSessions())

            try await pool.redis.restart()  // kill -9 and start again, empty, on the same port
            let restartedAt = ContinuousClock.now
            #expect(await TestSupport.eventually(timeout: .seconds(10)) { try await pool.sessionCounts() == expected })
            let completeAfter = ContinuousClock.now - restartedAt
            let after = try await pool.registry.allSessions()
            #expect(Set(after.map(\.sessionId)) == Set(before.map(\.sessionId)))
            #expect(Set(after.map(\.userId)) == Set(before.map(\.userId)))
            for (index, client) in clients.enumerated() { #expect(await client.echoes("after restart"), "client \(index)") }
            // Commands flow again (the server re-subscribed).
            try await pool.registry.shed(host: "ws-r2", count: 1)
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-r1": 3, "ws-r2": 1] })
            print("topology complete \(completeAfter) after the Redis restart")
        }
    }

    @Test("bad user ids get 400 with a reason before any upgrade, and nothing is recorded")
    func badUserIds() async throws {
        let cases = [
            ("user%20one", "may contain only"),
            ("x$y", "may contain only"),
            (String(repeating: "u", count: 129), "longer than 128"),
            ("", "user id is empty"),
            ("a/b", "may contain only"),
        ]
        try await RedisPoolFixture.with { pool in
            let server = try await pool.startServer("ws-bad")
            for (userId, reason) in cases {
                let response = try await server.http("GET", "/api/v1/websocket/\(userId)", headers: [
                    ("Connection", "Upgrade"), ("Upgrade", "websocket"),
                    ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ])
                #expect(response.status == 400, "\(userId)")
                #expect(response.body.contains(reason), "\(userId): \(response.body)")
            }
            // The longest valid id is accepted, and it is the only record.
            let longest = String(repeating: "u", count: 128)
            let accepted = try await server.connect(longest)
            #expect(accepted.serverHost == "ws-bad")
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-bad": 1] })
            #expect(try await pool.registry.allSessions().map(\.userId) == [longest])
        }
    }

    @Test("a burst of 300 connections reaches the balancer as a few coalesced change notifications")
    func burstIsCoalesced() async throws {
        try await RedisPoolFixture.with { pool in
            let server = try await pool.startServer("ws-burst", maxConnections: 400)
            let events = pool.registry.events()
            let changes = Task { () -> Int in
                var count = 0
                for await event in events where event == .hostChanged("ws-burst") { count += 1 }
                return count
            }
            let started = ContinuousClock.now
            let clients = try await withThrowingTaskGroup(of: [WebSocketTestClient].self) { group in
                for worker in 0..<10 {
                    group.addTask {
                        var opened: [WebSocketTestClient] = []
                        for index in 0..<30 { opened.append(try await server.connect("burst-\(worker)-\(index)")) }
                        return opened
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let openedIn = ContinuousClock.now - started
            #expect(clients.count == 300)
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-burst": 300] })
            try await Task.sleep(for: .milliseconds(300))  // let the last notification arrive
            changes.cancel()
            let notifications = await changes.value
            // At most one publish per 100 ms flush, debounced again by the registry.
            let bound = Int(openedIn / .milliseconds(100)) + 3
            #expect(notifications >= 1)
            #expect(notifications <= bound, "\(notifications) notifications for 300 opens in \(openedIn)")
            print("300 connections in \(openedIn) gave \(notifications) change notifications")
        }
    }

    @Test("GET /ws-session/all on one server lists the sessions of both servers")
    func allSessionsOverTwoServers() async throws {
        try await RedisPoolFixture.with { pool in
            let a = try await pool.startServer("ws-a")
            let b = try await pool.startServer("ws-b")
            _ = try await [a.connect("a1"), a.connect("a2"), b.connect("b1")]
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-a": 2, "ws-b": 1] })

            let response = try await a.http("GET", "/ws-session/all")
            #expect(response.status == 200)
            let listed = try JSONDecoder().decode([SessionRecord].self, from: Data(response.body.utf8))
            #expect(Set(listed.map { "\($0.hostId)/\($0.userId)" }) == ["ws-a/a1", "ws-a/a2", "ws-b/b1"])
            #expect(Set(listed) == Set(try await pool.registry.allSessions()))
        }
    }

    @Test("POST /ws-session/{otherHost}/drop on server A closes that session on server B with 4001, via Redis")
    func dropOnOtherHost() async throws {
        try await RedisPoolFixture.with { pool in
            let a = try await pool.startServer("ws-a")
            let b = try await pool.startServer("ws-b")
            let target = try await b.connect("target")
            let bystander = try await b.connect("bystander")
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-a": 0, "ws-b": 2] })
            let targetId = try #require(try await pool.registry.allSessions().first { $0.userId == "target" }).sessionId

            let response = try await a.http("POST", "/ws-session/ws-b/drop", body: #"{"sessionId": "\#(targetId)"}"#,
                                            headers: [("Content-Type", "application/json")])
            #expect(response.status == 202, "\(response.body)")
            #expect(response.body.contains(#""status":"delivered""#), "\(response.body)")
            // A host nobody runs: nothing got the drop, and the answer says so instead of 202.
            let nowhere = try await a.http("POST", "/ws-session/ws-gone/drop", headers: [("Content-Type", "application/json")])
            #expect(nowhere.status == 404, "\(nowhere.body)")
            let close = try await within { await target.closeFrame() }
            #expect(close?.code == 4001)
            #expect(close?.reason == "Server Rebalancing")
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-a": 0, "ws-b": 1] })
            #expect(try await pool.registry.allSessions().map(\.userId) == ["bystander"])
            #expect(await bystander.echoes("still connected"))
        }
    }

    @Test("POST /ws-session/{otherHost}/drop of a session that host does not hold answers 404 with the reason, as a local drop does")
    func dropOfASessionTheOtherHostDoesNotHold() async throws {
        try await RedisPoolFixture.with { pool in
            let a = try await pool.startServer("ws-a")
            let b = try await pool.startServer("ws-b")
            let onA = try await a.connect("on-a")
            let onB = try await b.connect("on-b")
            #expect(await TestSupport.eventually { try await pool.sessionCounts() == ["ws-a": 1, "ws-b": 1] })
            let sessionOnA = try #require(try await pool.registry.allSessions().first { $0.userId == "on-a" }).sessionId

            // A live host, and session ids it does not hold: one nobody holds, one another host holds.
            for sessionId in ["no-such-session", sessionOnA] {
                let remote = try await a.http("POST", "/ws-session/ws-b/drop", body: #"{"sessionId": "\#(sessionId)"}"#)
                #expect(remote.status == 404, "\(remote.body)")
                #expect(remote.body.contains("ws-b") && remote.body.contains(sessionId), "\(remote.body)")
            }
            let local = try await a.http("POST", "/ws-session/ws-a/drop", body: #"{"sessionId": "no-such-session"}"#)
            #expect(local.status == 404, "\(local.body)")
            #expect(await onA.echoes("still connected"))
            #expect(await onB.echoes("still connected"))
            #expect(try await pool.sessionCounts() == ["ws-a": 1, "ws-b": 1])
        }
    }
}
