import Foundation
import Logging
import NIOConcurrencyHelpers
import WSScaleBackends
import WSScaleCore

/// A container engine as a whole-stack test uses it: its CLI, the balancer's backend name,
/// where its API listens, and the image the servers run.
public struct StackEngine: Sendable {
    /// The engine's CLI.
    public var cli: ContainerCLI
    /// `--backend` of the balancer (`docker`, `podman`); also names its variables.
    public var backend: String
    /// The engine's API (`DOCKER_HOST`, `PODMAN_HOST`).
    public var apiAddress: String
    /// The image of the servers.
    public var productImage: String
    /// Whether the servers are swarm services (the swarm backend, on Docker's API and variables).
    public var isSwarm = false

    /// The stem of the engine's variables (`DOCKER` in `DOCKER_HOST`, `WSSCALE_DOCKER_IMAGE`).
    var variableStem: String { isSwarm ? "DOCKER" : backend.uppercased() }

    /// Docker: dockerd's socket, `wsscale:local`.
    public static var docker: StackEngine {
        StackEngine(cli: .docker, backend: "docker", apiAddress: "unix:///var/run/docker.sock", productImage: DockerTestEnvironment.productImage)
    }

    /// Swarm: services on the single-node swarm of the Docker tests (`SwarmTestEnvironment`),
    /// through dockerd's socket, `wsscale:local`; their network is an attachable overlay.
    public static var swarm: StackEngine {
        StackEngine(cli: .docker, backend: "swarm", apiAddress: "unix:///var/run/docker.sock",
                    productImage: DockerTestEnvironment.productImage, isSwarm: true)
    }

    /// Podman: the service's socket, `localhost/wsscale:local` (or the Podman tests' image).
    public static var podman: StackEngine {
        StackEngine(cli: .podman, backend: "podman", apiAddress: "unix://\(PodmanTestEnvironment.socketPath)", productImage: PodmanTestEnvironment.testImage)
    }

    /// The balancer's variables for this engine: API address, image, network, publish address.
    func balancerEnvironment(network: String) -> [String: String] {
        let prefix = "WSSCALE_\(variableStem)_"
        return ["\(variableStem)_HOST": apiAddress, prefix + "IMAGE": productImage,
                prefix + "NETWORK": network, prefix + "PUBLISH_ADDRESS": "127.0.0.1"]
    }
}

/// The stack of the seed's experiments with the balancer on a container backend (Docker or
/// Podman), everything reached on 127.0.0.1:
///
/// - a network of its own, and Redis in a container on it (`wsscale-redis:local`,
///   built from `docker/redis`), published on a free loopback port for the balancer;
/// - HAProxy on the host (traffic and stats on free loopback ports, runtime API on a unix socket);
/// - `wsscale balancer --backend docker|podman` on the host: the servers are `wsscale:local`
///   containers that join the network (Redis by name) and publish their port on 127.0.0.1,
///   where HAProxy and the balancer reach them;
/// - `wsscale client` on the host, its users connecting through HAProxy's loopback port.
///
/// `stop()` ends the processes, removes the pool's containers by label, Redis and the network.
public final class ContainerBackendStack: @unchecked Sendable {
    /// The knobs of the seed's experiments, with windows short enough for tests.
    public static let seedEnvironment: [String: String] = [
        "CONNECTION_LIMIT_PER_HOST": "10", "MAX_CONNECTIONS_PER_HOST": "30",
        "MAX_UTILIZATION_PERCENT": "70", "MIN_UTILIZATION_PERCENT": "40",
        "OVERUTILIZED_TOLERANCE_PERCENT": "10", "UNDERUTILIZED_TOLERANCE_PERCENT": "10",
        "MIN_INSTANCES": "1", "MAX_INSTANCES": "10",
        "SCALE_IN_STABILIZATION_SECONDS": "1",
        "DRAIN_TIMEOUT_SECONDS": "60", "LEASE_SECONDS": "2", "STOP_GRACE_SECONDS": "2",
        "CLIENT_BACKOFF_CAP_MS": "1000", "WSSCALE_ADMIN_TOKEN": TestSupport.adminToken,
    ]

