import Foundation

/// One deployment of `docker/stack.yml` on the single-node swarm of the Docker tests
/// (`SwarmTestEnvironment`), as a user deploys it: the images built, the secrets made by
/// `wsscale secrets` in a state folder of its own, then `docker stack deploy -c
/// docker/stack.yml <stack>`. Its own stack name, pool, control subnet and free host ports,
/// so it collides with nothing; every request the test sends goes to those ports on 127.0.0.1.
public final class SwarmStackDeployment: @unchecked Sendable {
    /// The stack's name (`docker stack deploy … <stack>`).
    public let stack: String
    /// The servers' pool label (`WSSCALE_POOL`).
    public let pool: String
    /// HAProxy's traffic port (host mode, 8000 in the container).
    public let trafficPort: Int
    /// The balancer's API (8488 in the container).
    public let balancerPort: Int
    /// The client simulator's API (8089 in the container).
    public let clientPort: Int
    /// The dashboard (8489 in the container).
    public let dashboardPort: Int
    /// The control network's subnet (`WSSCALE_STACK_CONTROL_SUBNET`).
    public let controlSubnet: String
    /// The environment `docker stack deploy` runs with (the stack file's variables).
    public let environment: [String: String]
    /// The secrets' folder (`WSSCALE_STACK_STATE_DIR`), removed with the stack.
    public let stateDirectory: String
    /// The admin token `wsscale secrets` made.
    public private(set) var adminToken = ""
    private var isRemoved = false

    /// `docker/stack.yml`.
    public static let file = DockerTestEnvironment.repositoryRoot.appendingPathComponent("docker/stack.yml")

    /// Redis's and HAProxy's images, built once per test process from `docker/redis` and
    /// `docker/haproxy` (what `docker/stack-up.sh` builds; the stack file builds nothing).
    static let supportImages: String? = {
        for (image, folder) in [("wsscale-redis:local", "redis"), ("wsscale-haproxy:local", "haproxy")] {
            let built = DockerTestEnvironment.docker("build", "-q", "-t", image,
                                                     DockerTestEnvironment.repositoryRoot.appendingPathComponent("docker/\(folder)").path)
            if built.status != 0 { return "docker build -t \(image) docker/\(folder): \(built.output.suffix(2000))" }
        }
        return nil
    }()

    private init(settings: [String: String]) throws {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        stack = "wsscale-test-\(suffix)"
        pool = "wsscale-test-\(suffix)"
        trafficPort = try TestSupport.freeLoopbackPort()
        balancerPort = try TestSupport.freeLoopbackPort()
        clientPort = try TestSupport.freeLoopbackPort()
        dashboardPort = try TestSupport.freeLoopbackPort()
        controlSubnet = "10.231.\(Int.random(in: 1...250)).0/24"
        stateDirectory = NSTemporaryDirectory() + "\(stack)-state"
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        environment = [
            "WSSCALE_STACK_STATE_DIR": stateDirectory, "WSSCALE_POOL": pool, "WSSCALE_IMAGE": DockerTestEnvironment.productImage,
            "WSSCALE_STACK_CONTROL_SUBNET": controlSubnet,
            "PUBLISH_TRAFFIC_PORT": "\(trafficPort)", "PUBLISH_BALANCER_PORT": "\(balancerPort)",
            "PUBLISH_CLIENT_PORT": "\(clientPort)", "PUBLISH_DASHBOARD_PORT": "\(dashboardPort)",
        ].merging(settings) { _, new in new }
    }

    /// The one command a user runs (`docker/stack-up.sh`): the swarm, the images, the secrets, the deploy.
    public static let upScript = DockerTestEnvironment.repositoryRoot.appendingPathComponent("docker/stack-up.sh")

    /// Deploys a fresh stack and waits until its balancer answers.
    /// - Parameters:
    ///   - settings: knobs for the stack file (`MIN_INSTANCES`, …).
    ///   - withUpScript: deploy with `docker/stack-up.sh`, as a user does the first time
    ///     (it builds the images and makes the secrets itself); else `wsscale secrets`, then
    ///     `docker stack deploy` (as a user does once the images and secrets exist).
    /// - Returns: the deployed stack; call `remove()` at the end, also on failure.
    public static func deploy(settings: [String: String] = [:], withUpScript: Bool = false) async throws -> SwarmStackDeployment {
        if let problem = supportImages { throw TestEnvironmentError(problem) }
        let deployment = try SwarmStackDeployment(settings: settings)
        if withUpScript {
            let up = await DockerTestEnvironment.runDetached(upScript.path, [], environment: deployment.environment
                .merging(["WSSCALE_STACK": deployment.stack]) { _, new in new })
            guard up.status == 0,
                  let token = try? String(contentsOfFile: deployment.stateDirectory + "/admin/admin-token", encoding: .utf8) else {
                await deployment.remove()
                throw TestEnvironmentError("docker/stack-up.sh: \(up.output.suffix(3000))")
            }
            deployment.adminToken = token.trimmingCharacters(in: .whitespacesAndNewlines)
            return try await deployment.waitUntilAnswering()
        }
        let secrets = await DockerTestEnvironment.runDetached(
            "docker", ["run", "--rm", "--network", "none", "--user", "0:0", "-v", "\(deployment.stateDirectory):/state",
                       DockerTestEnvironment.productImage, "secrets", "--state-dir", "/state", "--redis-host", "redis",
                       "--owner", "65534:65534"])
        guard secrets.status == 0,
              let token = try? String(contentsOfFile: deployment.stateDirectory + "/admin/admin-token", encoding: .utf8) else {
            await deployment.remove()
            throw TestEnvironmentError("wsscale secrets: \(secrets.output)")
        }
        deployment.adminToken = token.trimmingCharacters(in: .whitespacesAndNewlines)
        let deployed = await DockerTestEnvironment.runDetached("docker", ["stack", "deploy", "-c", file.path, deployment.stack],
                                                               environment: deployment.environment)
        guard deployed.status == 0 else {
            await deployment.remove()
            throw TestEnvironmentError("docker stack deploy: \(deployed.output.suffix(3000))")
        }
        return try await deployment.waitUntilAnswering()
    }

