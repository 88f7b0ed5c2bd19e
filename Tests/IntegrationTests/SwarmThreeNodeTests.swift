import Foundation
import Testing
import WSScaleCore
import WSScaleTestSupport

extension RealStackTests {
/// `docker/stack.yml` on a swarm of three nodes on this machine (`SwarmLab`: three dockerd in
/// network namespaces of their own on a test bridge, overlays over VXLAN between them): the
/// servers land on several nodes, the users connect through every node's HAProxy, and a
/// worker that stops at once (its link down, its processes killed) has its servers replaced
/// and its users reconnected elsewhere. Every request goes to the nodes' own addresses.
@Suite("docker/stack.yml on a three-node swarm",
       .enabled(if: SwarmLab.unavailableReason == nil, "needs root and dockerd"))
struct SwarmThreeNodeTests {
    static let users = 40

    @Test("a worker stops: its servers are replaced, its users reconnect elsewhere, none lost; prints the figures")
    func workerStops() async throws {
        let lab = try await SwarmLab.up(nodes: 3)
        let state = NSTemporaryDirectory() + "wsscale-lab-state-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: state) }
        do {
            try await run(lab, state: state)
        } catch {
            print(await lab.docker(1, ["service", "logs", "--tail", "40", "wsscale_balancer"]).output.suffix(6000))
            await lab.down()
            throw error
        }
        await lab.down()
    }

    func run(_ lab: SwarmLab, state: String) async throws {
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let secrets = await lab.docker(1, ["run", "--rm", "--network", "none", "--user", "0:0", "-v", "\(state):/state",
                                           DockerTestEnvironment.productImage, "secrets", "--state-dir", "/state",
                                           "--redis-host", "redis", "--owner", "65534:65534"])
        try #require(secrets.status == 0, "wsscale secrets: \(secrets.output)")
        let token = try String(contentsOfFile: state + "/admin/admin-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        // The stack as a user deploys it on the manager; the client gives up a connection
        // silent for 3 s (a path through the stopped node), the default being 75 s.
        let deployed = await lab.docker(1, ["stack", "deploy", "-c", SwarmStackDeployment.file.path, "wsscale"], environment: [
            "WSSCALE_STACK_STATE_DIR": state, "WSSCALE_ENGINE_SOCKET": lab.socket(ofNode: 1),
            "MIN_INSTANCES": "3", "MAX_INSTANCES": "12", "STOP_GRACE_SECONDS": "2",
            "CLIENT_PING_INTERVAL_SECONDS": "1", "CLIENT_SILENCE_TIMEOUT_SECONDS": "3",
        ])
        try #require(deployed.status == 0, "docker stack deploy: \(deployed.output)")
        let api = StackAPI(clientPort: 8089, balancerPort: 8488, adminToken: token, host: lab.address(ofNode: 1))
        try await TestSupport.waitUntil("three servers in rotation", timeout: .seconds(120), {
            (try? await api.topology().active.count) == 3
        })

        let users = (0..<Self.users).map { "lab-\($0)" }
        try await api.connect(users)
        try await TestSupport.waitUntil("\(Self.users) users connected and registered", timeout: .seconds(60), {
            let (client, topology) = (try await api.clientStatus(), try await api.topology())
            return client.totals.connected == Self.users && topology.totalSessions == Self.users
        })

        // Where things are: servers on several nodes, users through every node's HAProxy.
        let placed = try await serversByNode(lab, api: api)
        print("three nodes: servers by node \(placed.mapValues { $0.sorted() })")
        #expect(placed.keys.count >= 2, "servers on several nodes: \(placed)")
        var carried: [Int: Int] = [:]
        for node in 1...lab.nodes { carried[node] = await sessionsThroughHAProxy(lab, node: node) }
        print("three nodes: users' connections through each node's HAProxy \(carried.sorted { $0.key < $1.key })")
        #expect(carried.values.allSatisfy { $0 > 0 }, "users connect through every node's HAProxy: \(carried)")

        // Stop the worker holding the most servers.
        let (stopped, lost) = try #require(placed.filter { $0.key != 1 }.max { $0.value.count < $1.value.count })
        let before = try await api.topology().active.count
        let clientBefore = try await api.clientStatus()
        let affected = clientBefore.users.filter { lost.contains($0.host ?? "") }.count
        let clock = ContinuousClock()
        let start = clock.now
        let stop = await lab.stopNode(stopped)
        #expect(stop.status == 0, "stop-node \(stopped): \(stop.output)")

        let replaced = try await TestSupport.waitUntil("the stopped node's servers replaced", timeout: .seconds(90), {
            let topology = try await api.topology()
            return !topology.instances.contains { lost.contains($0.id) } && topology.active.count >= before
        }, describe: { (try? await api.topology()).map { "\($0.instances.map { "\($0.id) \($0.state) \($0.sessions)" })" } ?? "" })
        // Users lost: those not connected again by the end of the wait (it fails the test).
        var connectedAtLast = 0
        let restored = try await TestSupport.waitUntil("every user connected and registered again", timeout: .seconds(90), {
            let (client, topology) = (try await api.clientStatus(), try await api.topology())
            connectedAtLast = client.totals.connected
            return client.totals.connected == Self.users && topology.totalSessions == Self.users
        }, describe: { (try? await api.clientStatus()).map { "\($0.totals)" } ?? "" })
        let end = clock.now - start
        let usersLost = Self.users - connectedAtLast
        print("three nodes: node \(stopped) stopped with \(lost.count) servers and \(affected) users; servers replaced after \(replaced), "
              + "all \(Self.users) users connected and registered again after \(end) (wait \(restored)); users lost \(usersLost); "
              + "servers now \(try await api.topology().active.count)")
        #expect(usersLost == 0)
        #expect(affected > 0, "the stopped node had users")
    }

    /// The pool's servers by the index of the node their task runs on.
    func serversByNode(_ lab: SwarmLab, api: StackAPI) async throws -> [Int: Set<String>] {
        var placed: [Int: Set<String>] = [:]
        for server in try await api.topology().instances {
            let node = await lab.docker(1, ["service", "ps", "--filter", "desired-state=running", "-q",
                                            "wsscale-\(server.id)"]).output
            let task = node.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            let nodeID = await lab.docker(1, ["inspect", "--format", "{{.NodeID}}", task]).output.trimmingCharacters(in: .whitespacesAndNewlines)
            if let index = await lab.index(ofNodeID: nodeID) { placed[index, default: []].insert(server.id) }
        }
        return placed
    }

    /// Sessions node `node`'s HAProxy has carried on its traffic port so far (`stot`), read
    /// inside its container on that node.
    func sessionsThroughHAProxy(_ lab: SwarmLab, node: Int) async -> Int {
        let container = await lab.docker(node, ["ps", "-q", "--filter", "label=com.docker.swarm.service.name=wsscale_haproxy"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let stats = await lab.docker(node, ["exec", container, "busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:8404/;csv"]).output
        guard let line = stats.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("wsscale_traffic,FRONTEND,") }) else { return 0 }
        let fields = line.split(separator: ",", omittingEmptySubsequences: false)
        return fields.count > 7 ? Int(fields[7]) ?? 0 : 0
    }
}
}
