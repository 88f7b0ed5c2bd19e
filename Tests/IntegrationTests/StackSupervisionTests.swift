#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import WSScaleTestSupport

/// `wsscale up` keeps its redis-server and HAProxy alive: each is killed with SIGKILL while
/// users are connected, and must come back (new pid in its pid file) with the stack working
/// again within seconds.
extension RealStackTests {
@Suite("supervision of redis-server and HAProxy")
struct StackSupervisionTests {
    /// Wall-clock milliseconds, as the balancer's `observedAt`.
    static var nowMilliseconds: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Connects `count` users and waits until they are settled; returns them.
    static func connectUsers(_ stack: UpStack, _ prefix: String, _ count: Int) async throws -> [String] {
        let users = StackScenario.users(prefix, count)
        try await stack.api.connect(users)
        try await stack.scenario.waitUntilSettled(users, timeout: .seconds(20))
        return users
    }

    /// Kills `program` with SIGKILL and waits until its pid file names a new live process.
    /// - Returns: the new pid and how long the restart took.
    static func killAndAwaitRestart(_ program: UpStack.StackProgram, of stack: UpStack) async throws -> (pid: pid_t, took: Duration) {
        let old = try #require(stack.pid(of: program), "no pid file for \(program.rawValue)")
        #expect(UpStack.isAlive(old))
        let clock = ContinuousClock()
        let killedAt = clock.now
        kill(old, SIGKILL)
        var new: pid_t?
        try await TestSupport.waitUntil("\(program.rawValue) restarted (a new live pid in its pid file)", timeout: .seconds(5), {
            new = stack.pid(of: program)
            return new.map { $0 != old && UpStack.isAlive($0) } ?? false
        }, describe: { stack.logTail(lines: 15) })
        return (try #require(new), clock.now - killedAt)
    }

    @Test("kill -9 of redis-server: it is restarted and the topology lists every session again")
    func redisKilled() async throws {
        try await UpStack.with(["SCALE_IN_STABILIZATION_SECONDS": "120"]) { stack in
            let users = try await Self.connectUsers(stack, "redis", 20)
            let ids = Set(try await stack.api.topology().instances.map(\.id))
            let reconnectsBefore = try await stack.api.clientStatus().totals.reconnects
            let clock = ContinuousClock()
            let killedAt = clock.now
            let (pid, restart) = try await Self.killAndAwaitRestart(.redis, of: stack)
            let restartSeenMs = Self.nowMilliseconds

            let registered = try await TestSupport.waitUntil("a fresh topology lists all \(users.count) sessions on the same servers",
                                                                 timeout: .seconds(10), {
                let topology = try await stack.api.topology()
                // While Redis is down the balancer shows its last reading: only a later one counts.
                return (topology.observedAt ?? 0) > restartSeenMs && topology.totalSessions == users.count
                    && Set(topology.instances.map(\.id)) == ids
            }, describe: { await stack.scenario.describeState() })
            let completeAfter = clock.now - killedAt
            // The servers write their sessions again one after the other; a balancer acting on the
            // partial topology would shed from the first ones back (they look fuller than the rest).
            try await Task.sleep(for: .seconds(1))
            let client = try await stack.api.clientStatus()
            #expect(client.allConnected(users), "redis going away does not cut the users")
            let state = await stack.scenario.describeState()
            #expect(client.totals.reconnects == reconnectsBefore, "no user was moved: \(state)")
            #expect(try await stack.api.balancerMetric("wsscale_stack_restarts_total", label: ("process", "redis")) == 1)
            #expect(try await stack.api.balancerMetric("wsscale_stack_restarts_total", label: ("process", "haproxy")) == 0)
            print("kill -9 of redis-server: new redis-server (pid \(pid)) after \(restart), "
                  + "all \(users.count) sessions in the topology again after \(completeAfter) (\(registered) after the restart was seen)")
        }
    }

    @Test("SIGTERM to wsscale up, redis-server and HAProxy at once: nothing is restarted, nothing is left")
    func shutdownRestartsNothing() async throws {
        try await UpStack.with { stack in
            let redis = try #require(stack.pid(of: .redis))
            let haproxy = try #require(stack.pid(of: .haproxy))
            #expect(await stack.terminateWithInfrastructure(), "wsscale up exits")
            #expect(!UpStack.isAlive(redis) && !UpStack.isAlive(haproxy))
            let log = (try? String(contentsOfFile: stack.logPath, encoding: .utf8)) ?? ""
            #expect(!log.contains(" restarted"), "no restart during shutdown: \(stack.logTail(lines: 10))")
            #expect(stack.pid(of: .redis) == nil && stack.pid(of: .haproxy) == nil, "the pid files are removed")
        }
    }

    @Test("HAProxy's runtime socket deleted while it runs: up notices, restarts HAProxy, and the balancer drives it again")
    func haproxySocketDeleted() async throws {
        try await UpStack.with(["SCALE_IN_STABILIZATION_SECONDS": "120"]) { stack in
            let users = try await Self.connectUsers(stack, "sock", 10)
            let ids = Set(try await stack.api.topology().instances.map(\.id))
            let old = try #require(stack.pid(of: .haproxy))
            let socket = stack.stateDirectory + "/haproxy/admin.sock"
            #expect(FileManager.default.fileExists(atPath: socket))
            let clock = ContinuousClock()
            let deletedAt = clock.now
            try FileManager.default.removeItem(atPath: socket)
            var new: pid_t?
            try await TestSupport.waitUntil("HAProxy restarted (a new live pid in its pid file)", timeout: .seconds(10), {
                new = stack.pid(of: .haproxy)
                return new.map { $0 != old && UpStack.isAlive($0) } ?? false
            }, describe: { stack.logTail(lines: 15) })
            let restarted = clock.now - deletedAt
            let restartSeenMs = Self.nowMilliseconds
            #expect(!UpStack.isAlive(old), "the socketless HAProxy was stopped")
            #expect(FileManager.default.fileExists(atPath: socket), "the new HAProxy has its socket")
            try await TestSupport.waitUntil("every server back in HAProxy", timeout: .seconds(10), {
                let topology = try await stack.api.topology()
                return (topology.observedAt ?? 0) > restartSeenMs && Set(topology.instances.map(\.id)) == ids
                    && topology.active.allSatisfy { $0.proxyState == "ready" }
            }, describe: { await stack.scenario.describeState() })
            let serversBack = clock.now - deletedAt
            try await stack.scenario.waitUntilConnected(users, timeout: .seconds(10))
            #expect(try await stack.api.balancerMetric("wsscale_stack_restarts_total", label: ("process", "haproxy")) == 1)
            #expect(stack.logTail(lines: 200).contains("runtime API socket"), "up's log names what was wrong")
            print("HAProxy's runtime socket deleted: a new HAProxy after \(restarted), every server back in it after \(serversBack), "
                  + "all \(users.count) users connected again after \(clock.now - deletedAt)")
        }
    }

    @Test("kill -9 of HAProxy: it is restarted, the servers are back in it and users connect through it again")
    func haproxyKilled() async throws {
        try await UpStack.with(["SCALE_IN_STABILIZATION_SECONDS": "120"]) { stack in
            let users = try await Self.connectUsers(stack, "lb", 20)
            let ids = Set(try await stack.api.topology().instances.map(\.id))
            let clock = ContinuousClock()
            let killedAt = clock.now
            let (pid, restart) = try await Self.killAndAwaitRestart(.haproxy, of: stack)
            let restartSeenMs = Self.nowMilliseconds

            try await TestSupport.waitUntil("every server back in HAProxy in its state", timeout: .seconds(5), {
                // While HAProxy is down the balancer shows its last reading: only a later one counts.
                let topology = try await stack.api.topology()
                return (topology.observedAt ?? 0) > restartSeenMs && Set(topology.instances.map(\.id)) == ids
                    && topology.active.allSatisfy { $0.proxyState == "ready" }
                    && topology.draining.allSatisfy { $0.proxyState == "drain" }
            }, describe: { await stack.scenario.describeState() })
            let serversBack = clock.now - killedAt
            // The kill cut every user's connection: they reconnect through the new HAProxy.
            try await stack.scenario.waitUntilConnected(users, timeout: .seconds(10))
            let usersBack = clock.now - killedAt
            let client = try await stack.api.clientStatus()
            #expect(users.allSatisfy { ids.contains(client.user($0)?.host ?? "") }, "the users are on the same servers")
            #expect(users.allSatisfy { (client.user($0)?.reconnectCount ?? 0) >= 1 }, "the old HAProxy's connections ended")

            let newcomers = StackScenario.users("after", 5)
            try await stack.api.connect(newcomers)
            try await stack.scenario.waitUntilConnected(users + newcomers, timeout: .seconds(10))
            #expect(try await stack.api.balancerMetric("wsscale_stack_restarts_total", label: ("process", "haproxy")) == 1)
            #expect(try await stack.api.balancerMetric("wsscale_stack_restarts_total", label: ("process", "redis")) == 0)
            print("kill -9 of HAProxy: new haproxy (pid \(pid)) after \(restart), every server back in it after \(serversBack), "
                  + "all \(users.count) users connected again after \(usersBack)")
        }
    }
}
}