    /// The container engine.
    public let engine: StackEngine
    /// Names of the pool, the network and the Redis container (one random suffix).
    public let name: String
    /// HAProxy's traffic port on 127.0.0.1.
    public let trafficPort: Int
    /// HAProxy's stats port on 127.0.0.1.
    public let statsPort: Int
    /// Redis's published port on 127.0.0.1.
    public let redisPort: Int
    /// The balancer's API port on 127.0.0.1.
    public let balancerPort: Int
    /// The client simulator's API port on 127.0.0.1.
    public let clientPort: Int
    /// Where the configuration files and logs go.
    public let directory: String
    /// The environment of the balancer and the client.
    public let environment: [String: String]
    private let processes = NIOLockedValueBox<[String: LocalProcess]>([:])
    /// Every process role started, for the logs (also after `stop()`).
    private let roles = NIOLockedValueBox<Set<String>>([])
    /// The HAProxy instances, by index (the first is the one `trafficPort` reaches).
    private let haproxies = NIOLockedValueBox<[Int: HAProxyProcess]>([:])
    /// Traffic ports of the HAProxy instances, the first being `trafficPort`.
    public let trafficPorts: [Int]

    /// The servers' pool label.
    public var pool: String { name }
    /// The engine's network.
    public var network: String { name }
    /// The Redis container.
    public var redisContainer: String { "\(name)-redis" }

    /// The `wsscale` binary the balancer and the client run: the static release binary the
    /// image was built from (`.build-static`), else the debug build.
    public static var hostBinary: String {
        let root = DockerTestEnvironment.repositoryRoot
        let release = root.appendingPathComponent(".build-static/release/wsscale").path
        if FileManager.default.isExecutableFile(atPath: release) { return release }
        return root.appendingPathComponent(".build/debug/wsscale").path
    }

    private init(engine: StackEngine, settings: [String: String], haproxyCount: Int) throws {
        self.engine = engine
        name = "wsscale-exp-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        trafficPorts = try (0..<max(1, haproxyCount)).map { _ in try TestSupport.freeLoopbackPort() }
        trafficPort = trafficPorts[0]
        statsPort = try TestSupport.freeLoopbackPort()
        redisPort = try TestSupport.freeLoopbackPort()
        balancerPort = try TestSupport.freeLoopbackPort()
        clientPort = try TestSupport.freeLoopbackPort()
        directory = "/tmp/\(name)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let folder = directory
        let sockets = (0..<max(1, haproxyCount)).map { "unix://" + Self.runtimeSocket(of: $0, in: folder) }.joined(separator: ",")
        var environment = ProcessInfo.processInfo.environment.merging(Self.seedEnvironment) { _, new in new }
        environment.merge([
            "REDIS_URL": "redis://127.0.0.1:\(redisPort)/0",
            "SERVER_REDIS_URL": "redis://\(name)-redis:6379/0",
            "HAPROXY_RUNTIME_API": sockets,
            "HAPROXY_BACKEND": "wsscale_servers",
            "BALANCER_HOST": "127.0.0.1", "BALANCER_PORT": "\(balancerPort)",
            "WSSCALE_POOL": name,
            "CLIENT_HOST": "127.0.0.1", "CLIENT_PORT": "\(clientPort)",
            "CLIENT_TARGET_URL": "ws://127.0.0.1:\(trafficPort)",
        ]) { _, new in new }
        environment.merge(engine.balancerEnvironment(network: name)) { _, new in new }
        // `{stack}` in a setting is the stack's name (its network, `{stack}-redis` its Redis).
        let stackName = name
        environment.merge(settings.mapValues { $0.replacingOccurrences(of: "{stack}", with: stackName) }) { _, new in new }
        self.environment = environment
    }

