import Foundation
import Testing
import WSScaleCore
import WSScaleTestSupport

extension RealStackTests {
/// `docker/stack.yml` as a user deploys it (`SwarmStackDeployment`: `wsscale secrets`, then
/// `docker stack deploy`) on the single-node swarm of the Docker tests: redis, HAProxy as a
/// global service, the engine proxy in swarm mode, the balancer on the swarm backend, the
/// client simulator and the dashboard, all in the stack; the servers are services the
/// balancer adds to it. The seed's experiments 1 and 4 through the client simulator's and the
/// balancer's published ports on 127.0.0.1; `docker stack rm` leaves nothing.
@Suite("docker/stack.yml on a swarm",
       .enabled(if: SwarmTestEnvironment.isAvailable, "needs a swarm manager (docker swarm init on the Docker tests' dockerd)"))
struct SwarmStackDeployTests {
    /// The seed's knobs, with a short scale-in stabilization and stop grace.
    static let seedSettings = ["MIN_INSTANCES": "1", "MAX_INSTANCES": "10", "SCALE_IN_STABILIZATION_SECONDS": "1",
                               "STOP_GRACE_SECONDS": "2"]

    @Test("experiment 1 through the stack: 40 users at once, none refused, no server above 30; the servers are the stack's services; no server reaches HAProxy's runtime API; stack rm leaves nothing")
    func burstThenRemove() async throws {
        // Deployed with docker/stack-up.sh, the command a user runs the first time.
        try await Self.withDeployment(withUpScript: true) { deployment in
            let scenario = deployment.scenario
            try await TestSupport.waitUntil("one server in rotation", timeout: .seconds(60), {
                try await scenario.api.topology().active.count == 1
            }, describe: { await scenario.describeState() })
            let report = try await scenario.burstOfUsers(40)
            print("stack.yml experiment 1: all 40 connected after \(report.timeToAllConnected), refused \(report.refusedByFirstServer), "
                  + "highest \(report.highestSessions), \(report.servers) servers")
            #expect(report.refusedByFirstServer == 0)
            #expect(report.highestSessions <= 30)

            // One swarm service per server, in the stack: `docker stack services` lists them.
            let servers = try await scenario.api.topology().instances.map { "\(deployment.pool)-\($0.id)" }
            let listed = DockerTestEnvironment.docker("stack", "services", "--format", "{{.Name}}", deployment.stack).output
            for server in servers {
                #expect(listed.split(whereSeparator: \.isNewline).contains { $0 == server },
                        "docker stack services does not list \(server):\n\(listed)")
            }

            // HAProxy's runtime API relay answers the balancer (on the control network) and
            // nobody on the traffic network: a server cannot steer the pool through it.
            let balancer = try #require(deployment.container(ofService: "balancer"))
            let fromBalancer = DockerTestEnvironment.docker("exec", balancer, "busybox", "sh", "-c",
                                                            "echo 'show info' | busybox nc -w 3 tasks.haproxy-runtime-api 9999")
            #expect(fromBalancer.output.contains("Pid:"), "the balancer reaches HAProxy's runtime API: \(fromBalancer.output.prefix(300))")
            let topology = try await scenario.api.topology()
            let server = try #require(deployment.container(ofServer: topology.instances[0].id))
            for (what, command) in [("the relay by HAProxy's name", "echo 'show info' | busybox nc -w 3 haproxy 9999"),
                                    ("the control network's name", "getent hosts tasks.haproxy-runtime-api"),
                                    ("the engine proxy", "getent hosts engine-proxy")] {
                let tried = DockerTestEnvironment.docker("exec", server, "busybox", "sh", "-c", command)
                print("attack stack.yml: \(what) from server \(server) → exit \(tried.status) \(tried.output.prefix(200))")
                #expect(!tried.output.contains("Pid:") && (tried.status != 0 || tried.output.isEmpty),
                        "\(what) reached from a server: \(tried.output)")
            }
        }
    }

    @Test("experiment 4 through the stack: Swiss cheese settles within 10 s; the balancer's task replaced, it adopts the pool and launches nothing")
    func swissCheeseThenBalancerRestart() async throws {
        try await Self.withDeployment { deployment in
            let scenario = deployment.scenario
            let report = try await scenario.swissCheese(total: 40, timeout: .seconds(10))
            print("stack.yml experiment 4: \(report.left) users left \(report.holedServer); settled after \(report.settleTime)")
            #expect(report.settleTime < .seconds(10))

            // `docker service update --force`: swarm replaces the balancer's task; the new one
            // adopts the same servers (services) and launches none.
            let pool = try await scenario.api.topology().instances.map(\.id).sorted()
            let servicesBefore = Self.serverServices(deployment)
            let restart = await DockerTestEnvironment.runDetached("docker", ["service", "update", "--force", "--detach",
                                                                             "\(deployment.stack)_balancer"])
            #expect(restart.status == 0, "docker service update --force: \(restart.output.suffix(1000))")
            try await TestSupport.waitUntil("the new balancer task has the same pool in rotation", timeout: .seconds(60), {
                let now = try await scenario.api.topology()
                return now.instances.map(\.id).sorted() == pool && now.active.count == pool.count
            }, describe: { await scenario.describeState() })
            #expect(Self.serverServices(deployment) == servicesBefore, "the new balancer launched or removed servers")
        }
    }

    /// The stack's server services (`<pool>-<id>`), sorted.
    static func serverServices(_ deployment: SwarmStackDeployment) -> [String] {
        DockerTestEnvironment.docker("service", "ls", "--format", "{{.Name}}", "--filter", "label=wsscale.pool=\(deployment.pool)")
            .output.split(whereSeparator: \.isNewline).map(String.init).sorted()
    }

    /// Deploys a stack with the seed's knobs, runs `body`, then `docker stack rm` and checks
    /// that nothing is left: no service (the servers included), container, network or secret.
    static func withDeployment(settings: [String: String] = [:], withUpScript: Bool = false,
                               _ body: (SwarmStackDeployment) async throws -> Void) async throws {
        let deployment = try await SwarmStackDeployment.deploy(settings: seedSettings.merging(settings) { _, new in new },
                                                               withUpScript: withUpScript)
        do {
            try await body(deployment)
        } catch {
            print(deployment.logs())
            await deployment.remove()
            throw error
        }
        let servers = serverServices(deployment)
        let removed = await deployment.remove()
        print("stack.yml: docker stack rm \(deployment.stack) with \(servers.count) servers → left \(removed.left)")
        #expect(!servers.isEmpty, "the stack had servers to remove")
        #expect(removed.left.isEmpty, "docker stack rm left: \(removed.left)\n\(removed.output.suffix(2000))")
    }
}
}
