import Foundation
import Logging
import NIOCore
import Testing
import WSScaleBackends
import WSScaleCore
import WSScaleTestSupport

/// The HAProxy adapter against a real HAProxy 2.6 on free loopback ports, with stand-in
/// servers launched by the process driver.
@Suite(.serialized) struct HAProxyTrafficProxyTests {
    @Test func addReadyDrainMaintenanceRemove() async throws {
        try await HAProxyBench.run(servers: 1) { bench, servers in
            let (id, endpoint) = servers[0]
            let balancer = bench.balancer
            try await balancer.add(id, at: endpoint)
            var listed = try await balancer.servers()
            #expect(listed == [ProxyServer(id: id, endpoint: endpoint, state: .maintenance, healthy: false, currentConnections: 0)])

            try await balancer.add(id, at: endpoint)
            await #expect(throws: HAProxyError.self) {
                try await balancer.add(id, at: Endpoint(host: "127.0.0.1", port: endpoint.port + 1))
            }

            try await balancer.setState(id, .ready)
            try await TestSupport.waitUntil("the server is ready and healthy") {
                try await balancer.servers().first == ProxyServer(id: id, endpoint: endpoint, state: .ready, healthy: true, currentConnections: 0)
            }
            #expect(try await RawHTTPClient.status(bench.traffic, path: "/health") == 200)

            try await balancer.setState(id, .drain)
            listed = try await balancer.servers()
            #expect(listed.first?.state == .drain)
            #expect(try await RawHTTPClient.status(bench.traffic, path: "/health") == 503, "a drained-only backend takes no new request")

            try await balancer.setState(id, .maintenance)
            #expect(try await balancer.servers().first?.state == .maintenance)

            try await balancer.remove(id)
            #expect(try await balancer.servers().isEmpty)
            try await balancer.remove(id)
            await #expect(throws: HAProxyError.self) { try await balancer.setState("ws-unknown", .ready) }
            await #expect(throws: HAProxyError.self) { try await balancer.add("bad name", at: endpoint) }
        }
    }

    @Test("a server at its connection limit takes no more: the next user waits in the queue, read back, until a server with room is in rotation")
    func connectionLimitQueuesUntilAServerHasRoom() async throws {
        try await HAProxyBench.run(servers: 2) { bench, servers in
            let balancer = bench.balancer
            let (first, second) = (servers[0], servers[1])
            try await balancer.add(first.0, at: first.1)
            try await balancer.setConnectionLimit(first.0, 1)
            try await balancer.setState(first.0, .ready)
            try await balancer.add(second.0, at: second.1)
            try await balancer.setConnectionLimit(second.0, 1)
            try await TestSupport.waitUntil("the first server is healthy") { try await balancer.servers().first { $0.id == first.0 }?.healthy == true }
            #expect(try await balancer.read().servers.map(\.connectionLimit) == [1, 1])

            let held = try await RawHTTPClient.openUpgradedConnection(bench.traffic, path: "/api/v1/websocket/first")
            defer { held.close(promise: nil) }
            // The suite's time limit is the only bound on the wait: it ends when a server has room.
            let waiting = Task { try await RawHTTPClient.openUpgradedConnection(bench.traffic, path: "/api/v1/websocket/second",
                                                                             timeout: .seconds(60)) }
            try await TestSupport.waitUntil("the second user waits in the queue") { try await balancer.read().queued == 1 }
            #expect(try await balancer.read().servers.first { $0.id == first.0 }?.currentConnections == 1)

            try await balancer.setState(second.0, .ready)
            let admitted = try await waiting.value
            defer { admitted.close(promise: nil) }
            #expect(try await balancer.read().queued == 0)
            #expect(try await balancer.read().servers.map(\.currentConnections).sorted() == [1, 1], "one each: the queue went to the server with room")
            await #expect(throws: HAProxyError.self) { try await balancer.setConnectionLimit("ws-unknown", 5) }
        }
    }

    @Test func currentConnectionsAreReadBackAndBlockRemoval() async throws {
        try await HAProxyBench.run(servers: 2) { bench, servers in
            let balancer = bench.balancer
            for (id, endpoint) in servers {
                try await balancer.add(id, at: endpoint)
                try await balancer.setState(id, .ready)
            }
            try await TestSupport.waitUntil("both servers are healthy") {
                try await balancer.servers().filter(\.healthy).count == 2
            }
            let held = try await RawHTTPClient.openUpgradedConnection(bench.traffic, path: "/api/v1/websocket/held")
            defer { held.close(promise: nil) }
            try await TestSupport.waitUntil("HAProxy reports the held connection on one server") {
                try await balancer.servers().map(\.currentConnections).sorted() == [0, 1]
            }
            let busy = try #require(try await balancer.servers().first { $0.currentConnections == 1 }).id

            try await balancer.setState(busy, .drain)
            try await Task.sleep(for: .milliseconds(300))
            #expect(held.isActive, "draining keeps existing connections")
            #expect(try await balancer.servers().first { $0.id == busy }?.currentConnections == 1)

            let impatient = HAProxyTrafficProxy(api: bench.haproxy.api, backend: bench.configuration.backendName,
                                                removalTimeout: .milliseconds(400), logger: bench.logger)
            await #expect(throws: HAProxyError.self, "a server with a connection cannot be deleted") {
                try await impatient.remove(busy)
            }
            #expect(held.isActive, "a refused removal does not cut the connection")

            try await held.close()
            try await TestSupport.waitUntil("the connection count drops to zero") {
                try await balancer.servers().first { $0.id == busy }?.currentConnections == 0
            }
            try await balancer.remove(busy)
            #expect(try await balancer.servers().map(\.id) == servers.map(\.0).filter { $0 != busy })
        }
    }

    /// A server that no longer runs: its connections are cut at once, without waiting.
    @Test func removalCutsTheSessionsOfAServerThatNoLongerRuns() async throws {
        try await HAProxyBench.run(servers: 1) { bench, servers in
            let (id, endpoint) = servers[0]
            let balancer = HAProxyTrafficProxy(api: bench.haproxy.api, backend: bench.configuration.backendName,
                                               removalTimeout: .seconds(30), logger: bench.logger)
            try await balancer.add(id, at: endpoint)
            try await balancer.setState(id, .ready)
            try await TestSupport.waitUntil("the server is healthy") { try await balancer.servers().first?.healthy == true }
            let held = try await RawHTTPClient.openUpgradedConnection(bench.traffic, path: "/api/v1/websocket/held")
            defer { held.close(promise: nil) }
            try await TestSupport.waitUntil("the connection is counted") { try await balancer.servers().first?.currentConnections == 1 }
            let clock = ContinuousClock()
            let start = clock.now
            try await balancer.remove(id, cuttingSessions: true)
            #expect(try await balancer.servers().isEmpty)
            #expect(clock.now - start < .seconds(30), "removed without waiting out removalTimeout")
            try await TestSupport.waitUntil("the held connection was cut") { !held.isActive }
        }
    }

    /// A server whose host vanished (here: its process stopped with SIGSTOP, so nothing ever
    /// answers, not even a FIN) and whose client has left: HAProxy half-closes towards it, and
    /// `shutdown sessions` passes over a half-closed connection. `timeout server-fin` ends it,
    /// and the server can be deleted within seconds instead of after `timeout tunnel` (1 h).
    @Test func aVanishedServerIsDeletedOnceItsClientLeft() async throws {
        try await HAProxyBench.run(servers: 1) { bench, servers in
            let (id, endpoint) = servers[0]
            try await bench.balancer.add(id, at: endpoint)
            try await bench.balancer.setState(id, .ready)
            try await TestSupport.waitUntil("the server is healthy") { try await bench.balancer.servers().first?.healthy == true }
            let held = try await RawHTTPClient.openUpgradedConnection(bench.traffic, path: "/api/v1/websocket/vanishing")
            try await TestSupport.waitUntil("the connection is counted") { try await bench.balancer.servers().first?.currentConnections == 1 }
            let pidFile = try #require(FileManager.default.enumerator(atPath: bench.directory)?.compactMap { $0 as? String }
                .first { $0.hasSuffix("/\(id).pid") || $0 == "\(id).pid" })
            let record = try #require(ProcessPidFile.parse(try String(contentsOfFile: bench.directory + "/" + pidFile, encoding: .utf8), id: id))
            #expect(kill(record.pid, SIGSTOP) == 0)
            defer { kill(record.pid, SIGCONT) }
            try await held.close()
            // Removal of a server that no longer runs: tried at each wake until it succeeds.
            let clock = ContinuousClock()
            let start = clock.now
            try await TestSupport.waitUntil("the vanished server is deleted", timeout: .seconds(20)) {
                (try? await bench.balancer.remove(id, cuttingSessions: true)) != nil
            }
            print("a vanished server deleted \(clock.now - start) after its client left (timeout server-fin \(bench.configuration.serverFinTimeout))")
            #expect(try await bench.balancer.servers().isEmpty)
        }
    }

    @Test func failingHealthCheckMarksTheServerDown() async throws {
        try await HAProxyBench.run(servers: 1) { bench, servers in
            let (id, endpoint) = servers[0]
            try await bench.balancer.add(id, at: endpoint)
            try await bench.balancer.setState(id, .ready)
            try await TestSupport.waitUntil("the server is healthy") { try await bench.balancer.servers().first?.healthy == true }
            #expect(try await RawHTTPClient.status(endpoint, path: "/fail-health") == 200)
            try await TestSupport.waitUntil("HAProxy marks the server down", timeout: .seconds(5)) {
                try await bench.balancer.servers().first?.healthy == false
            }
            let status = try #require(try await bench.balancer.serverStatuses().first)
            #expect(status.state == .ready)
            #expect(status.checkStatus == "L7STS")
            #expect(status.status.hasPrefix("DOWN"))
        }
    }

    @Test func restartChangesTheIdentityAndDropsDynamicServers() async throws {
        try await HAProxyBench.run(servers: 1) { bench, servers in
            let (id, endpoint) = servers[0]
            let before = try await bench.balancer.processIdentity()
            #expect(before.pid == Int(bench.haproxy.process.pid))
            try await bench.balancer.add(id, at: endpoint)
            #expect(try await bench.balancer.processIdentity() == before)

            let restarted = try await bench.restart()
            defer { Task { await restarted.stop(grace: .seconds(1)) } }
            let after = try await bench.balancer.processIdentity()
            #expect(after != before)
            #expect(after.pid == Int(restarted.process.pid))
            #expect(try await bench.balancer.servers().isEmpty, "dynamic servers do not survive a restart")
            try await bench.balancer.add(id, at: endpoint)
            try await bench.balancer.setState(id, .ready)
            try await TestSupport.waitUntil("the re-added server is healthy") { try await bench.balancer.servers().first?.healthy == true }
            await restarted.stop(grace: .seconds(1))
        }
    }

    @Test func missingHAProxyBinaryGivesAnInstallHint() async throws {
        let directory = ProcessDriverFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = HAProxyConfiguration(runtimeSocketPath: directory + "/admin.sock", trafficBind: "127.0.0.1:1", statsBind: nil)
        do {
            _ = try await HAProxyProcess.start(configuration, in: directory, executable: "haproxy-not-installed-here",
                                               logger: Logger(label: "test"))
            Issue.record("starting a missing binary succeeded")
        } catch let error as HAProxyError {
            #expect(error.message.contains("apt-get install -y haproxy"))
        }
    }
}

