#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import WSScaleCore
import WSScaleTestSupport

extension RealStackTests.DockerStackTests {
/// Several balancers on one Docker pool (real Redis, HAProxy and dockerd): one leads, the
/// others stand by, a standby takes over within one lease, and a leader that was paused
/// past its lease changes nothing when it wakes up.
@Suite struct LeaderElectionStackTests {
    static let lease: Duration = .seconds(3)

    @Test("two balancers: SIGSTOP of the leader past its lease → the standby leads and the woken one changes nothing; kill -9 of the leader → the other leads within one lease, nothing launched twice, no orphan; two started at once → one leads")
    func twoBalancers() async throws {
        let settings = ["BALANCER_ID": "b1", "LEADER_LEASE_SECONDS": "3", "SCALE_IN_STABILIZATION_SECONDS": "600"]
        let (figures, left) = try await ContainerBackendStack.run(engine: .docker, settings: settings) { stack in
            let clock = ContinuousClock()
            let b1 = stack.balancerPort
            let b2 = try stack.startBalancer("balancer-b2", id: "b2")
            try await TestSupport.waitUntil("b2 stands by behind b1", timeout: .seconds(30)) {
                let standby = try await stack.status(port: b2).leadership
                return standby?.leading == false && standby?.leader?.holder.hasPrefix("b1/") == true
            } describe: { stack.logs() }
            let first = try #require(try await stack.status(port: b1).leadership)
            #expect(first.leading && first.leader?.holder == first.holder)
            let firstToken = try #require(first.leader?.token)

            let users = (1...12).map { "ha-\($0)" }
            try await stack.client.batch(connect: true, users: users)
            try await Self.waitAllConnected(stack, users.count, port: b1)

            // The leader is paused (SIGSTOP) past its lease: b2 takes over with a larger token.
            let lastDecisionOfB1 = try await stack.status(port: b1).decisions.map(\.sequence).max() ?? 0
            stack.signal("balancer", SIGSTOP)
            let stoppedAt = clock.now
            try await TestSupport.waitUntil("b2 leads while b1 is stopped", timeout: .seconds(10)) {
                try await stack.status(port: b2).leadership?.leading == true
            } describe: { stack.logs() }
            let takeoverAfterPause = clock.now - stoppedAt
            let second = try #require(try await stack.status(port: b2).leadership?.leader)
            #expect(second.holder.hasPrefix("b2/") && second.token > firstToken)

            // While b1 sleeps, a server dies: b2 takes it out and its users come back elsewhere.
            let victim = try #require(try await stack.status(port: b2).instances.filter { $0.state == .active }.max { $0.sessions < $1.sessions })
            try stack.killServer(victim.id)
            try await TestSupport.waitUntil("b2 took the killed server out", timeout: .seconds(20)) {
                try await !stack.status(port: b2).instances.contains { $0.id == victim.id }
            } describe: { stack.logs() }

            // b1 wakes up believing it leads, with the kill waiting in its event stream: it acts on nothing.
            stack.signal("balancer", SIGCONT)
            let resumedAt = Int64(Date().timeIntervalSince1970 * 1000)
            try await TestSupport.waitUntil("b1 read the pool again, as a standby that knows b2's token", timeout: .seconds(10)) {
                let woken = try await stack.status(port: b1)
                return (woken.observedAt ?? 0) > resumedAt && woken.leadership?.leading == false
                    && woken.leadership?.leader == second
            } describe: { stack.logs() }
            let woken = try await stack.status(port: b1)
            #expect(woken.decisions.filter { $0.sequence > lastDecisionOfB1 }.isEmpty,
                    "b1 recorded decisions after it lost the lease: \(woken.decisions.filter { $0.sequence > lastDecisionOfB1 })")
            try await Self.waitAllConnected(stack, users.count, port: b2)

            // The leader dies (kill -9): b1 takes over within one lease.
            let containersBefore = Set(stack.engine.cli.containers(ofPool: stack.pool))
            stack.signal("balancer-b2", SIGKILL)
            let killedAt = clock.now
            try await TestSupport.waitUntil("b1 leads again after b2 was killed", timeout: .seconds(10)) {
                try await stack.status(port: b1).leadership?.leading == true
            } describe: { stack.logs() }
            let takeoverAfterKill = clock.now - killedAt
            // b2's last renewal came before the kill; the store's lease lapses 0.9 lease after it, and
            // a standby claims every tenth of a lease: within one lease (plus this test's polling).
            #expect(takeoverAfterKill <= Self.lease + .milliseconds(100), "took \(takeoverAfterKill)")
            let third = try #require(try await stack.status(port: b1).leadership?.leader)
            #expect(third.holder == first.holder && third.token > second.token)

            // It adopts the pool: every container is an instance in HAProxy, none was launched twice.
            try await TestSupport.waitUntil("b1's view is the engine's and HAProxy's", timeout: .seconds(20)) {
                let status = try await stack.status(port: b1)
                let containers = Set(stack.engine.cli.containers(ofPool: stack.pool))
                return containers.count == status.instances.count && status.instances.allSatisfy { $0.proxyState == .ready }
            } describe: { stack.logs() }
            let adopted = try await stack.status(port: b1)
            let launchedSince = adopted.decisions.filter { $0.sequence > lastDecisionOfB1 }.flatMap(\.actions).filter { $0.hasPrefix("launch") }
            #expect(Set(stack.engine.cli.containers(ofPool: stack.pool)).subtracting(containersBefore).count == launchedSince.count,
                    "every new container is a launch b1 decided: \(launchedSince)")
            #expect(launchedSince.isEmpty, "12 users on the servers b2 left need no launch: \(launchedSince)")
            try await Self.waitAllConnected(stack, users.count, port: b1)

            // Two balancers started at the same moment, after b1 let go: exactly one leads.
            stack.signal("balancer", SIGTERM)
            #expect(await stack.waitForEnd(of: "balancer", timeout: .seconds(15)))
            let b3 = try stack.startBalancer("balancer-b3", id: "b3")
            let b4 = try stack.startBalancer("balancer-b4", id: "b4")
            try await TestSupport.waitUntil("one of b3 and b4 leads, and both say which", timeout: .seconds(30)) {
                let views = [try await stack.status(port: b3).leadership, try await stack.status(port: b4).leadership]
                return views.filter { $0?.leading == true }.count == 1 && views[0]?.leader != nil && views[0]?.leader == views[1]?.leader
            } describe: { stack.logs() }
            try await Self.waitAllConnected(stack, users.count, port: b3)
            return (takeoverAfterPause, takeoverAfterKill)
        }
        print("leader election (docker, lease 3 s): standby led \(figures.0) after SIGSTOP of the leader, \(figures.1) after kill -9")
        #expect(left.isEmpty, "left behind: \(left)")
    }

    /// Waits until the client simulator has `count` users connected and the balancer on
    /// `port` counts as many sessions.
    static func waitAllConnected(_ stack: ContainerBackendStack, _ count: Int, port: Int) async throws {
        try await TestSupport.waitUntil("\(count) users connected and registered", timeout: .seconds(30)) {
            let connected = try await stack.client.connectedUsers()
            let registered = try await stack.status(port: port).totalSessions
            return connected == count && registered == count
        } describe: { stack.logs() }
    }
}
}
