import Foundation

/// One project of `docker/compose.yml` started by a test: its own project name, pool label,
/// network name and free host ports on 127.0.0.1, so it collides with nothing (a user's
/// stack, another test). Every request the test sends goes to those loopback ports.
///
/// Compose: `docker-compose` (v1, Debian's), or what `WSSCALE_COMPOSE` names (`docker compose`).
public final class DockerComposeStack: @unchecked Sendable {
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
    /// The admin token the stack's `admin-token` service made (read back from the balancer).
    public private(set) var adminToken: String?
    private var isDown = false

    /// The folder of `compose.yml`.
    public static let directory = DockerTestEnvironment.repositoryRoot.appendingPathComponent("docker")

    /// The compose command.
    public static let command: [String] = {
        let named = ProcessInfo.processInfo.environment["WSSCALE_COMPOSE"] ?? ""
        return named.isEmpty ? ["docker-compose"] : named.split(separator: " ").map(String.init)
    }()

    private init(settings: [String: String]) throws {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        project = "wsscale-test-\(suffix)"
        pool = "wsscale-test-\(suffix)"
        network = "wsscale-test-\(suffix)"
        trafficPort = try DockerTestEnvironment.freeLoopbackPort()
        statsPort = try DockerTestEnvironment.freeLoopbackPort()
        balancerPort = try DockerTestEnvironment.freeLoopbackPort()
        clientPort = try DockerTestEnvironment.freeLoopbackPort()
        dashboardPort = try DockerTestEnvironment.freeLoopbackPort()
        environment = [
            "COMPOSE_PROJECT_NAME": project, "WSSCALE_POOL": pool, "WSSCALE_DOCKER_NETWORK": network,
            "WSSCALE_IMAGE": DockerTestEnvironment.productImage,
            "PUBLISH_TRAFFIC_PORT": "\(trafficPort)", "PUBLISH_STATS_PORT": "\(statsPort)",
            "PUBLISH_BALANCER_PORT": "\(balancerPort)", "PUBLISH_CLIENT_PORT": "\(clientPort)",
            "PUBLISH_DASHBOARD_PORT": "\(dashboardPort)",
            "COMPOSE": Self.command.joined(separator: " "),
        ].merging(settings) { _, new in new }
    }

    /// `compose up -d --build` of a fresh project, then waits until the balancer's API answers.
    /// - Parameter settings: knobs that replace `docker/.env`'s (`MIN_INSTANCES`, …).
    /// - Returns: the running stack; call `down()` at the end, also on failure.
    /// - Throws: when `up` fails (its output is in the error) or the balancer does not answer in 60 s.
    public static func up(settings: [String: String] = [:]) async throws -> DockerComposeStack {
        let stack = try DockerComposeStack(settings: settings)
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
        print("compose project \(stack.project) up in \(clock.now - start) (traffic 127.0.0.1:\(stack.trafficPort), balancer 127.0.0.1:\(stack.balancerPort), client 127.0.0.1:\(stack.clientPort))")
        return stack
    }

    /// Runs the compose command with this project's environment in `docker/`.
    public func compose(_ arguments: [String]) async -> (status: Int32, output: String) {
        await DockerTestEnvironment.runDetached(Self.command[0], Array(Self.command.dropFirst()) + arguments,
                                                environment: environment, directory: Self.directory)
    }

    /// Stops everything with `docker/down.sh` (the balancer, the pool's servers by label, then
    /// `down`). Safe to call twice.
    @discardableResult
    public func down() async -> (status: Int32, output: String) {
        guard !isDown else { return (0, "") }
        isDown = true
        return await DockerTestEnvironment.runDetached(Self.directory.appendingPathComponent("down.sh").path, [],
                                                       environment: environment, directory: Self.directory)
    }

    /// What is left of this project: containers with its compose label or its pool label,
    /// and its network.
    public func leftovers() -> [String] {
        var left: [String] = []
        for label in ["com.docker.compose.project=\(project)", "wsscale.pool=\(pool)"] {
            left += DockerTestEnvironment.docker("ps", "-a", "--filter", "label=\(label)", "--format", "{{.Names}}").output
                .split(whereSeparator: \.isNewline).map { "container \($0)" }
        }
        for name in [network, "\(network)_control"] where DockerTestEnvironment.docker("network", "inspect", name).status == 0 {
            left.append("network \(name)")
        }
        return left
    }

    /// The pool as the balancer's `GET /api/topology` shows it.
    public func topology() async throws -> BalancerTopology {
        let response = try await RawHTTPClient.request("GET", "/api/topology", port: balancerPort)
        guard response.status == 200 else { throw TestEnvironmentError("GET /api/topology: \(response.status) \(response.body)") }
        return try JSONDecoder().decode(BalancerTopology.self, from: Data(response.body.utf8))
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
        public var balancerState: String?
        /// Its sessions in the registry.
        public var sessions: Int

        /// In rotation: active for the balancer and ready in HAProxy.
        public var isInRotation: Bool { state == "active" && balancerState == "ready" }
    }

    /// Every server of the pool.
    public var instances: [Instance]
    /// Sessions in the registry.
    public var totalSessions: Int

    /// The servers in rotation.
    public var inRotation: [Instance] { instances.filter(\.isInRotation) }
}
