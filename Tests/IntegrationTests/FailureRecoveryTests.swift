#if canImport(Glibc)
import Glibc
#endif
import Testing
import WSScaleTestSupport

/// Crashes on the real stack: a server killed with SIGKILL, and `wsscale up` itself killed
/// with SIGKILL and started again on the same state directory and ports.
extension RealStackTests {
@Suite("crashes")
struct FailureRecoveryTests {
    @Test("kill -9 of a server: its users reconnect elsewhere, it leaves the topology, a replacement starts")
    func serverKilled() async throws {
        let report = try await UpStack.with { stack in try await stack.scenario.serverCrash(total: 20) }
        print("kill -9 of \(report.killed) (\(report.usersOnIt) users): left the topology after \(report.timeToLeaveTopology), "
              + "everyone back and pool at or below the threshold after \(report.timeToRecover), replacements \(report.replacements)")
        #expect(report.timeToLeaveTopology < .seconds(7))
    }

    @Test("kill -9 of wsscale up, then up again: the same servers are adopted, none extra, nothing orphaned")
    func upKilledAndRestarted() async throws {
        // A long stabilization window: without users the pool would shrink, which is not what is checked here.
        try await UpStack.with(["SCALE_IN_STABILIZATION_SECONDS": "120"]) { stack in
            let scenario = stack.scenario
            let users = StackScenario.users("restart", 20)
            try await stack.api.connect(users)
            try await scenario.waitUntilSettled(users, timeout: .seconds(20))
            let serversBefore = stack.serverPids()
            let idsBefore = Set(try await stack.api.topology().instances.map(\.id))
            #expect(serversBefore.count >= 3)
            #expect(Set(serversBefore.keys) == idsBefore)
            let infrastructureBefore = stack.infrastructurePids()

            let clock = ContinuousClock()
            let killedAt = clock.now
            await stack.killUp()
            let upGone = clock.now - killedAt
            try await stack.launch()
            let ready = clock.now - killedAt
            let adopted = try await TestSupport.waitUntil("the restarted balancer shows the adopted servers in rotation", timeout: .seconds(10), {
                let topology = try await stack.api.topology()
                return Set(topology.active.map(\.id)) == idsBefore
                    && topology.active.allSatisfy { $0.proxyState == "ready" }
            }, describe: { await scenario.describeState() })
            try await Task.sleep(for: .seconds(1)) // a duplicate launch would show up by now

            #expect(stack.serverPids() == serversBefore, "the same server processes, none extra")
            for (id, pid) in serversBefore {
                #expect(UpStack.isAlive(pid), "server \(id) (pid \(pid)) still runs")
            }
            let topology = try await stack.api.topology()
            #expect(Set(topology.instances.map(\.id)) == idsBefore)
            for pid in infrastructureBefore {
                #expect(!UpStack.isAlive(pid), "redis-server / haproxy of the killed run (pid \(pid)) were stopped")
            }
            let running = stack.leftovers()
            let expected = Set(serversBefore.values).union(stack.infrastructurePids().suffix(2))
            #expect(running.count == expected.count + 1, "servers + new redis + new haproxy + up: \(running)")
            let orphans = infrastructureBefore.filter(UpStack.isAlive)
            print("kill -9 of wsscale up: it was gone after \(upGone); the new up printed ready \(ready) after the kill, "
                  + "all \(idsBefore.count) servers adopted and in rotation \(adopted) later (\(ready + adopted) after the kill); "
                  + "orphans of the killed run: \(orphans.isEmpty ? "none" : "\(orphans)"), "
                  + "running now: \(running.count) processes (\(serversBefore.count) servers, redis, haproxy, up)")

            // The adopted servers take users again through the new HAProxy.
            let again = StackScenario.users("again", 10)
            try await stack.api.connect(again)
            try await scenario.waitUntilConnected(again, timeout: .seconds(10))
            let client = try await stack.api.clientStatus()
            #expect(again.allSatisfy { idsBefore.contains(client.user($0)?.host ?? "") })
        }
    }
}
}
