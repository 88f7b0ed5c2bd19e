import Foundation

/// A compose program and the engine it drives, as the compose tests use them.
public struct ComposeEngine: Sendable, CustomStringConvertible {
    /// The compose command (`docker-compose`, `podman-compose`).
    public var command: [String]
    /// The engine's CLI and image.
    public var engine: StackEngine
    /// What `docker/compose.yml` is told about the engine (`WSSCALE_ENGINE`, its socket, the image).
    public var settings: [String: String]

    /// docker-compose (v1, Debian's), or what `WSSCALE_COMPOSE` names (`docker compose`).
    public static var docker: ComposeEngine {
        let named = ProcessInfo.processInfo.environment["WSSCALE_COMPOSE"] ?? ""
        return ComposeEngine(command: named.isEmpty ? ["docker-compose"] : named.split(separator: " ").map(String.init),
                             engine: .docker, settings: ["WSSCALE_IMAGE": DockerTestEnvironment.productImage])
    }

    /// podman-compose 1.6.0 (`scripts/setup-podman-compose.sh`) on the rootful podman service.
    public static var podman: ComposeEngine {
        ComposeEngine(command: [PodmanTestEnvironment.composeCommand], engine: .podman,
                      settings: ["WSSCALE_ENGINE": "podman", "WSSCALE_ENGINE_SOCKET": PodmanTestEnvironment.socketPath,
                                 "WSSCALE_IMAGE": PodmanTestEnvironment.testImage])
    }

    /// podman-compose as a new non-root user runs it: that user's rootless podman service
    /// and socket, and images in that user's storage (`scripts/setup-podman-rootless.sh`).
    public static var podmanRootless: ComposeEngine {
        let cli = ContainerCLI.podman(asUser: PodmanTestEnvironment.rootlessUser, home: PodmanTestEnvironment.rootlessHome,
                                      runtimeDirectory: PodmanTestEnvironment.rootlessRuntimeDirectory)
        var engine = StackEngine.podman
        engine.cli = cli
        return ComposeEngine(command: Array(cli.leadingArguments.dropLast()) + [PodmanTestEnvironment.composeCommand], engine: engine,
                             settings: ["WSSCALE_ENGINE": "podman", "WSSCALE_ENGINE_SOCKET": PodmanTestEnvironment.rootlessSocket,
                                        "WSSCALE_IMAGE": PodmanTestEnvironment.productImage],
                             rootless: true)
    }

    /// Whether it runs as a rootless user.
    public var rootless = false

    /// Why this engine's compose tests cannot run here, if they cannot.
    public var unavailableReason: String? {
        if rootless { return PodmanTestEnvironment.rootlessUnavailableReason }
        return engine.backend == "podman" ? PodmanTestEnvironment.composeUnavailableReason : DockerTestEnvironment.unavailableReason
    }

    public var description: String { rootless ? "podman-compose (rootless)" : command.last ?? "compose" }
}

/// One project of `docker/compose.yml` started by a test, on Docker or Podman: its own
/// project name, pool label, network name and free host ports on 127.0.0.1, so it collides
/// with nothing (a user's stack, another test). Every request the test sends goes to those
/// loopback ports.
public final class ComposeStack: @unchecked Sendable {
    /// The compose program and its engine.
    public let compose: ComposeEngine
    /// The compose project name (`COMPOSE_PROJECT_NAME`).
    public let project: String
    /// The servers' pool label (`WSSCALE_POOL`).
    public let pool: String
    /// The traffic network HAProxy and the servers join (`WSSCALE_DOCKER_NETWORK`); the
    /// control network is `<network>_control`.
    public let network: String
    /// HAProxy's traffic port on 127.0.0.1 (8000 in the container).
    public let trafficPort: Int
    /// HAProxy's stats page on 127.0.0.1 (8404 in the container).
    public let statsPort: Int
    /// The balancer's API on 127.0.0.1 (8488 in the container).
    public let balancerPort: Int
    /// The client simulator's API on 127.0.0.1 (8089 in the container).
    public let clientPort: Int
    /// The dashboard on 127.0.0.1 (8489 in the container).
    public let dashboardPort: Int
    /// The environment compose runs with (the shell's wins over `docker/.env`).
    public let environment: [String: String]
    /// The project's state folder (`WSSCALE_COMPOSE_STATE_DIR`: the secrets, HAProxy's runtime
    /// API socket), a fresh one per project, owned by the user compose runs as; removed after `down`.
    public let stateDirectory: String
    /// The admin token the stack's `admin-token` service made (read back from the balancer).
    public private(set) var adminToken: String?
    private var isDown = false

