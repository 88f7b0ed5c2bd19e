import Logging
import ServiceLifecycle
import Testing
@testable import WSScaleCore

@Suite("Autoscaler as a Service, and failures while carrying out plans")
struct AutoscalerLifecycleTests {
    @Test("a graceful shutdown of its ServiceGroup ends run() promptly, launches under way included")
    func gracefulShutdown() async throws {
        let harness = LoopHarness()
        await harness.driver.script([.hangHealth])
        var tunables = Autoscaler.Tunables.fast
        tunables.launchTimeout = .seconds(3600)
        let probe = PlannerProbe(script: [ScalePlan(launch: 1, reasons: ["one"])])
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe), tunables: tunables)
        let group = ServiceGroup(services: [loop],
                                 logger: Logger(label: "group", factory: { _ in SwiftLogNoOpLogHandler() }))
        let clock = ContinuousClock()
        var triggered = clock.now
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            #expect(await eventually { harness.calls.index(of: "driver.wait ws-1") != nil })
            // Measured from the shutdown, not from the start: reaching the hanging launch may
            // take a while on a busy machine, and that is not what is checked here.
            triggered = clock.now
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        // The launch under way would wait for its 3600 s launch timeout; run() ends long before.
        #expect(clock.now - triggered < .seconds(6))
        // The half-launched server is left for the next run to adopt, not stopped on the way out.
        #expect(harness.calls.index(of: "driver.stop ws-1") == nil)
    }

    @Test("a loop that cannot read the pool shows as stalled past the stall limit, with the error; reading again clears it")
    func stallIsReported() async throws {
        let harness = LoopHarness()
        await harness.registry.setFailure("Redis did not answer in time: ZRANGEBYSCORE got no reply within 5000 ms")
        var tunables = Autoscaler.Tunables.fast
        tunables.stallLimit = .milliseconds(300)
        let probe = PlannerProbe(script: [])
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe), tunables: tunables)
        try await harness.running(loop) {
            // Stalled, and a failed read seen (on a busy machine the first read may come after
            // the limit: stalled already, with no error yet).
            let stalled = await waitUntil { let status = await loop.status(); return status.stalled && status.lastError != nil }
            #expect(stalled, "no read for longer than the limit is a stall")
            let status = await loop.status()
            #expect(status.secondsSinceObservation >= 0.3)
            #expect(status.lastError?.contains("got no reply within 5000 ms") == true, "\(status)")
            #expect(status.observedAt == nil)
            await harness.registry.setFailure(nil)
            #expect(await waitUntil { await !loop.status().stalled }, "a successful read ends the stall")
            #expect(await loop.status().lastError == nil)
        }
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
        try await harness.running(loop) {
            #expect(await eventually { await loop.status().decisions.count == 1 })
            #expect(await eventually { probe.planCalls >= 3 })
        }
        let decision = try #require(await loop.status().decisions.first)
        #expect(decision.actions == ["drain ws-a"])
        #expect(decision.errors.count == 1 && decision.errors[0].hasPrefix("drain ws-missing"))
        #expect(await harness.balancer.state(of: "ws-a") == .drain)
        #expect(await harness.registry.hosts["ws-a"]?.draining == true)
        #expect(probe.executed == [plan])
        #expect(probe.snapshots.last?.draining.map(\.id) == ["ws-a"])
    }
}

/// Polls `condition` until it holds or 10 s pass (a bound for a broken build, not a timing).
func waitUntil(_ condition: () async -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + .seconds(10)
    while clock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}
