import Testing
import WSScaleTestSupport

/// The seed's four experiments against the real stack: `wsscale up` with redis-server,
/// HAProxy and `wsscale server` processes, driven only through the HTTP APIs.
extension RealStackTests {
/// Each test runs its own stack (a few seconds to start and stop).
@Suite("the seed's experiments")
struct SeedExperimentTests {
    @Test("1: 40 users at once; the overflow waits in HAProxy's queue for the new servers (none refused), everyone gets in, no server above 30")
    func burstOfUsers() async throws {
        let report = try await UpStack.with { stack in try await stack.scenario.burstOfUsers(40) }
        print("experiment 1: all 40 connected after \(report.timeToAllConnected), first server refused "
              + "\(report.refusedByFirstServer), highest \(report.highestSessions) sessions, \(report.servers) servers")
        #expect(report.refusedByFirstServer == 0)
        #expect(report.highestSessions <= 30)
        #expect(report.timeToAllConnected < .seconds(20))
    }

    @Test("2: users arrive in batches; servers are added as utilization crosses 80 %, new users land on them")
    func gradualConnects() async throws {
        let report = try await UpStack.with { stack in try await stack.scenario.gradualConnects(total: 40, batch: 5) }
        print("experiment 2: active servers after each batch \(report.serversAfterBatch), "
              + "\(report.batchesAfterScaleOut) batches checked after a scale-out")
        #expect(report.serversAfterBatch.last ?? 0 >= 5)
    }

    @Test("3: users leave in batches; servers drain without cutting anyone, empty ones go, never below MIN_INSTANCES")
    func gradualDisconnects() async throws {
        let report = try await UpStack.with { stack in try await stack.scenario.gradualDisconnects(total: 40, batch: 5) }
        print("experiment 3: drained \(report.drained.sorted()), \(report.usersOnDrainingServers) users sat on draining "
              + "servers, down to MIN_INSTANCES \(report.timeToMinimum) after the last disconnect")
        #expect(!report.drained.isEmpty)
    }

    @Test("4: Swiss cheese; within 10 s every active server is at most average + tolerance and everyone is connected")
    func swissCheese() async throws {
        let report = try await UpStack.with { stack in try await stack.scenario.swissCheese(total: 40, timeout: .seconds(10)) }
        print("experiment 4: \(report.left) users left \(report.holedServer); settled after \(report.settleTime)")
        #expect(report.settleTime < .seconds(10))
    }
}
}
