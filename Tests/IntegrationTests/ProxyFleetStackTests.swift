#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import WSScaleCore
import WSScaleTestSupport

extension RealStackTests.DockerStackTests {
/// Two real HAProxy instances in front of one Docker pool (`HAPROXY_RUNTIME_API` with two
/// sockets), users coming through each: the balancer keeps both identical, counts each
/// server's connections over both, resyncs one that restarted empty, and keeps updating the
/// other while one is gone.
@Suite struct ProxyFleetStackTests {
    @Test("two HAProxy instances: the same servers in both, connections counted over both; one killed and restarted → resynced; one gone → the other still updated, then resynced; no user lost")
    func twoHAProxies() async throws {
        let settings = ["SCALE_IN_STABILIZATION_SECONDS": "600"]
        let (figures, left) = try await ContainerBackendStack.run(engine: .docker, settings: settings, haproxyCount: 2) { stack in
            let clock = ContinuousClock()
            let viaSecond = try stack.startClient("client-2", through: 1)
            try await TestSupport.waitUntil("the second client simulator answers", timeout: .seconds(20)) {
                try await viaSecond.connectedUsers() == 0
            } describe: { stack.logs() }
            let first = (1...6).map { "via1-\($0)" }
            let second = (1...6).map { "via2-\($0)" }
            try await stack.client.batch(connect: true, users: first)
            try await viaSecond.batch(connect: true, users: second)
            // 12 users: 2 servers of 10 at 70 %; either half alone would fit on one.
            try await TestSupport.waitUntil("12 users through two HAProxies on 2 servers", timeout: .seconds(60)) {
                let status = try await stack.status(port: stack.balancerPort)
                let connected = try await (stack.client.connectedUsers(), viaSecond.connectedUsers())
                return connected == (6, 6) && status.totalSessions == 12 && status.instances.filter { $0.state == .active }.count == 2
            } describe: { await stack.describe() }
            try await Self.waitIdentical(stack, "both HAProxy instances hold the same servers in the same states")
            try await TestSupport.waitUntil("each server's connections counted over both instances", timeout: .seconds(10)) {
                let (one, two) = (try await stack.proxyReading(0), try await stack.proxyReading(1))
                let status = try await stack.status(port: stack.balancerPort)
                return status.proxies?.map(\.reachable) == [true, true] && status.instances.allSatisfy { instance in
                    let counted = [one, two].compactMap { $0.servers.first { $0.id == instance.id }?.currentConnections }.reduce(0, +)
                    return instance.proxyConnections == counted && counted == instance.sessions
                }
            } describe: { await stack.describe() }

            // kill -9 of the second HAProxy, started again empty: brought up to date at the next wake.
            await stack.killHAProxy(1)
            try await stack.startHAProxy(1)
            let restartedAt = clock.now
            try await Self.waitIdentical(stack, "the restarted HAProxy holds the pool's servers again")
            let resync = clock.now - restartedAt
            try await Self.waitConnected(stack, viaSecond, (6, 6))

            // The second HAProxy gone: 12 more users through the first scale the pool out, and the
            // first is updated; the topology and the metrics show the second unreachable.
            await stack.killHAProxy(1)
            let more = (7...18).map { "via1-\($0)" }
            try await stack.client.batch(connect: true, users: more)
            try await TestSupport.waitUntil("the first HAProxy updated alone: 3 servers ready in it", timeout: .seconds(60)) {
                let status = try await stack.status(port: stack.balancerPort)
                let ready = try await stack.proxyReading(0).servers.filter { $0.state == .ready }.count
                return status.instances.filter { $0.state == .active }.count >= 3 && ready == status.instances.count
                    && status.proxies?.map(\.reachable) == [true, false]
            } describe: { await stack.describe() }
            let metrics = try await RawHTTPClient.request("GET", "/metrics", port: stack.balancerPort).body
            #expect(metrics.contains(#"wsscale_proxy_reachable{proxy="unix://\#(stack.directory)/haproxy-2/admin.sock"} 0"#),
                    "\(metrics.split(separator: "\n").filter { $0.contains("wsscale_proxy") })")

            // Back: resynced, and every user is connected again.
            try await stack.startHAProxy(1)
            let backAt = clock.now
            try await Self.waitIdentical(stack, "the second HAProxy, back, holds the servers added while it was gone")
            let catchUp = clock.now - backAt
            try await Self.waitConnected(stack, viaSecond, (18, 6))
            return (resync, catchUp)
        }
        print("two HAProxy instances (docker): resynced \(figures.0) after a restart, \(figures.1) after coming back from 3 launches away")
        #expect(left.isEmpty, "left behind: \(left)")
    }

    /// Waits until both HAProxy instances hold the same servers in the same states (and some).
    static func waitIdentical(_ stack: ContainerBackendStack, _ what: String) async throws {
        try await TestSupport.waitUntil(what, timeout: .seconds(20), interval: .milliseconds(10)) {
            let one = try await stack.proxyReading(0).servers.map { "\($0.id) \($0.state.rawValue) \($0.endpoint)" }.sorted()
            let two = try await stack.proxyReading(1).servers.map { "\($0.id) \($0.state.rawValue) \($0.endpoint)" }.sorted()
            return !one.isEmpty && one == two
        } describe: { await stack.describe() }
    }

    /// Waits until the two client simulators count these users connected.
    static func waitConnected(_ stack: ContainerBackendStack, _ viaSecond: DockerStackClient, _ expected: (Int, Int)) async throws {
        try await TestSupport.waitUntil("\(expected.0) + \(expected.1) users connected", timeout: .seconds(30)) {
            let connected = try await (stack.client.connectedUsers(), viaSecond.connectedUsers())
            return connected == expected
        } describe: { await stack.describe() }
    }
}
}
