import Foundation
@testable import WSScaleBackends
import WSScaleCore
import WSScaleTestSupport
import Testing

/// Servers' stores and the balancer's registry against a real redis-server (lease 5 s; 2 s where a test waits for an expiry).
@Suite struct RedisSessionRegistryTests {
    /// This machine's clock in ms since 1970, rounded as the registry's reads round it.
    static func millisecondsNow() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    @Test func recordsAppearInTopologyAndSessionsAndDisappearOnClose() async throws {
        try await RedisTestFixture.with { fixture in
            let (store, storeTask) = fixture.runningStore(host: "ws-a")
            let registry = fixture.runningRegistry()
            let records = (1...3).map { testSession("s\($0)", host: "ws-a") }
            records.forEach(store.sessionOpened)

            #expect(await TestSupport.eventually { try await registry.topology().map(\.recordOnly) == [HostSessions(host: "ws-a", sessions: 3)] })
            #expect(Set(try await registry.allSessions()) == Set(records))
            #expect(Set(try await store.allSessions()) == Set(records))

            store.sessionTouched(sessionId: "s1", at: records[0].lastActive + 5_000)
            store.sessionClosed(sessionId: "s2")
            #expect(await TestSupport.eventually { try await registry.topology().map(\.recordOnly) == [HostSessions(host: "ws-a", sessions: 2)] })
            // Last-active goes out lazily, with the next lease renewal (every lease/3).
            #expect(await TestSupport.eventually {
                try await registry.allSessions().first { $0.sessionId == "s1" }?.lastActive == records[0].lastActive + 5_000
            })