    /// Starts the stack and waits until the balancer has a server in rotation.
    /// - Parameters:
    ///   - engine: Docker or Podman.
    ///   - settings: knobs replacing `seedEnvironment`'s (`{stack}` in a value is the stack's name).
    /// - Returns: the running stack; call `stop()` at the end, also on failure.
    public static func start(engine: StackEngine = .docker, settings: [String: String] = [:],
                             haproxyCount: Int = 1) async throws -> ContainerBackendStack {
        let stack = try ContainerBackendStack(engine: engine, settings: settings, haproxyCount: haproxyCount)
        do {
            try await stack.startParts()
        } catch {
            let logs = stack.logs()
            _ = await stack.stop()
            throw TestEnvironmentError("the \(engine.backend)-backend stack did not start: \(error)\n\(logs)")
        }
        return stack
    }

    /// Starts a stack, runs `body` on it and stops it, whatever happens (printing the logs
    /// first when `body` throws).
    /// - Parameters:
    ///   - engine: Docker or Podman.
    ///   - settings: knobs replacing `seedEnvironment`'s.
    ///   - body: the test.
    /// - Returns: what `body` returned, and what stopping left behind (empty when clean).
    public static func run<Result>(engine: StackEngine, settings: [String: String] = [:], haproxyCount: Int = 1,
                                   _ body: (ContainerBackendStack) async throws -> Result) async throws -> (result: Result, left: [String]) {
        let stack = try await start(engine: engine, settings: settings, haproxyCount: haproxyCount)
        let result: Result
        do {
            result = try await body(stack)
        } catch {
            print(stack.logs())
            await stack.stop()
            throw error
        }
        return (result, await stack.stop())
    }

    private func startParts() async throws {
        let redisImage = "wsscale-redis:local"
        let build = await TestCommand.runDetached(engine.cli.program, ["build", "-q", "-t", redisImage,
                                                                      ComposeStack.directory.appendingPathComponent("redis").path])
        guard build.status == 0 else { throw TestEnvironmentError("\(engine.cli.program) build \(redisImage): \(build.output)") }
        // Swarm services join only swarm networks: an overlay that Redis's container may attach to.
        let network = engine.cli.run(["network", "create"] + (engine.isSwarm ? ["-d", "overlay", "--attachable"] : []) + [name])
        guard network.status == 0 else { throw TestEnvironmentError("\(engine.cli.program) network create: \(network.output)") }
        let redis = engine.cli.run(["run", "-d", "--name", redisContainer, "--network", name,
                                    "-p", "127.0.0.1:\(redisPort):6379", redisImage])
        guard redis.status == 0 else { throw TestEnvironmentError("\(engine.cli.program) run redis: \(redis.output)") }

        for index in trafficPorts.indices { try await startHAProxy(index) }

        try spawn("balancer", ["balancer", "--backend", engine.backend])
        try spawn("client", ["client"])
        let ready = await TestSupport.eventually(timeout: .seconds(60)) {
            try await self.topology().inRotation.count >= 1
        }
        guard ready else { throw TestEnvironmentError("no server in rotation within 60 s") }
    }

    private func spawn(_ role: String, _ arguments: [String], environment extra: [String: String] = [:]) throws {
        let process = try LocalProcess.spawn(executable: Self.hostBinary, arguments: arguments,
                                             environment: environment.merging(extra) { _, new in new },
                                             outputPath: "\(directory)/\(role).log")
        processes.withLockedValue { $0[role] = process }
        roles.withLockedValue { _ = $0.insert(role) }
    }

    /// The runtime socket of HAProxy number `index` (from 0) under `directory`.
    static func runtimeSocket(of index: Int, in directory: String) -> String {
        index == 0 ? "\(directory)/haproxy.sock" : "\(directory)/haproxy-\(index + 1)/admin.sock"
    }