/// A real HAProxy with its runtime API on a temporary socket, traffic and stats on free
/// loopback ports, and stand-in servers from the process driver.
struct HAProxyBench {
    let configuration: HAProxyConfiguration
    let directory: String
    let haproxy: HAProxyProcess
    let balancer: HAProxyTrafficProxy
    let logger = Logger(label: "test.haproxy")

    var traffic: Endpoint {
        Endpoint(host: "127.0.0.1", port: Int(configuration.trafficBind.split(separator: ":").last!)!)
    }

    /// Starts HAProxy and `servers` stand-ins, runs `body`, and stops everything, also on failure.
    static func run(servers count: Int, runtimeTCP: Bool = false,
                    _ body: (HAProxyBench, [(InstanceID, Endpoint)]) async throws -> Void) async throws {
        let directory = ProcessDriverFixture.temporaryDirectory()
        let logger = Logger(label: "test.haproxy")
        let driver = try ProcessDriver(configuration: ProcessDriverFixture.standInConfiguration(stateDirectory: directory),
                                       logger: logger)
        var haproxy: HAProxyProcess?
        do {
            let traffic = try #require(LoopbackPort.free())
            let stats = try #require(LoopbackPort.free(excluding: [traffic]))
            let tcp = try #require(LoopbackPort.free(excluding: [traffic, stats]))
            let configuration = HAProxyConfiguration(runtimeSocketPath: directory + "/admin.sock",
                                                     trafficBind: "127.0.0.1:\(traffic)", statsBind: "127.0.0.1:\(stats)",
                                                     runtimeTCPBind: runtimeTCP ? "127.0.0.1:\(tcp)" : nil,
                                                     backendName: "servers")
            haproxy = try await HAProxyProcess.start(configuration, in: directory, logger: logger)
            var servers: [(InstanceID, Endpoint)] = []
            for index in 0..<count {
                let id = "ws-\(index)"
                _ = try await driver.launch(LaunchRequest(id: id))
                servers.append((id, try await driver.waitUntilRunning(id, timeout: .seconds(10))))
            }
            let bench = HAProxyBench(configuration: configuration, directory: directory, haproxy: haproxy!,
                                     balancer: HAProxyTrafficProxy(configuration: configuration, logger: logger))
            try await body(bench, servers)
        } catch {
            await haproxy?.stop(grace: .seconds(1))
            try? await driver.stopAll(grace: .zero)
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        await haproxy?.stop(grace: .seconds(1))
        try? await driver.stopAll(grace: .zero)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Stops this HAProxy and starts a new one with the same configuration.
    func restart() async throws -> HAProxyProcess {
        await haproxy.stop(grace: .seconds(1))
        return try await HAProxyProcess.start(configuration, in: directory + "/restarted", logger: logger)
    }
}


/// How fast the real pieces are: printed (the figures are bench/'s job); the bounds only
/// catch a server that never becomes healthy in HAProxy.
@Suite(.serialized) struct HAProxyTimingTests {
    @Test func launchedServerBecomesHealthyInHAProxy() async throws {
        try await HAProxyBench.run(servers: 0) { bench, _ in
            let state = ProcessDriverFixture.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: state) }
            let driver = try ProcessDriver(configuration: ProcessDriverFixture.standInConfiguration(stateDirectory: state),
                                           logger: bench.logger)
            let clock = ContinuousClock()
            let start = clock.now
            _ = try await driver.launch(LaunchRequest(id: "ws-timed"))
            let endpoint = try await driver.waitUntilRunning("ws-timed", timeout: .seconds(10))
            let running = clock.now
            try await bench.balancer.add("ws-timed", at: endpoint)
            try await bench.balancer.setState("ws-timed", .ready)
            try await TestSupport.waitUntil("the server is healthy") { try await bench.balancer.servers().first?.healthy == true }
            let inRotation = clock.now
            let status = try await RawHTTPClient.status(bench.traffic, path: "/health")
            try await driver.stopAll(grace: .seconds(1))
            print("timing: launch→/health answers \(running - start), add+ready→healthy in HAProxy \(inRotation - running)")
            #expect(status == 200)
            #expect(inRotation - running < .seconds(5))
        }
    }

    @Test func statsPageAndTCPRuntimeAPIAnswer() async throws {
        try await HAProxyBench.run(servers: 0, runtimeTCP: true) { bench, _ in
            let tcp = try #require(bench.configuration.runtimeTCPBind?.split(separator: ":").last.flatMap { Int($0) })
            let api = HAProxyRuntimeAPI(address: .tcp(host: "127.0.0.1", port: tcp))
            #expect(try await api.processIdentity() == bench.haproxy.processIdentity())
            let stats = try #require(bench.configuration.statsBind?.split(separator: ":").last.flatMap { Int($0) })
            #expect(try await RawHTTPClient.status(Endpoint(host: "127.0.0.1", port: stats), path: "/") == 200)
        }
    }
}
