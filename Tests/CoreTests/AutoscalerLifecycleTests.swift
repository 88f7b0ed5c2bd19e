import Logging
import ServiceLifecycle
import Testing
@testable import WSScaleCore

@Suite("Autoscaler as a Service, and failures while carrying out plans", .timeLimit(.minutes(1)))
struct AutoscalerLifecycleTests {
    @Test("a graceful shutdown of its ServiceGroup ends run(), launches under way included")
    func gracefulShutdown() async throws {
        let harness = LoopHarness()
        await harness.driver.script([.hangHealth])
        let probe = PlannerProbe(script: [ScalePlan(launch: 1, reasons: ["one"])])
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe))
        let group = ServiceGroup(services: [loop],
                                 logger: Logger(label: "group", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            await harness.calls.until(called: "driver.wait ws-1")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        // run() returned with the launch's timeout never reached: the manual clock never moved,
        // so the shutdown itself ended the launch under way.
        #expect(harness.clock.now.offset == .zero)
        // The half-launched server is left for the next run to adopt, not stopped on the way out.
        #expect(harness.calls.index(of: "driver.stop ws-1") == nil)
    }

    @Test("a loop that cannot read the pool shows as stalled past the stall limit, with the error; reading again clears it")
    func stallIsReported() async throws {
        let harness = LoopHarness()
        await harness.registry.setFailure("Redis did not answer in time: ZRANGEBYSCORE got no reply within 5000 ms")
        var tunables = Autoscaler.Tunables.test
        tunables.stallLimit = .seconds(15)
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: PlannerProbe()), tunables: tunables)
        _ = await harness.step(loop, .startup)
        #expect(await !loop.status().stalled, "not stalled before the limit")
        harness.clock.advance(by: .seconds(15))
        #expect(await !loop.status().stalled, "not stalled at the limit")
        harness.clock.advance(by: .milliseconds(1))
        _ = await harness.step(loop)
        let status = await loop.status()
        #expect(status.stalled, "no read for longer than the limit is a stall")
        #expect(status.secondsSinceObservation == 15.001)
        #expect(status.lastError?.contains("got no reply within 5000 ms") == true, "\(status)")
        #expect(status.observedAt == nil)

        await harness.registry.setFailure(nil)
        _ = await harness.step(loop)
        #expect(await !loop.status().stalled, "a successful read ends the stall")
        #expect(await loop.status().lastError == nil)
        #expect(await loop.status().observedAt == LoopHarness.wallTime)
    }

    @Test("a failing step is recorded on its decision and in status(); the next steps still run")
    func failingStepIsRecorded() async throws {
        let harness = LoopHarness()
        await harness.driver.adopt("ws-a", port: 9001)
        await harness.balancer.preload("ws-a", port: 9001, state: .ready)
        await harness.registry.setHost("ws-a", sessions: 6)
        let plan = ScalePlan(drain: ["ws-missing", "ws-a"], reasons: ["scale in"])
        let probe = PlannerProbe(script: [plan])
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe))
        _ = await harness.step(loop, .startup)
        #expect(await loop.status().lastError?.hasPrefix("drain ws-missing") == true)
        _ = await harness.step(loop)
        let decision = try #require(await loop.status().decisions.first)
        #expect(decision.actions == ["drain ws-a"])
        #expect(decision.errors.count == 1 && decision.errors[0].hasPrefix("drain ws-missing"))
        #expect(await harness.balancer.state(of: "ws-a") == .drain)
        #expect(await harness.registry.hosts["ws-a"]?.draining == true)
        #expect(probe.snapshots.last?.draining.map(\.id) == ["ws-a"])
    }
}
