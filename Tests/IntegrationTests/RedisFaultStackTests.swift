#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOPosix
import Testing
import WSScaleBackends
import WSScaleTestSupport

/// Faults of the registry on a real `wsscale up` (redis-server, HAProxy, the balancer and
/// `wsscale server` processes), where the partial-stack versions in
/// `RedisServerIntegrationTests` have no balancer to be misled: `FLUSHALL`, `CLIENT PAUSE
/// WRITE`, a server's subscriber cut while the balancer sheds from it, and one user id opened
/// 1,000 times through HAProxy. Each case prints the time until detection and until recovery.
///
/// The faults need commands no wsscale user may run (`FLUSHALL`, `CLIENT`): the test makes a
/// Redis user of its own for them through the balancer's user, which holds `ACL SETUSER` (it
/// is the control plane's administrator; see `RedisACL`).
extension RealStackTests {
@Suite("faults: Redis under the whole stack")
struct RedisFaultStackTests {
    /// A connection to the stack's redis-server as a user the test makes for itself, allowed
    /// every command; and the balancer's ACL (for the servers' users).
    struct Operator {
        var connection: RedisConnection
        var acl: RedisACL

        static func open(_ stack: UpStack) async throws -> Operator {
            let text = try String(contentsOfFile: stack.stateDirectory + "/redis/users.acl", encoding: .utf8)
            let acl = try #require(RedisACL.parse(text, keyPrefix: "wsscale"))
            let group = MultiThreadedEventLoopGroup.singleton
            let logger = Logger(label: "fault-operator")
            let balancer = try await RedisConnection.connect(to: acl.balancerURL(host: "127.0.0.1", port: stack.ports.redis),
                                                             eventLoopGroup: group, logger: logger)
            let password = String((0..<32).map { _ in "0123456789abcdef".randomElement()! })
            _ = try await balancer.send(["ACL", "SETUSER", "wsscale-fault-operator", "reset", "on", ">\(password)",
                                         "~*", "&*", "+@all"])
            await balancer.close()
            let connection = try await RedisConnection.connect(
                to: RedisURL(host: "127.0.0.1", port: stack.ports.redis, username: "wsscale-fault-operator", password: password),
                eventLoopGroup: group, logger: logger)
            return Operator(connection: connection, acl: acl)
        }

        /// Sessions per host as the registry holds them now (`HLEN` of each host's hash).
        func sessions(of ids: [String]) async throws -> [String: Int] {
            let schema = RedisKeySchema()
            var counts: [String: Int] = [:]
            for id in ids { counts[id] = Int(try await connection.send(["HLEN", schema.sessions(of: id)]).integer ?? -1) }
            return counts
        }
    }

    /// Wall-clock milliseconds, as the balancer's `observedAt`.
    static var nowMilliseconds: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Waits until the balancer has read the pool whole after `milliseconds` (wall clock).
    static func readingAfter(_ milliseconds: Int64, _ stack: UpStack) async throws -> TopologySnapshot {
        var seen: TopologySnapshot?
        try await TestSupport.waitUntil("a reading of the pool after \(milliseconds)", timeout: .seconds(10), {
            let topology = try await stack.api.topology()
            seen = topology
            return (topology.observedAt ?? 0) > milliseconds
        }, describe: { stack.logTail(lines: 10) })
        return try #require(seen)
    }

    /// Actions of `decisions` that change the pool or move users.
    static func poolChanges(_ decisions: [TopologySnapshot.DecisionEntry]) -> [String] {
        decisions.flatMap(\.actions).filter { action in
            ["launch", "shed", "drain", "remove", "activate"].contains { action.hasPrefix($0) }
        }
    }

    /// The records `GET /ws-session/all` of the server at `port` lists, as (host, user) pairs.
    static func listedSessions(_ stack: UpStack, port: Int) async throws -> [(host: String, user: String)] {
        let token = try #require(stack.api.adminToken)
        let response = try await RawHTTPClient.request("GET", "/ws-session/all", port: port,
                                                       headers: [("Authorization", "Bearer \(token)")])
        guard response.status == 200 else { throw StackAPIError("/ws-session/all answered \(response.status)") }
        let records = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [[String: Any]] ?? []
        return records.map { (($0["hostId"] as? String) ?? "", ($0["userId"] as? String) ?? "") }
    }