    /// The folder of `compose.yml`.
    public static let directory = DockerTestEnvironment.repositoryRoot.appendingPathComponent("docker")

    private init(compose: ComposeEngine, settings: [String: String]) throws {
        self.compose = compose
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        project = "wsscale-test-\(suffix)"
        pool = "wsscale-test-\(suffix)"
        network = "wsscale-test-\(suffix)"
        trafficPort = try TestSupport.freeLoopbackPort()
        statsPort = try TestSupport.freeLoopbackPort()
        balancerPort = try TestSupport.freeLoopbackPort()
        clientPort = try TestSupport.freeLoopbackPort()
        dashboardPort = try TestSupport.freeLoopbackPort()
        stateDirectory = (compose.rootless ? PodmanTestEnvironment.rootlessHome + "/" : NSTemporaryDirectory()) + "\(project)-state"
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        if compose.rootless {
            let owned = TestCommand.run("/bin/chown", ["\(PodmanTestEnvironment.rootlessUser):", stateDirectory])
            guard owned.status == 0 else { throw TestEnvironmentError("chown \(stateDirectory): \(owned.output)") }
        }
        environment = [
            "WSSCALE_COMPOSE_STATE_DIR": stateDirectory,
            "COMPOSE_PROJECT_NAME": project, "WSSCALE_POOL": pool, "WSSCALE_DOCKER_NETWORK": network,
            "PUBLISH_TRAFFIC_PORT": "\(trafficPort)", "PUBLISH_STATS_PORT": "\(statsPort)",
            "PUBLISH_BALANCER_PORT": "\(balancerPort)", "PUBLISH_CLIENT_PORT": "\(clientPort)",
            "PUBLISH_DASHBOARD_PORT": "\(dashboardPort)",
        ].merging(compose.settings) { _, new in new }.merging(settings) { _, new in new }
    }

    /// How long `up` took, until the balancer answered.
    public private(set) var upTime: Duration = .zero

    /// `compose up -d --build` of a fresh project, then waits until the balancer's API answers.
    /// - Parameters:
    ///   - compose: docker-compose or podman-compose.
    ///   - settings: knobs that replace `docker/.env`'s (`MIN_INSTANCES`, …).
    /// - Returns: the running stack; call `down()` at the end, also on failure.
    /// - Throws: when `up` fails (its output is in the error) or the balancer does not answer in 60 s.
    public static func up(_ compose: ComposeEngine = .docker, settings: [String: String] = [:]) async throws -> ComposeStack {
        let stack = try ComposeStack(compose: compose, settings: settings)
        let clock = ContinuousClock()
        let start = clock.now
        let up = await stack.compose(["up", "-d", "--build"])
        guard up.status == 0 else {
            let logs = await stack.compose(["logs", "--tail=30"])
            _ = await stack.down()
            throw TestEnvironmentError("compose up failed (\(up.status)): \(up.output.suffix(3000))\nlogs:\n\(logs.output.suffix(3000))")
        }
        let answered = await TestSupport.eventually(timeout: .seconds(60)) {
            try await RawHTTPClient.request("GET", "/health", port: stack.balancerPort).status == 200
        }
        guard answered else {
            let logs = await stack.compose(["logs", "--tail=30"])
            _ = await stack.down()
            throw TestEnvironmentError("the balancer did not answer on 127.0.0.1:\(stack.balancerPort) within 60 s; logs:\n\(logs.output.suffix(4000))")
        }
        // No WSSCALE_ADMIN_TOKEN given: the admin-token service made one, as it does for a user.
        let token = await stack.compose(["exec", "-T", "balancer", "cat", "/run/wsscale-admin/admin-token"])
        guard token.status == 0, let text = token.output.split(separator: "\n").last, text.count == 64 else {
            _ = await stack.down()
            throw TestEnvironmentError("no admin token in the balancer's /run/wsscale-admin/admin-token: \(token.output.suffix(500))")
        }
        stack.adminToken = String(text)
        // The secrets' folders are the engine's bind mounts: nobody else on the host may enter them.
        let modes = stack.stateFolderModes()
        guard modes.allSatisfy({ $0.mode == 0o700 }) else {
            _ = await stack.down()
            throw TestEnvironmentError("the state folder's modes are not 0700: \(modes.map { "\($0.path) \(String($0.mode, radix: 8))" })")
        }
        stack.upTime = clock.now - start
        print("compose project \(stack.project) up in \(clock.now - start) (traffic 127.0.0.1:\(stack.trafficPort), balancer 127.0.0.1:\(stack.balancerPort), client 127.0.0.1:\(stack.clientPort))")
        return stack
    }