            // Graceful shutdown removes the host and its records at once.
            storeTask.cancel()
            _ = await storeTask.result
            #expect(try await registry.topology().isEmpty)
            #expect(try await registry.allSessions().isEmpty)
            let redis = try await fixture.connection()
            #expect(try await redis.send(["EXISTS", "wsscale:host:ws-a:sessions", "wsscale:host:ws-a:meta"]) == .integer(0))
            await redis.close()
        }
    }

    @Test func crashedHostLeavesTheTopologyWithinOneLease() async throws {
        try await RedisTestFixture.with { fixture in
            let registry = fixture.runningRegistry()
            let events = StreamRecorder(registry.events())
            let (survivor, _) = fixture.runningStore(host: "ws-alive")
            let (crashing, crashingTask) = fixture.runningStore(host: "ws-dead", lease: .seconds(2))
            survivor.sessionOpened(testSession("a1", host: "ws-alive"))
            crashing.sessionOpened(testSession("d1", host: "ws-dead"))
            crashing.sessionOpened(testSession("d2", host: "ws-dead"))
            #expect(await TestSupport.eventually { try await registry.topology().count == 2 })

            // Like kill -9: renewals stop, nothing is cleaned up.
            crashing.leaveRecordsOnExit()
            crashingTask.cancel()
            _ = await crashingTask.result
            // Only what the registry reports from here on counts: on a starved machine the 2 s
            // lease may already have run out once before the crash (the host then wrote itself
            // again), and that earlier report says nothing about this expiry.
            let eventsBeforeCrash = events.received.count
            let crashedAt = ContinuousClock.now
            // The lease is the dead host's score in P:hosts (its expiry, ms since 1970), and the
            // topology lists a host while the reader's clock has not passed it. Both sides are
            // checked against that expiry, not against a wall-clock guess: a loaded machine
            // may reach the expiry before the first read, and never lets a read see it late.
            let redis = try await fixture.connection()
            // No score at all: on a starved machine the registry may expire the host between the
            // crash and this read. It then left already; the end state below must still hold.
            if case .bulkString(let scoreText)? = try? await redis.send(["ZSCORE", "wsscale:hosts", "ws-dead"]),
               let expiry = Int64(scoreText) ?? Double(scoreText).map({ Int64($0) }) {
                let listed = try await registry.topology().contains { $0.host == "ws-dead" }
                let answeredAt = Self.millisecondsNow()
                #expect(listed || answeredAt >= expiry, "records stay until the lease runs out (expiry \(expiry), answered at \(answeredAt))")

                // Once the clock is past the expiry, no read lists it: it left within one lease.
                let wait = expiry + 1 - Self.millisecondsNow()
                if wait > 0 { try await Task.sleep(for: .milliseconds(wait)) }
            }
            #expect(try await registry.topology().map(\.recordOnly) == [HostSessions(host: "ws-alive", sessions: 1)])
            let leftTopologyAfter = ContinuousClock.now - crashedAt
            #expect(try await registry.allSessions().map(\.sessionId) == ["a1"])

            #expect(await TestSupport.eventually(timeout: .seconds(10)) {
                events.received.dropFirst(eventsBeforeCrash).contains(.hostExpired("ws-dead"))
            })
            #expect(!events.received.contains(.hostExpired("ws-alive")))
            #expect(try await redis.send(["ZSCORE", "wsscale:hosts", "ws-dead"]) == .null)
            #expect(try await redis.send(["EXISTS", "wsscale:host:ws-dead:sessions", "wsscale:host:ws-dead:meta"]) == .integer(0))
            await redis.close()
            print("crashed host left the topology after \(leftTopologyAfter)")
        }
    }

    @Test func redisRestartIsFollowedByACompleteTopology() async throws {
        try await RedisTestFixture.with { fixture in
            let (store, _) = fixture.runningStore(host: "ws-r")
            let registry = fixture.runningRegistry()
            let events = StreamRecorder(registry.events())
            (1...50).forEach { store.sessionOpened(testSession("s\($0)", host: "ws-r")) }
            #expect(await TestSupport.eventually { try await registry.topology().map(\.recordOnly) == [HostSessions(host: "ws-r", sessions: 50)] })

            await fixture.redis.kill()
            // Redis is away: the server keeps going, nothing blocks.
            let calls = ContinuousClock.now
            (51...60).forEach { store.sessionOpened(testSession("s\($0)", host: "ws-r")) }
            store.sessionClosed(sessionId: "s1")
            #expect(ContinuousClock.now - calls < .seconds(1), "the calls queued; they did not wait for Redis")
            try await Task.sleep(for: .milliseconds(300))

            try await fixture.redis.restart()
            let restartedAt = ContinuousClock.now
            #expect(await TestSupport.eventually(timeout: .seconds(10)) {
                try await registry.topology().map(\.recordOnly) == [HostSessions(host: "ws-r", sessions: 59)]
            })
            let completeAfter = ContinuousClock.now - restartedAt
            #expect(Set(try await registry.allSessions().map(\.sessionId)) == Set((2...60).map { "s\($0)" }))
            #expect(await TestSupport.eventually(timeout: .seconds(10)) { events.received.contains(.resynchronized) })
            print("topology complete \(completeAfter) after the Redis restart")
        }
    }

    @Test func shedDrainAndDropReachTheHost() async throws {
        try await RedisTestFixture.with { fixture in
            let (store, _) = fixture.runningStore(host: "ws-c")
            let (other, _) = fixture.runningStore(host: "ws-o")
            let registry = fixture.runningRegistry()
            let commands = StreamRecorder(store.commands())
            let otherCommands = StreamRecorder(other.commands())
            #expect(await TestSupport.eventually { try await registry.topology().count == 2 })

            try await registry.shed(host: "ws-c", count: 3)
            try await registry.setDraining(host: "ws-c", true)
            // One at a time they arrive in the order sent; taken from the mailbox together, the
            // state comes first, then the shed (HostOrderMailbox): either order is right.
            #expect(await TestSupport.eventually {
                let received = commands.received
                return received.count == 2 && received.contains(.shed(count: 3)) && received.contains(.drain)
            })
            #expect(try await registry.topology().first { $0.host == "ws-c" }?.draining == true)

            try await registry.setDraining(host: "ws-c", false)
            try await other.send(.drop(sessionId: "sess-9"), to: "ws-c")
            #expect(await TestSupport.eventually {
                let received = commands.received
                // The drop is a peer's publish, heard at once; the activate is taken from the mailbox.
                return received.count == 4 && received.suffix(2).contains(.activate) && received.suffix(2).contains(.drop(sessionId: "sess-9"))
            })
            #expect(try await registry.topology().first { $0.host == "ws-c" }?.draining == false)
            #expect(otherCommands.received.isEmpty, "commands go to their host only")
        }
    }

    @Test func drainingFlagSurvivesARedisRestart() async throws {
        try await RedisTestFixture.with { fixture in
            let (store, _) = fixture.runningStore(host: "ws-d")
            let registry = fixture.runningRegistry()
            let commands = StreamRecorder(store.commands())
            #expect(await TestSupport.eventually { try await registry.topology().count == 1 })
            try await registry.setDraining(host: "ws-d", true)
            #expect(await TestSupport.eventually { commands.received == [.drain] })
            try await fixture.redis.restart()
            #expect(await TestSupport.eventually { try await registry.topology().map(\.recordOnly) == [HostSessions(host: "ws-d", sessions: 0, draining: true)] })
        }
    }

    @Test func aThousandOpensInOneSecondAreAFewNotifications() async throws {
        try await RedisTestFixture.with { fixture in
            let (store, _) = fixture.runningStore(host: "ws-burst")
            let registry = fixture.runningRegistry()
            #expect(await TestSupport.eventually { try await registry.topology().count == 1 })
            try await Task.sleep(for: .milliseconds(200))    // the start-up notification is out of the way
            let raw = try await RedisSubscriber.connect(to: fixture.url, eventLoopGroup: fixture.group, logger: fixture.logger)
            try await raw.subscribe(["wsscale:events"])
            let published = StreamRecorder(raw.messages)
            let events = StreamRecorder(registry.events())

            for batch in 0..<20 {      // 1,000 opens spread over one second
                for index in 0..<50 { store.sessionOpened(testSession("b\(batch)-\(index)", host: "ws-burst")) }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(await TestSupport.eventually { try await registry.topology().map(\.recordOnly) == [HostSessions(host: "ws-burst", sessions: 1_000)] })
            try await Task.sleep(for: .milliseconds(200))
            let notifications = published.received.count
            let changes = events.received.filter { $0 == .hostChanged("ws-burst") }.count
            #expect(notifications >= 1 && notifications <= 15, "\(notifications) publishes for 1,000 opens")
            #expect(changes >= 1 && changes <= notifications, "\(changes) registry events for 1,000 opens")
            print("1,000 opens in 1 s: \(notifications) publishes on P:events, \(changes) hostChanged events")
            await raw.close()
        }
    }

    @Test func twoPoolsShareOneRedisWithoutSeeingEachOther() async throws {
        try await RedisTestFixture.with { fixture in
            let (storeA, _) = fixture.runningStore(host: "ws-1", prefix: "poolA")
            let (storeB, _) = fixture.runningStore(host: "ws-1", prefix: "poolB")
            let registryA = fixture.runningRegistry(prefix: "poolA")
            let registryB = fixture.runningRegistry(prefix: "poolB")
            let commandsB = StreamRecorder(storeB.commands())
            storeA.sessionOpened(testSession("a1", host: "ws-1"))
            storeA.sessionOpened(testSession("a2", host: "ws-1"))
            storeB.sessionOpened(testSession("b1", host: "ws-1"))

            #expect(await TestSupport.eventually { try await registryA.topology().map(\.recordOnly) == [HostSessions(host: "ws-1", sessions: 2)] })
            #expect(await TestSupport.eventually { try await registryB.topology().map(\.recordOnly) == [HostSessions(host: "ws-1", sessions: 1)] })
            #expect(Set(try await registryA.allSessions().map(\.sessionId)) == ["a1", "a2"])
            #expect(try await registryB.allSessions().map(\.sessionId) == ["b1"])

            let commandsA = StreamRecorder(storeA.commands())
            // A command published before a store's subscription is confirmed is lost (pub/sub):
            // wait until Redis counts one subscriber on each pool's channel.
            let redis = try await fixture.connection()
            #expect(await TestSupport.eventually {
                try await redis.send(["PUBSUB", "NUMSUB", "poolA:cmd:ws-1", "poolB:cmd:ws-1"])
                    == .array([.bulkString("poolA:cmd:ws-1"), .integer(1), .bulkString("poolB:cmd:ws-1"), .integer(1)])
            })
            await redis.close()
            try await registryA.shed(host: "ws-1", count: 1)
            try await registryB.shed(host: "ws-1", count: 2)
            #expect(await TestSupport.eventually { commandsA.received == [.shed(count: 1)] })
            // Pub/sub keeps order: had B's store heard pool A's channel, "shed 1" would have come first.
            #expect(await TestSupport.eventually { commandsB.received == [.shed(count: 2)] })
            #expect(commandsA.received == [.shed(count: 1)])
        }
    }

    /// Another host may ask for a drop on a host's drop channel (all a server's Redis user may
    /// publish for another host), but never drain, activate or shed more than one there.
    @Test func theDropChannelCarriesOnlyDrops() async throws {
        try await RedisTestFixture.with { fixture in
            let (store, _) = fixture.runningStore(host: "ws-d")
            let (peer, _) = fixture.runningStore(host: "ws-e")
            let commands = StreamRecorder(store.commands())
            let redis = try await fixture.connection()
            #expect(await TestSupport.eventually {
                try await redis.send(["PUBSUB", "NUMSUB", "wsscale:drop:ws-d"]) == .array([.bulkString("wsscale:drop:ws-d"), .integer(1)])
            })
            // What the peer's own API refuses to send, an attacker with a server's user could
            // publish by hand: the host ignores it.
            for forged in ["drain", "activate", "shed 50"] {
                try await redis.send(["PUBLISH", "wsscale:drop:ws-d", forged])
            }
            await #expect(throws: RedisError.self) { try await peer.send(.drain, to: "ws-d") }
            try await peer.send(.drop(sessionId: "s-9"), to: "ws-d")
            try await peer.send(.shed(count: 1), to: "ws-d")
            await redis.close()
            // Pub/sub keeps order: a forged command taken would have come first.
            #expect(await TestSupport.eventually { commands.received.count == 2 })
            #expect(commands.received == [.drop(sessionId: "s-9"), .shed(count: 1)])
        }
    }

    /// Redis stopped or paused past the lease expires a host's records by their TTL while the
    /// host stays listed (its next renewal finds it): the host writes them back.
    @Test func aHostWhoseRecordsExpiredWritesThemBack() async throws {
        try await RedisTestFixture.with { fixture in
            let (store, _) = fixture.runningStore(host: "ws-x")
            let registry = fixture.runningRegistry()
            (1...4).forEach { store.sessionOpened(testSession("x\($0)", host: "ws-x")) }
            #expect(await TestSupport.eventually { try await registry.topology().map(\.recordOnly) == [HostSessions(host: "ws-x", sessions: 4)] })
            let redis = try await fixture.connection()
            try await redis.send(["DEL", "wsscale:host:ws-x:sessions", "wsscale:host:ws-x:meta"])
            #expect(try await redis.send(["ZSCORE", "wsscale:hosts", "ws-x"]) != .null, "the host is still listed")
            await redis.close()
            #expect(await TestSupport.eventually { try await registry.topology().map(\.recordOnly) == [HostSessions(host: "ws-x", sessions: 4)] },
                    "the records are written back at the next renewal")
        }
    }

    @Test func aHostRemovedBehindItsBackWritesItselfBack() async throws {
        try await RedisTestFixture.with { fixture in
            let (store, _) = fixture.runningStore(host: "ws-p")
            let registry = fixture.runningRegistry()
            (1...5).forEach { store.sessionOpened(testSession("p\($0)", host: "ws-p")) }
            #expect(await TestSupport.eventually { try await registry.topology().map(\.recordOnly) == [HostSessions(host: "ws-p", sessions: 5)] })
            // As the registry does when a lease expired during a long pause of the server.
            let redis = try await fixture.connection()
            // The replies prove both were there and are gone (a topology read here would race
            // the next renewal, which may already have written them back).
            let removed = try await redis.pipeline([["ZREM", "wsscale:hosts", "ws-p"], ["DEL", "wsscale:host:ws-p:sessions"]])
            await redis.close()
            #expect(removed == [.integer(1), .integer(1)])
            #expect(await TestSupport.eventually(timeout: .seconds(10)) {
                try await registry.topology().map(\.recordOnly) == [HostSessions(host: "ws-p", sessions: 5)]
            }, "the next renewal (lease/3) sees ZADD add the host again and rewrites the sessions")
        }
    }

    @Test func tenThousandOpensReachTheRegistryInPipelines() async throws {
        try await RedisTestFixture.with { fixture in
            let (store, _) = fixture.runningStore(host: "ws-big", lease: .seconds(3))
            let registry = fixture.runningRegistry()
            #expect(await TestSupport.eventually { try await registry.topology().count == 1 })
            let start = ContinuousClock.now
            for index in 0..<10_000 { store.sessionOpened(testSession("big-\(index)", host: "ws-big")) }
            let enqueueTime = ContinuousClock.now - start
            #expect(await TestSupport.eventually(timeout: .seconds(10)) {
                try await registry.topology().map(\.recordOnly) == [HostSessions(host: "ws-big", sessions: 10_000)]
            })
            let visibleAfter = ContinuousClock.now - start
            let listed = try await registry.allSessions()
            #expect(listed.count == 10_000)
            print("10,000 opens: enqueued in \(enqueueTime), all in the registry after \(visibleAfter)")
        }
    }
}