    @Test("one stack: one user id opened 1,000 times through HAProxy grows nothing; FLUSHALL is repaired with nobody moved; CLIENT PAUSE WRITE delays only the registry")
    func registryFaultsOnOneStack() async throws {
        try await UpStack.with(["SCALE_IN_STABILIZATION_SECONDS": "120"]) { stack in
            try await oneUserIdAThousandTimes(stack)
            let users = try await StackSupervisionTests.connectUsers(stack, "flush", 20)
            let redis = try await Operator.open(stack)
            defer { Task { await redis.connection.close() } }
            try await flushAll(stack, redis, users)
            try await clientPauseWrite(stack, redis, users)
        }
    }

    /// 1,000 sessions of one user id, one after the other through HAProxy's traffic port: each
    /// replaces the one before (4002); the pool stays at `MIN_INSTANCES`, no launch is decided,
    /// and the registry lists at most one session of the id per server.
    func oneUserIdAThousandTimes(_ stack: UpStack) async throws {
        let clock = ContinuousClock()
        try await TestSupport.waitUntil("the pool at MIN_INSTANCES (1), in rotation", timeout: .seconds(20), {
            let topology = try await stack.api.topology()
            return topology.instances.count == 1 && topology.active.allSatisfy { $0.proxyState == "ready" }
        }, describe: { await stack.scenario.describeState() })
        let before = try await stack.api.topology()
        let server = try #require(before.active.first?.endpoint?.port)
        let port = stack.ports.lb
        let started = clock.now
        // A replaced session gets its 4002 once the server has written its removal to Redis
        // (up to a flush interval later): waiting for each would make this a test of the flush.
        // The next one opens at once, and at most `outstanding` replaced ones are left unread,
        // so HAProxy never holds more than 6 connections to the server (60 % of its limit of 10,
        // under the scale-out threshold: what grows the pool here is the user id, nothing else).
        let outstanding = 5
        let (replaced, newest) = try await RawWebSocket.offThread { () throws -> (Int, RawWebSocket) in
            var replaced = 0
            var waiting: [RawWebSocket] = []
            var newest = try RawWebSocket.connect(port: port, path: "/api/v1/websocket/mallory")
            guard try newest.echoes("hello") else { throw StackAPIError("the first session did not echo") }
            for _ in 1..<1000 {
                if waiting.count == outstanding {
                    if try waiting.removeFirst().closeCode() == 4002 { replaced += 1 }
                }
                waiting.append(newest)
                newest = try RawWebSocket.connect(port: port, path: "/api/v1/websocket/mallory")
                // Its echo: the server admitted it (after its 101) before the next one comes,
                // so the newest socket is the newest session.
                guard try newest.echoes("hello") else { throw StackAPIError("a new session did not echo") }
            }
            for socket in waiting where try socket.closeCode() == 4002 { replaced += 1 }
            return (replaced, newest)
        }
        let opened = clock.now - started
        let endedMs = Self.nowMilliseconds
        #expect(try await RawWebSocket.offThread { try newest.echoes("the newest one works") })
        let registered = try await TestSupport.waitUntil("the registry lists mallory once", timeout: .seconds(10), {
            let listed = try await Self.listedSessions(stack, port: server).filter { $0.user == "mallory" }
            return listed.count == 1
        }, describe: { await stack.scenario.describeState() })
        // The balancer has read the pool since: a launch for the 1,000 would be decided by now.
        let after = try await Self.readingAfter(endedMs + 1500, stack)
        let listed = try await Self.listedSessions(stack, port: server).filter { $0.user == "mallory" }
        let perServer = Dictionary(grouping: listed, by: { $0.host }).mapValues(\.count)
        print("1,000 sessions of one user id through HAProxy: opened in \(opened), \(replaced) replaced with 4002; "
              + "registry lists \(listed.count) (\(perServer)) \(registered) after the last; pool \(before.instances.count) → \(after.instances.count) servers")
        #expect(replaced == 999)
        #expect(perServer.values.allSatisfy { $0 <= 1 }, "at most one session of the id per server: \(perServer)")
        #expect(after.instances.count == 1, "the pool did not grow: \(after.instances.map(\.id))")
        let changes = Self.poolChanges(after.decisions(after: before.lastDecisionSequence))
        #expect(changes.isEmpty, "no launch (or any change) for one user id: \(changes)")
    }