    /// Waits until the balancer answers (90 s); removes the stack and throws when it does not.
    private func waitUntilAnswering() async throws -> SwarmStackDeployment {
        let port = balancerPort
        let answered = await TestSupport.eventually(timeout: .seconds(90)) {
            try await RawHTTPClient.request("GET", "/health", port: port).status == 200
        }
        guard answered else {
            let logs = logs()
            await remove()
            throw TestEnvironmentError("the balancer did not answer on 127.0.0.1:\(port) within 90 s:\n\(logs)")
        }
        print("swarm stack \(stack) deployed (traffic 127.0.0.1:\(trafficPort), balancer 127.0.0.1:\(balancerPort), client 127.0.0.1:\(clientPort), control \(controlSubnet))")
        return self
    }

    /// `docker stack rm`, as a user types it, then waits until nothing of the stack is left
    /// (its services, the servers, their containers, networks and secrets) or 60 s pass, and
    /// removes the state folder. Safe to call twice.
    /// - Returns: what `docker stack rm` said, and what was still left when the wait ended.
    @discardableResult
    public func remove() async -> (output: String, left: [String]) {
        guard !isRemoved else { return ("", []) }
        isRemoved = true
        let removed = await DockerTestEnvironment.runDetached("docker", ["stack", "rm", stack])
        _ = await TestSupport.eventually(timeout: .seconds(60), interval: .milliseconds(250)) { self.leftovers().isEmpty }
        let left = leftovers()
        // Whatever `stack rm` left, the test does not leave behind.
        SwarmTestEnvironment.removeServices(ofPool: pool)
        try? FileManager.default.removeItem(atPath: stateDirectory)
        return (removed.output, left)
    }

    /// What is left of this stack: services, containers and secrets with its namespace label
    /// or its pool label, and its networks.
    public func leftovers() -> [String] {
        var left: [String] = []
        for label in ["com.docker.stack.namespace=\(stack)", "wsscale.pool=\(pool)"] {
            for (kind, arguments) in [("service", ["service", "ls", "--format", "{{.Name}}"]),
                                      ("container", ["ps", "-a", "--format", "{{.Names}}"]),
                                      ("secret", ["secret", "ls", "--format", "{{.Name}}"])] {
                left += ContainerCLI.docker.run(arguments + ["--filter", "label=\(label)"]).output
                    .split(whereSeparator: \.isNewline).map { "\(kind) \($0)" }
            }
        }
        for name in ["\(stack)_traffic", "\(stack)_control"] where DockerTestEnvironment.docker("network", "inspect", name).status == 0 {
            left.append("network \(name)")
        }
        return Array(Set(left)).sorted()
    }

    /// The running task container of one of the stack's services (`balancer`, `haproxy` …).
    public func container(ofService service: String) -> String? {
        SwarmTestEnvironment.taskContainer(ofService: "\(stack)_\(service)")
    }

    /// The running task container of server `id` (its service is `<pool>-<id>`).
    public func container(ofServer id: String) -> String? {
        SwarmTestEnvironment.taskContainer(ofService: "\(pool)-\(id)")
    }

    /// The pool as the balancer's `GET /api/topology` shows it.
    public func topology() async throws -> BalancerTopology {
        let response = try await RawHTTPClient.request("GET", "/api/topology", port: balancerPort)
        guard response.status == 200 else { throw TestEnvironmentError("GET /api/topology: \(response.status) \(response.body)") }
        return try JSONDecoder().decode(BalancerTopology.self, from: Data(response.body.utf8))
    }

    /// The seed's experiments on this stack through its ports on 127.0.0.1; a server is killed
    /// as its task container (`docker kill`), and its metrics are read inside that container.
    public var scenario: StackScenario {
        let (token, deployment) = (adminToken, self)
        return StackScenario(
            api: StackAPI(clientPort: clientPort, balancerPort: balancerPort, adminToken: token),
            killServer: { id in
                guard let container = deployment.container(ofServer: id) else { throw ScenarioFailure("no running task of server \(id)") }
                let killed = DockerTestEnvironment.docker("kill", container)
                guard killed.status == 0 else { throw ScenarioFailure("docker kill \(container): \(killed.output)") }
            },
            serverMetric: { name, server in
                guard let container = deployment.container(ofServer: server.id) else { throw ScenarioFailure("no running task of server \(server.id)") }
                let port = server.endpoint?.port ?? 8088
                let metrics = DockerTestEnvironment.docker("exec", container, "busybox", "wget", "-q", "-O", "-", "--header",
                                                           "Authorization: Bearer \(token)", "http://127.0.0.1:\(port)/metrics")
                guard metrics.status == 0 else { throw ScenarioFailure("GET /metrics in \(container): \(metrics.output)") }
                return PrometheusText.value(of: name, in: metrics.output)
            })
    }

    /// The client simulator's API.
    public var client: DockerStackClient { DockerStackClient(port: clientPort, token: adminToken) }

    /// The last lines of each of the stack's services' logs (for failure messages).
    public func logs() -> String {
        ["balancer", "engine-proxy", "haproxy", "redis", "client"].map { service in
            "== \(service)\n" + DockerTestEnvironment.docker("service", "logs", "--tail", "25", "\(stack)_\(service)").output
        }.joined(separator: "\n")
    }
}
