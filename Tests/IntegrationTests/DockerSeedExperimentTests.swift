import Testing
import WSScaleTestSupport

extension RealStackTests.DockerStackTests {
/// The seed's four experiments (the shared `StackScenario` checks) with the balancer on the
/// docker backend: `ContainerBackendStack` (servers are `wsscale:local` containers publishing
/// on 127.0.0.1; Redis in a container; HAProxy, the balancer and the client simulator on the
/// host), driven only through the HTTP APIs on 127.0.0.1. Each test runs its own stack.
@Suite struct DockerSeedExperimentTests {
    @Test("docker 1: 40 users at once; the overflow waits in HAProxy's queue for the new servers (none refused), everyone gets in, no server above 30")
    func burstOfUsers() async throws {
        let report = try await Self.withStack { try await $0.burstOfUsers(40) }
        print("docker experiment 1: all 40 connected after \(report.timeToAllConnected), first server refused "
              + "\(report.refusedByFirstServer), highest \(report.highestSessions) sessions, \(report.servers) servers")
        #expect(report.refusedByFirstServer == 0)
        #expect(report.highestSessions <= 30)
        #expect(report.timeToAllConnected < .seconds(20))
    }

    @Test("docker 2: users arrive in batches; servers are added as utilization crosses 80 %, new users land on them")
    func gradualConnects() async throws {
        let report = try await Self.withStack { try await $0.gradualConnects(total: 40, batch: 5) }
        print("docker experiment 2: active servers after each batch \(report.serversAfterBatch), "
              + "\(report.batchesAfterScaleOut) batches checked after a scale-out")
        #expect(report.serversAfterBatch.last ?? 0 >= 5)
    }

    @Test("docker 3: users leave in batches; servers drain without cutting anyone, empty ones go, never below MIN_INSTANCES")
    func gradualDisconnects() async throws {
        let report = try await Self.withStack { try await $0.gradualDisconnects(total: 40, batch: 5) }
        print("docker experiment 3: drained \(report.drained.sorted()), \(report.usersOnDrainingServers) users sat on draining "
              + "servers, down to MIN_INSTANCES \(report.timeToMinimum) after the last disconnect")
        #expect(!report.drained.isEmpty)
    }

    @Test("docker 4: Swiss cheese; within 10 s every active server is at most average + tolerance and everyone is connected")
    func swissCheese() async throws {
        let report = try await Self.withStack { try await $0.swissCheese(total: 40, timeout: .seconds(10)) }
        print("docker experiment 4: \(report.left) users left \(report.holedServer); settled after \(report.settleTime)")
        #expect(report.settleTime < .seconds(10))
    }

    /// Runs `body` on the scenarios of a fresh stack, then stops it and checks nothing is left.
    static func withStack<Result>(_ body: (StackScenario) async throws -> Result) async throws -> Result {
        let (result, left) = try await ContainerBackendStack.run(engine: .docker) { stack in
            try await body(StackScenario(api: StackAPI(clientPort: stack.clientPort, balancerPort: stack.balancerPort),
                                         killServer: { id in try stack.killServer(id) }))
        }
        #expect(left.isEmpty, "left behind: \(left)")
        return result
    }
}
}