    /// Starts HAProxy number `index` (from 0), again after `killHAProxy` (empty, as after a crash).
    public func startHAProxy(_ index: Int) async throws {
        let folder = index == 0 ? directory : "\(directory)/haproxy-\(index + 1)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let configuration = HAProxyConfiguration(runtimeSocketPath: Self.runtimeSocket(of: index, in: directory),
                                                 trafficBind: "127.0.0.1:\(trafficPorts[index])",
                                                 statsBind: index == 0 ? "127.0.0.1:\(statsPort)" : nil)
        let started = try await HAProxyProcess.start(configuration, in: folder, logger: Logger(label: "test.haproxy"))
        haproxies.withLockedValue { $0[index] = started }
    }

    /// Kills HAProxy number `index` (SIGKILL, as a crash) and waits until it is gone.
    public func killHAProxy(_ index: Int) async {
        guard let started = haproxies.withLockedValue({ $0.removeValue(forKey: index) }) else { return }
        started.process.send(SIGKILL)
        _ = await TestSupport.eventually(timeout: .seconds(10)) { started.process.exitStatusIfEnded() != nil }
    }

    /// What HAProxy number `index` holds for the pool, read through its runtime API.
    public func proxyReading(_ index: Int) async throws -> ProxyReading {
        try await HAProxyTrafficProxy(api: HAProxyRuntimeAPI(address: .unixSocket(path: Self.runtimeSocket(of: index, in: directory))),
                                      backend: "wsscale_servers", logger: Logger(label: "test.haproxy")).read()
    }

    /// Starts one more client simulator, its users connecting through HAProxy number `index`.
    /// - Returns: its API.
    public func startClient(_ role: String, through index: Int) throws -> DockerStackClient {
        let port = try TestSupport.freeLoopbackPort()
        try spawn(role, ["client"], environment: ["CLIENT_PORT": "\(port)", "CLIENT_TARGET_URL": "ws://127.0.0.1:\(trafficPorts[index])"])
        return DockerStackClient(port: port, token: TestSupport.adminToken)
    }

    /// Starts one more balancer on the same pool (the same Redis, HAProxy and engine) as
    /// `role`, named `id` (`BALANCER_ID`), its API on a port of its own.
    /// - Returns: its API port.
    public func startBalancer(_ role: String, id: String) throws -> Int {
        let port = try TestSupport.freeLoopbackPort()
        try spawn(role, ["balancer", "--backend", engine.backend], environment: ["BALANCER_PORT": "\(port)", "BALANCER_ID": id])
        return port
    }

    /// Sends `signal` to a process the stack started (`balancer`, `client`, or one `startBalancer` named).
    public func signal(_ role: String, _ signal: Int32) {
        processes.withLockedValue { $0[role] }?.send(signal)
    }

    /// Waits until a process the stack started has ended (after a SIGKILL).
    public func waitForEnd(of role: String, timeout: Duration) async -> Bool {
        guard let process = processes.withLockedValue({ $0[role] }) else { return true }
        return await TestSupport.eventually(timeout: timeout) { process.exitStatusIfEnded() != nil }
    }

    /// The pool as the balancer on `port` shows it, all of it (`PoolStatus`).
    public func status(port: Int) async throws -> PoolStatus {
        let response = try await RawHTTPClient.request("GET", "/api/topology", port: port)
        guard response.status == 200 else { throw TestEnvironmentError("GET /api/topology on \(port): \(response.status) \(response.body)") }
        return try JSONDecoder().decode(PoolStatus.self, from: Data(response.body.utf8))
    }

    /// The pool as the balancer's `GET /api/topology` shows it.
    public func topology() async throws -> BalancerTopology {
        let response = try await RawHTTPClient.request("GET", "/api/topology", port: balancerPort)
        guard response.status == 200 else { throw TestEnvironmentError("GET /api/topology: \(response.status) \(response.body)") }
        return try JSONDecoder().decode(BalancerTopology.self, from: Data(response.body.utf8))
    }

    /// The client simulator's API.
    public var client: DockerStackClient { DockerStackClient(port: clientPort, token: TestSupport.adminToken) }

    /// Kills one server's container from outside (`docker kill`, `podman kill`), the way a crash would.
    public func killServer(_ id: String) throws {
        var container = "\(pool)-\(id)"
        if engine.isSwarm {
            guard let task = SwarmTestEnvironment.taskContainer(ofService: container) else {
                throw TestEnvironmentError("no running task container of the service \(container)")
            }
            container = task
        }
        let killed = engine.cli.run(["kill", container])
        guard killed.status == 0 else { throw TestEnvironmentError("\(engine.cli.program) kill \(id): \(killed.output)") }
    }

    /// The topology, the client simulator's status and the logs, for a failure message.
    public func describe() async -> String {
        let topology = (try? await RawHTTPClient.request("GET", "/api/topology", port: balancerPort).body) ?? "no topology"
        let status = (try? await RawHTTPClient.request("GET", "/route/status", port: clientPort,
                                                      headers: [("Authorization", "Bearer \(TestSupport.adminToken)")]).body) ?? "no client status"
        let haproxyState = haproxies.withLockedValue { $0 }.sorted { $0.key < $1.key }.map { index, started in
            started.process.exitStatusIfEnded().map { "haproxy \(index + 1) ENDED: \($0)" } ?? "haproxy \(index + 1) running"
        }.joined(separator: ", ")
        return "\(haproxyState)\ntopology: \(topology.prefix(3000))\nclient: \(status.prefix(3000))\n\(logs())"
    }

    /// The last lines of the balancer's, the client's and HAProxy's logs.
    public func logs() -> String {
        (roles.withLockedValue { $0 }.sorted() + ["haproxy"]).map { role in
            let text = (try? String(contentsOfFile: "\(directory)/\(role).log", encoding: .utf8)) ?? ""
            return "--- \(role)\n" + text.split(separator: "\n").suffix(25).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Stops the client and the balancer (SIGTERM), removes the pool's containers by label,
    /// stops HAProxy, removes Redis and the network, and the directory of configuration and
    /// logs (kept with `WSSCALE_IT_KEEP_STATE=1`; a failed test prints the logs first).
    /// - Returns: what is left (containers of the pool, Redis, the network), empty when clean.
    @discardableResult
    public func stop() async -> [String] {
        let running = processes.withLockedValue { current -> [String: LocalProcess] in
            defer { current.removeAll() }
            return current
        }
        // The client first (its users must not reconnect meanwhile), then every balancer.
        let order = running.keys.sorted { ($0 == "client" ? 0 : 1, $0) < ($1 == "client" ? 0 : 1, $1) }
        for process in order.compactMap({ running[$0] }) {
            process.send(SIGCONT)  // a balancer a test stopped (SIGSTOP) must see the SIGTERM
            _ = await process.terminate(grace: .seconds(5))
        }
        if engine.isSwarm {
            // Removing the services stops their tasks; the network goes once they are gone.
            SwarmTestEnvironment.removeServices(ofPool: pool)
            _ = await TestSupport.eventually(timeout: .seconds(30)) { self.engine.cli.containers(ofPool: self.pool).isEmpty }
        }
        engine.cli.removeContainers(ofPool: pool)
        for started in haproxies.withLockedValue({ current -> [HAProxyProcess] in
            defer { current = [:] }
            return Array(current.values)
        }) {
            _ = await started.stop()
        }
        engine.cli.run(["rm", "-f", redisContainer])
        if engine.isSwarm {
            // The manager frees a removed task's address in the overlay a moment after the task
            // is gone (until then the network has "active endpoints"), and the node keeps its
            // copy of a removed overlay for a few seconds more.
            _ = await TestSupport.eventually(timeout: .seconds(30)) {
                self.engine.cli.run(["network", "rm", self.network])
                return self.engine.cli.run(["network", "inspect", self.network]).status != 0
            }
        } else {
            engine.cli.run(["network", "rm", network])
        }
        var left = engine.cli.containers(ofPool: pool).map { "container \($0)" }
        if engine.isSwarm {
            left += engine.cli.run(["service", "ls", "-q", "--filter", "label=wsscale.pool=\(pool)"]).output
                .split(whereSeparator: \.isNewline).map { "service \($0)" }
        }
        if engine.cli.run(["container", "inspect", redisContainer]).status == 0 { left.append("container \(redisContainer)") }
        if engine.cli.run(["network", "inspect", network]).status == 0 { left.append("network \(network)") }
        if ProcessInfo.processInfo.environment["WSSCALE_IT_KEEP_STATE"] == nil {
            try? FileManager.default.removeItem(atPath: directory)
        }
        return left
    }
}