    /// Runs the compose command with this project's environment in `docker/`.
    public func compose(_ arguments: [String]) async -> (status: Int32, output: String) {
        await DockerTestEnvironment.runDetached(compose.command[0], Array(compose.command.dropFirst()) + arguments,
                                                environment: environment, directory: Self.directory)
    }

    /// The engine's CLI.
    public func cli(_ arguments: String...) -> (status: Int32, output: String) {
        compose.engine.cli.run(arguments)
    }

    /// `compose down`, as a user types it (no `-v`), then the test's state folder is removed.
    /// Safe to call twice.
    @discardableResult
    public func down() async -> (status: Int32, output: String) {
        guard !isDown else { return (0, "") }
        isDown = true
        // The engine proxy's log while it goes down (it removes the servers under podman-compose):
        // gone with its container, so followed from now and added to what `down` printed.
        let proxyLog = followLog(of: "\(project)_engine-proxy_1")
        let down = await compose(["down"])
        try? FileManager.default.removeItem(atPath: stateDirectory)
        return (down.status, down.output + "\nengine proxy's log:\n" + proxyLog())
    }

    /// Follows a container's log (`logs -f`) into a temporary file; the returned function stops
    /// following and gives the text.
    private func followLog(of container: String) -> () -> String {
        let path = NSTemporaryDirectory() + "\(container)-\(UUID().uuidString).log"
        guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
            return { "" }
        }
        let cli = compose.engine.cli
        let arguments = cli.leadingArguments.isEmpty ? [cli.program] : cli.leadingArguments
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments + ["logs", "-f", container]
        process.standardOutput = file
        process.standardError = file
        try? process.run()
        return {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            try? file.close()
            defer { try? FileManager.default.removeItem(atPath: path) }
            return String(String((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").suffix(3000))
        }
    }

    /// The modes of the state folder and of each folder in it.
    public func stateFolderModes() -> [(path: String, mode: Int)] {
        ["", "/admin", "/redis", "/balancer", "/haproxy-admin"].map { folder in
            let attributes = try? FileManager.default.attributesOfItem(atPath: stateDirectory + folder)
            return (stateDirectory + folder, (attributes?[.posixPermissions] as? NSNumber)?.intValue ?? -1)
        }
    }

    /// What is left of this project: containers with its compose label or its pool label,
    /// its networks and its volumes.
    public func leftovers() -> [String] {
        var left: [String] = []
        for label in ["com.docker.compose.project=\(project)", "wsscale.pool=\(pool)"] {
            left += compose.engine.cli.run(["ps", "-a", "--filter", "label=\(label)", "--format", "{{.Names}}"]).output
                .split(whereSeparator: \.isNewline).map { "container \($0)" }
        }
        for name in [network, "\(network)_control"] where compose.engine.cli.run(["network", "inspect", name]).status == 0 {
            left.append("network \(name)")
        }
        left += compose.engine.cli.run(["volume", "ls", "-q"]).output.split(whereSeparator: \.isNewline)
            .filter { $0.hasPrefix("\(project)_") }.map { "volume \($0)" }
        return Array(Set(left)).sorted()
    }

    /// The pool as the balancer's `GET /api/topology` shows it.
    public func topology() async throws -> BalancerTopology {
        let response = try await RawHTTPClient.request("GET", "/api/topology", port: balancerPort)
        guard response.status == 200 else { throw TestEnvironmentError("GET /api/topology: \(response.status) \(response.body)") }
        return try JSONDecoder().decode(BalancerTopology.self, from: Data(response.body.utf8))
    }

    /// The seed's experiments on this project, everything through its loopback ports; a
    /// server's metrics are read inside its container, where it listens.
    public var scenario: StackScenario {
        let (cli, pool, token) = (compose.engine.cli, pool, adminToken ?? "")
        return StackScenario(
            api: StackAPI(clientPort: clientPort, balancerPort: balancerPort, adminToken: token),
            killServer: { id in
                let killed = cli.run(["kill", "\(pool)-\(id)"])
                guard killed.status == 0 else { throw ScenarioFailure("\(cli.program) kill \(pool)-\(id): \(killed.output)") }
            },
            serverMetric: { name, server in
                let port = server.endpoint?.port ?? 8088
                let metrics = cli.run(["exec", "\(pool)-\(server.id)", "busybox", "wget", "-q", "-O", "-",
                                       "--header", "Authorization: Bearer \(token)", "http://127.0.0.1:\(port)/metrics"])
                guard metrics.status == 0 else { throw ScenarioFailure("GET /metrics in \(pool)-\(server.id): \(metrics.output)") }
                return PrometheusText.value(of: name, in: metrics.output)
            })
    }

    /// The project's own containers (its services, not the servers) that are not running,
    /// or whose health check fails when run now, each with what is wrong.
    public func unhealthyServices() -> [String] {
        let listed = cli("ps", "-a", "--filter", "label=com.docker.compose.project=\(project)", "--format", "{{.Names}} {{.Status}}").output
        var problems: [String] = []
        for line in listed.split(whereSeparator: \.isNewline) {
            let name = String(line.split(separator: " ")[0])
            guard !name.hasPrefix("\(pool)-") else { continue }
            if name.contains("secrets") {
                if !line.contains("Exited (0)") { problems.append("\(line): the secrets are made once, then it exits 0") }
                continue
            }
            guard line.contains(" Up ") else { problems.append(String(line)); continue }
            // Podman without systemd runs no health check on its own: run it now, on both engines.
            let health = compose.engine.backend == "podman"
                ? cli("healthcheck", "run", name)
                : cli("inspect", "-f", "{{.State.Health.Status}}", name)
            let healthy = compose.engine.backend == "podman" || health.output.trimmingCharacters(in: .whitespacesAndNewlines) == "healthy"
            if health.status != 0 || !healthy {
                problems.append("\(name): health \(health.output.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        }
        return problems
    }

    /// The client simulator's API.
    public var client: DockerStackClient { DockerStackClient(port: clientPort, token: adminToken ?? "") }

    /// The last lines of every service's log (for failure messages).
    public func logs() async -> String {
        await compose(["logs", "--no-color", "--tail=40"]).output
    }
}

/// The fields of the balancer's `GET /api/topology` the Docker tests read.
public struct BalancerTopology: Decodable, Sendable {
    /// One server.
    public struct Instance: Decodable, Sendable {
        /// Its id (the container's name).
        public var id: String
        /// `starting`, `active`, `draining` …
        public var state: String
        /// HAProxy's view (`ready`, `drain`, `maint`), when known.
        public var proxyState: String?
        /// Its sessions in the registry.
        public var sessions: Int

        /// In rotation: active for the balancer and ready in HAProxy.
        public var isInRotation: Bool { state == "active" && proxyState == "ready" }
    }

    /// Every server of the pool.
    public var instances: [Instance]
    /// Sessions in the registry.
    public var totalSessions: Int

    /// The servers in rotation.
    public var inRotation: [Instance] { instances.filter(\.isInRotation) }
}