    /// `FLUSHALL` under 20 users on 3 servers: everyone stays connected, every server writes
    /// its sessions back within a lease, and the balancer neither launches, drains nor sheds
    /// because of the empty (then partial) registry.
    func flushAll(_ stack: UpStack, _ redis: Operator, _ users: [String]) async throws {
        let before = try await stack.api.topology()
        let ids = before.instances.map(\.id)
        let reconnectsBefore = try await stack.api.clientStatus().totals.reconnects
        let clock = ContinuousClock()
        let flushedAt = clock.now
        _ = try await redis.connection.send(["FLUSHALL"])
        let flushedMs = Self.nowMilliseconds
        // Detection: a reading of the balancer's after the wipe that is short of sessions (it may
        // read only after the servers wrote them back: then there is none to see).
        var wipeSeen: Duration?
        let repaired = try await TestSupport.waitUntil("every session back in Redis", timeout: .seconds(10), {
            if wipeSeen == nil, let topology = try? await stack.api.topology(), (topology.observedAt ?? 0) > flushedMs,
               topology.totalSessions < users.count {
                wipeSeen = clock.now - flushedAt
            }
            return try await redis.sessions(of: ids).values.reduce(0, +) == users.count
        }, describe: { "\((try? await redis.sessions(of: ids)) ?? [:])" })
        let repairedMs = Self.nowMilliseconds
        let inTopology = try await TestSupport.waitUntil("the balancer reads all \(users.count) sessions again", timeout: .seconds(10), {
            let topology = try await stack.api.topology()
            return (topology.observedAt ?? 0) > repairedMs && topology.totalSessions == users.count
                && Set(topology.instances.map(\.id)) == Set(ids)
        }, describe: { await stack.scenario.describeState() })
        // Past the rebalance cooldown on the repaired registry: a move for the wipe is decided by now.
        let after = try await Self.readingAfter(repairedMs + 1500, stack)
        let client = try await stack.api.clientStatus()
        let changes = Self.poolChanges(after.decisions(after: before.lastDecisionSequence))
        print("fault FLUSHALL: the balancer saw the wipe \(wipeSeen.map { "after \($0)" } ?? "never (repaired before its next reading)"); "
              + "every session back in Redis after \(repaired), in the balancer's topology \(repaired + inTopology) after the flush; "
              + "reconnects \(reconnectsBefore) → \(client.totals.reconnects), pool changes \(changes)")
        #expect(client.allConnected(users), "nobody was cut")
        let state = await stack.scenario.describeState()
        #expect(client.totals.reconnects == reconnectsBefore, "nobody was moved: \(state)")
        #expect(changes.isEmpty, "no launch, drain or shed for the wipe: \(changes)")
        #expect(after.instances.map(\.id) == ids && after.totalSessions == users.count)
    }

    /// `CLIENT PAUSE 3000 WRITE`: a user connects through HAProxy and echoes while Redis takes
    /// no writes, as do two users of the client simulator; all are registered after it.
    func clientPauseWrite(_ stack: UpStack, _ redis: Operator, _ users: [String]) async throws {
        let newcomers = StackScenario.users("paused", 2)
        let clock = ContinuousClock()
        _ = try await redis.connection.send(["CLIENT", "PAUSE", "3000", "WRITE"])
        let pausedAt = clock.now
        let port = stack.ports.lb
        let raw = try await RawWebSocket.offThread { () throws -> (RawWebSocket, Bool) in
            let socket = try RawWebSocket.connect(port: port, path: "/api/v1/websocket/paused-raw")
            return (socket, try socket.echoes("served while Redis takes no writes"))
        }
        let echoedIn = clock.now - pausedAt
        try await stack.api.connect(newcomers)
        try await TestSupport.waitUntil("2 new users of the simulator connected", timeout: .seconds(10), {
            try await stack.api.clientStatus().allConnected(newcomers)
        }, describe: { await stack.scenario.describeState() })
        let connectedIn = clock.now - pausedAt
        #expect(raw.1, "the new user's echo came back")
        #expect(connectedIn < .seconds(3), "served during the pause, not after it: \(connectedIn)")
        let total = users.count + newcomers.count + 1
        let pauseEndMs = Self.nowMilliseconds + Int64(((.seconds(3) - (clock.now - pausedAt)) / .milliseconds(1)).rounded(.up))
        try await TestSupport.waitUntil("all \(total) sessions registered after the pause", timeout: .seconds(20), {
            let topology = try await stack.api.topology()
            return (topology.observedAt ?? 0) > pauseEndMs && topology.totalSessions == total
        }, describe: { await stack.scenario.describeState() })
        let registeredAfter = clock.now - pausedAt
        // The newcomers can tip the pool over the rebalance tolerance, and a user shed for it
        // (4001) is reconnecting for a moment: that is the balancer's work, not the pause's.
        // Nobody may have been cut any other way.
        try await TestSupport.waitUntil("every user connected", timeout: .seconds(10), {
            try await stack.api.clientStatus().allConnected(users + newcomers)
        }, describe: { await stack.scenario.describeState() })
        let cut = try await stack.api.clientStatus().users.filter { ($0.lastCloseCode ?? 4001) != 4001 }
        #expect(cut.isEmpty, "cut during the pause: \(cut.map { "\($0.userId) \($0.lastCloseCode ?? 0)" })")
        #expect(try await RawWebSocket.offThread { try raw.0.echoes("still here") })
        print("fault CLIENT PAUSE 3000 WRITE: a user connected through HAProxy and echoed after \(echoedIn), 2 simulator users connected after "
              + "\(connectedIn); all \(total) sessions registered \(registeredAfter) after the pause began")
    }

