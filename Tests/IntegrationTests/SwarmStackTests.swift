import Foundation
import Testing
import WSScaleCore
import WSScaleTestSupport

extension RealStackTests {
/// The balancer on the host with the swarm backend (`ContainerBackendStack` on `.swarm`): each
/// server is a swarm service with one task on the single-node swarm of the Docker tests
/// (`SwarmTestEnvironment`), its port published in host mode and reached on 127.0.0.1, on an
/// attachable overlay where Redis's container is; HAProxy and the client simulator on the
/// host. All test traffic on loopback. Nested in `RealStackTests`: serialized with every
/// other whole-stack test.
@Suite("wsscale on a Docker Swarm, whole stacks",
       .enabled(if: SwarmTestEnvironment.isAvailable, "needs a swarm manager (docker swarm init on the Docker tests' dockerd)"))
struct SwarmStackTests {
    static func scenario(_ stack: ContainerBackendStack) -> StackScenario {
        StackScenario(api: StackAPI(clientPort: stack.clientPort, balancerPort: stack.balancerPort),
                      killServer: { id in try stack.killServer(id) })
    }

    /// Scale-out reaction time on the swarm backend, median of 5 (`ScaleOutReaction`), and one
    /// service per server. Prints the figure (README's table).
    @Test func measuresScaleOutReaction() async throws {
        let settings = ["SCALE_IN_STABILIZATION_SECONDS": "1", "MAX_INSTANCES": "4"]
        let (samples, left) = try await ContainerBackendStack.run(engine: .swarm, settings: settings) { stack in
            let samples = try await ScaleOutReaction.measure(samples: 5, traffic: Endpoint(host: "127.0.0.1", port: stack.trafficPort)) {
                try await stack.topology()
            }
            let services = ContainerCLI.docker.run(["service", "ls", "-q", "--filter", "label=wsscale.pool=\(stack.pool)"]).output
                .split(whereSeparator: \.isNewline)
            #expect(services.count == (try await stack.topology().instances.count), "one swarm service per server: \(services)")
            return samples
        }
        let median = ScaleOutReaction.median(samples)
        print("swarm backend scale-out reaction (threshold crossing → new service in rotation): median of 5 = \(median), all = \(samples)")
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test("swarm 1: 40 users at once; the overflow waits in HAProxy's queue for the new servers (none refused), everyone gets in, no server above 30")
    func burstOfUsers() async throws {
        let (report, left) = try await ContainerBackendStack.run(engine: .swarm) { try await Self.scenario($0).burstOfUsers(40) }
        #expect(left.isEmpty, "left behind: \(left)")
        print("swarm experiment 1: all 40 connected after \(report.timeToAllConnected), first server refused "
              + "\(report.refusedByFirstServer), highest \(report.highestSessions) sessions, \(report.servers) servers")
        #expect(report.refusedByFirstServer == 0)
        #expect(report.highestSessions <= 30)
    }

    @Test("swarm 4: Swiss cheese; every active server ends at most average + tolerance and everyone is connected")
    func swissCheese() async throws {
        let (report, left) = try await ContainerBackendStack.run(engine: .swarm) { try await Self.scenario($0).swissCheese(total: 40, timeout: .seconds(20)) }
        #expect(left.isEmpty, "left behind: \(left)")
        print("swarm experiment 4: \(report.left) users left \(report.holedServer); settled after \(report.settleTime)")
    }

    @Test("a server's task killed (docker kill): reported, its users reconnect elsewhere, its service removed, the pool restored")
    func killedTask() async throws {
        let (report, left) = try await ContainerBackendStack.run(engine: .swarm) { stack in
            let report = try await Self.scenario(stack).serverCrash(total: 20)
            let services = ContainerCLI.docker.run(["service", "ls", "--format", "{{.Name}}", "--filter", "label=wsscale.pool=\(stack.pool)"]).output
            #expect(!services.contains("\(stack.pool)-\(report.killed)"), "the dead server's service is gone: \(services)")
            return report
        }
        #expect(left.isEmpty, "left behind: \(left)")
        print("swarm backend, a task killed: \(report.usersOnIt) users on it; left the topology after \(report.timeToLeaveTopology), "
              + "everyone back after \(report.timeToRecover); replacements \(report.replacements)")
    }

    @Test("the balancer killed (kill -9) and started again: it adopts the pool's services, launches none twice, and keeps everyone connected")
    func balancerRestartAdoptsThePool() async throws {
        let (_, left) = try await ContainerBackendStack.run(engine: .swarm) { stack in
            let scenario = Self.scenario(stack)
            let users = StackScenario.users("adopt", 20)
            try await scenario.api.connect(users)
            try await scenario.waitUntilSettled(users, timeout: .seconds(60))
            let before = try await stack.topology()
            let services = { Set(ContainerCLI.docker.run(["service", "ls", "--format", "{{.Name}}", "--filter", "label=wsscale.pool=\(stack.pool)"]).output
                .split(whereSeparator: \.isNewline).map(String.init)) }
            let servicesBefore = services()
            stack.signal("balancer", SIGKILL)
            #expect(await stack.waitForEnd(of: "balancer", timeout: .seconds(10)))
            let port = try stack.startBalancer("balancer-2", id: "b2")
            let adopted = try await TestSupport.waitUntil("the new balancer reads the same pool", timeout: .seconds(30), {
                let status = try await stack.status(port: port)
                return Set(status.instances.map(\.id)) == Set(before.instances.map(\.id))
                    && status.instances.allSatisfy { $0.state == .active } && status.totalSessions == users.count
            }, describe: { await stack.describe() })
            // A reading 1.5 s after the adoption (several wakes): a launch for what already ran
            // would be decided by then.
            let adoptedMs = Int64(Date().timeIntervalSince1970 * 1000)
            var after = try await stack.status(port: port)
            try await TestSupport.waitUntil("a reading 1.5 s after the adoption", timeout: .seconds(15)) {
                after = try await stack.status(port: port)
                return (after.observedAt ?? 0) > adoptedMs + 1500
            }
            let launches = after.decisions.flatMap(\.actions).filter { $0.hasPrefix("launch") }
            #expect(launches.isEmpty, "the new balancer launched nothing: \(launches)")
            #expect(services() == servicesBefore, "no service launched or removed: \(servicesBefore) → \(services())")
            #expect(Set(after.instances.map(\.id)) == Set(before.instances.map(\.id)))
            #expect(try await scenario.api.clientStatus().allConnected(users))
            print("swarm backend, balancer restarted: adopted \(after.instances.count) services after \(adopted), none launched twice")
        }
        #expect(left.isEmpty, "left behind: \(left)")
    }
}
}