    @Test("a server's subscriber cut while the balancer sheds from it: the order waits in its mailbox and is carried out once it subscribes again")
    func shedWhileTheSubscriberIsCut() async throws {
        // A long lease: a server that cannot subscribe does not renew it (its writes run with
        // its subscription), and its records must outlast the cut.
        try await UpStack.with(["SCALE_IN_STABILIZATION_SECONDS": "120", "LEASE_SECONDS": "20"]) { stack in
            let users = try await StackSupervisionTests.connectUsers(stack, "cut", 20)
            let redis = try await Operator.open(stack)
            defer { Task { await redis.connection.close() } }
            let before = try await stack.api.topology()
            let heavy = try #require(before.active.max { $0.sessions < $1.sessions })
            let schema = RedisKeySchema()
            let user = RedisServerUser(id: heavy.id, acl: redis.acl)
            let client = try await stack.api.clientStatus()
            let onHeavy = users.filter { client.user($0)?.host == heavy.id }
            let elsewhere = users.filter { client.user($0)?.host != heavy.id }

            // The cut: the server's user loses its order channel (Redis closes its subscription,
            // and each new SUBSCRIBE is refused), and every subscription of it is killed.
            let clock = ContinuousClock()
            let cutAt = clock.now
            _ = try await redis.connection.send(user.setUserCommand.filter { $0 != "&" + schema.commands(for: heavy.id) })
            let killed = try await redis.connection.send(["CLIENT", "KILL", "TYPE", "pubsub", "USER", user.name]).integer ?? 0
            let listeners = try await redis.connection.send(["PUBSUB", "NUMSUB", schema.commands(for: heavy.id)]).array?.last?.integer
            #expect(listeners == 0, "nobody hears \(heavy.id)'s doorbell")

            // Every user elsewhere leaves: the heavy server is far above the average, and the
            // balancer sheds from it.
            try await stack.api.disconnect(elsewhere)
            var order = ""
            let orderLeft = try await TestSupport.waitUntil("a shed from \(heavy.id) left waiting", timeout: .seconds(10), {
                let decisions = try await stack.api.topology().decisions(after: before.lastDecisionSequence)
                order = decisions.flatMap(\.actions).first { $0.hasPrefix("shed") && $0.contains(heavy.id) && $0.contains("(waiting") } ?? ""
                return !order.isEmpty
            }, describe: { await stack.scenario.describeState() })
            #expect(try await redis.connection.send(["EXISTS", schema.orders(of: heavy.id)]).integer == 1, "the order waits in the mailbox")

            // Back: the server subscribes again, takes its mailbox and sheds.
            _ = try await redis.connection.send(user.setUserCommand)
            let restoredAt = clock.now
            let carriedOut = try await TestSupport.waitUntil("the shed carried out by \(heavy.id)", timeout: .seconds(10), {
                let status = try await stack.api.clientStatus()
                let moved = onHeavy.filter { status.user($0).map { $0.host != heavy.id && $0.state == "connected" } ?? false }
                return !moved.isEmpty
            }, describe: { await stack.scenario.describeState() })
            try await TestSupport.waitUntil("the mailbox emptied", timeout: .seconds(5), {
                try await redis.connection.send(["EXISTS", schema.orders(of: heavy.id)]).integer == 0
            })
            try await stack.scenario.waitUntilConnected(onHeavy, timeout: .seconds(10))
            let status = try await stack.api.clientStatus()
            let moved = onHeavy.filter { status.user($0)?.host != heavy.id }
            print("fault subscriber cut (\(killed) subscription killed, channel refused): a shed from \(heavy.id) left waiting "
                  + "\(orderLeft) after the cut (\(order)); once it may subscribe again the order was carried out in \(carriedOut) "
                  + "(cut for \(restoredAt - cutAt)); \(moved.count) of its \(onHeavy.count) users moved, all connected")
            #expect(!moved.isEmpty)
            #expect(try await redis.connection.send(["PUBSUB", "NUMSUB", schema.commands(for: heavy.id)]).array?.last?.integer == 1,
                    "it hears its doorbell again")
        }
    }
}
}
