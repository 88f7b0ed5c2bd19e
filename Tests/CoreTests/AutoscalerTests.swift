import Foundation
import Logging
import Testing
@testable import WSScaleCore

/// The control loop over in-memory fakes, driven one wake at a time on a manual clock: no
/// test here sleeps, polls or depends on how busy the machine is.
@Suite("Autoscaler: the control loop over in-memory fakes", .timeLimit(.minutes(1)))
struct AutoscalerTests {
    @Test("a launch is added to the proxy, then set ready, then announced; never launched twice")
    func launchThenAddThenReady() async throws {
        let harness = LoopHarness()
        await harness.driver.holdHealth()
        let probe = PlannerProbe()
        let loop = harness.makeLoop(planner: TargetCountPlanner(target: 1, probe: probe))
        let launch = harness.start(await harness.step(loop, .startup))
        await harness.calls.until(called: "driver.wait ws-1")
        // Wakes while the launch is under way see it as starting and launch nothing more.
        for _ in 0..<3 { #expect(await harness.step(loop).isEmpty) }
        #expect(probe.snapshots.last?.starting.map(\.id) == ["ws-1"])
        await harness.driver.releaseHealth()
        await launch.value
        #expect(await harness.step(loop, .launchFinished("ws-1")).isEmpty)

        let calls = harness.calls.all
        let launched = try #require(calls.firstIndex(of: "driver.launch ws-1"))
        let wait = try #require(calls.firstIndex(of: "driver.wait ws-1"))
        let add = try #require(calls.firstIndex(of: "lb.add ws-1"))
        let ready = try #require(calls.firstIndex(of: "lb.ready ws-1"))
        let announced = try #require(calls.firstIndex(of: "registry.draining ws-1 false"))
        #expect(launched < wait && wait < add && add < ready && ready < announced)
        #expect(harness.calls.matching("driver.launch") == ["driver.launch ws-1"])
        #expect(probe.snapshots.last?.active.map(\.id) == ["ws-1"])
        #expect(await harness.balancer.state(of: "ws-1") == .ready)
        #expect(await loop.status().instances.map(\.id) == ["ws-1"])
    }

    @Test("status() shows the utilization the rules decide on: starting servers count as capacity")
    func utilizationCountsStartingServers() async throws {
        let harness = LoopHarness()
        await harness.driver.adopt("ws-a", port: 9001)
        await harness.balancer.preload("ws-a", port: 9001, state: .ready, connections: 10)
        await harness.registry.setHost("ws-a", sessions: 10)
        await harness.driver.holdHealth()
        let loop = harness.makeLoop(planner: ScalingPolicy(configuration: ScalingConfiguration()))
        let launch = harness.start(await harness.step(loop, .startup))
        #expect(await loop.status().utilizationPercent == 100, "read before the launch: one server")
        await harness.calls.until(called: "driver.wait ws-1")
        _ = await harness.step(loop)
        let status = await loop.status()
        #expect(status.instances.map(\.state) == [.starting, .active])  // ws-1, ws-a
        #expect(status.utilizationPercent == 50)
        await harness.driver.releaseHealth()
        await launch.value
    }

    @Test("a failing launch is stopped, recorded, and does not block a later shed")
    func failingLaunchIsStopped() async throws {
        let harness = LoopHarness()
        await harness.driver.adopt("ws-a", port: 9001)
        await harness.balancer.preload("ws-a", port: 9001, state: .ready, connections: 10)
        await harness.registry.setHost("ws-a", sessions: 10)
        await harness.driver.script([.failHealth])
        let shed = ScalePlan(shed: [ShedOrder(host: "ws-a", count: 3, cause: .rebalance)], reasons: ["uneven"])
        let probe = PlannerProbe(script: [ScalePlan(launch: 1, reasons: ["need one more"]), shed])
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe))
        let launch = await harness.step(loop, .startup)
        _ = await harness.step(loop)  // the shed, while the launch has not run yet
        #expect(harness.calls.index(of: "registry.shed ws-a 3") != nil)
        await harness.finish(launch)

        #expect(harness.calls.index(of: "driver.stop ws-1") != nil)
        #expect(await harness.driver.ids == ["ws-a"])
        #expect(await harness.balancer.state(of: "ws-1") == nil)
        #expect(harness.calls.index(of: "lb.ready ws-1") == nil)
        let decisions = await loop.status().decisions
        let launchDecision = try #require(decisions.first { $0.plan.launch == 1 })
        #expect(launchDecision.errors.first?.contains("health check failed") == true)
        #expect(decisions.contains { $0.plan == shed && $0.errors.isEmpty })
    }

    @Test("an order the host did not hear at once is recorded as waiting for it, not as heard")
    func waitingOrderIsRecorded() async throws {
        let harness = LoopHarness()
        await harness.driver.adopt("ws-a", port: 9001)
        await harness.balancer.preload("ws-a", port: 9001, state: .ready, connections: 10)
        await harness.registry.setHost("ws-a", sessions: 10)
        await harness.registry.setDelivery(.waiting)
        let shed = ScalePlan(shed: [ShedOrder(host: "ws-a", count: 3, cause: .rebalance)], reasons: ["uneven"])
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: PlannerProbe(script: [shed])))
        _ = await harness.step(loop, .startup)
        let decision = try #require(await loop.status().decisions.first { $0.plan == shed })
        #expect(decision.actions == ["shed 3 from ws-a (rebalance) (waiting: the host is not listening to the registry now)"])
        #expect(decision.errors.isEmpty, "a waiting order is no failure")
    }

    @Test("a hanging launch times out after the launch timeout and is stopped; plans after it run meanwhile")
    func hangingLaunchTimesOut() async throws {
        let harness = LoopHarness()
        await harness.driver.adopt("ws-a", port: 9001)
        await harness.balancer.preload("ws-a", port: 9001, state: .ready)
        await harness.registry.setHost("ws-a", sessions: 8)
        await harness.driver.script([.hangHealth])
        let shed = ScalePlan(shed: [ShedOrder(host: "ws-a", count: 2, cause: .rebalance)], reasons: ["uneven"])
        let probe = PlannerProbe(script: [ScalePlan(launch: 1, reasons: ["need one more"]), shed])
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe))
        let launch = harness.start(await harness.step(loop, .startup))
        await harness.calls.until(called: "driver.wait ws-1")
        _ = await harness.step(loop)
        #expect(harness.calls.index(of: "registry.shed ws-a 2") != nil, "the shed waited for the hung launch")

        // One tick short of the timeout the launch still waits; at the timeout it is given up.
        await harness.clock.sleepers(atLeast: 1)
        harness.clock.advance(by: LoopHarness.launchTimeout - .milliseconds(1))
        #expect(harness.calls.index(of: "driver.stop ws-1") == nil)
        harness.clock.advance(by: .milliseconds(1))
        await launch.value

        #expect(harness.calls.index(of: "driver.stop ws-1") != nil)
        let decision = try #require(await loop.status().decisions.first { $0.plan.launch == 1 })
        #expect(decision.errors.first?.contains("timed out after 30") == true, "\(decision.errors)")
        #expect(await harness.balancer.state(of: "ws-1") == nil)
    }

    @Test("a hanging driver.launch itself times out too")
    func hangingDriverLaunchTimesOut() async throws {
        let harness = LoopHarness()
        await harness.driver.script([.hangLaunch])
        let probe = PlannerProbe(script: [ScalePlan(launch: 1, reasons: ["need one"])])
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe))
        let launch = harness.start(await harness.step(loop, .startup))
        await harness.calls.until(called: "driver.launch ws-1")
        await harness.clock.sleepers(atLeast: 1)
        harness.clock.advance(by: LoopHarness.launchTimeout)
        await launch.value

        #expect(harness.calls.matching("lb.add") == [] && harness.calls.matching("lb.ready") == [])
        #expect(harness.calls.index(of: "driver.stop ws-1") != nil)
        let decision = try #require(await loop.status().decisions.first)
        #expect(decision.errors.first?.contains("timed out") == true)
    }

    @Test("run(): plans never overlap, the next plan is computed only after the last one was carried out")
    func plansAreSerialized() async throws {
        let harness = LoopHarness()
        await harness.driver.adopt("ws-a", port: 9001)
        await harness.balancer.preload("ws-a", port: 9001, state: .ready)
        await harness.registry.setHost("ws-a", sessions: 1)
        await harness.balancer.setSetStateYields(20)
        let plan = ScalePlan(activate: ["ws-a"], drain: ["ws-a"], reasons: ["flap on purpose"])
        let probe = PlannerProbe(calls: harness.calls)
        var tunables = Autoscaler.Tunables.test
        tunables.debounce = .zero
        let loop = harness.makeLoop(planner: RepeatingPlanner(plan: plan, probe: probe), tunables: tunables)
        try await harness.running(loop) {
            // Events, exits and ticks keep coming, while plans run, until five plans have run.
            var round = 0
            while probe.planCalls < 6, !Task.isCancelled {
                for _ in 0..<10 { harness.registry.push(.hostChanged("ws-a")) }
                if round % 5 == 0 { await harness.driver.crash("ws-none") }
                harness.clock.advance(by: tunables.safetyTick)
                await Task.yield()
                round += 1
            }
        }
        // Cut at each planner call: nothing ran before the first, and between two calls the
        // whole plan before ran, its steps in order (activate, ready, before drain) and no
        // other plan's. The last plan may have been cut short by the end of the run.
        let sequence = harness.calls.all.filter {
            $0 == "planner.plan" || $0.hasPrefix("lb.ready") || $0.hasPrefix("lb.drain")
        }
        let segments = sequence.split(separator: "planner.plan", omittingEmptySubsequences: false)
        #expect(segments.first?.isEmpty == true, "\(sequence)")
        #expect(segments.count >= 7, "\(sequence)")
        for steps in segments.dropFirst().dropLast() {
            #expect(Array(steps) == ["lb.ready ws-a", "lb.drain ws-a"], "\(sequence)")
        }
    }

    @Test("run(): a burst of 100 registry events within the debounce is one planner call")
    func burstIsCoalesced() async throws {
        let harness = LoopHarness()
        let probe = PlannerProbe(calls: harness.calls)
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe))
        try await harness.running(loop) {
            await harness.calls.until("planner.plan", times: 1)  // the startup wake
            for index in 0..<100 { harness.registry.push(.hostChanged("ws-\(index % 7)")) }
            // The loop waits out the debounce (beside the safety tick) while the burst arrives.
            await harness.clock.sleepers(atLeast: 2)
            while await loop.pendingWakes.count < 100, !Task.isCancelled { await Task.yield() }
            harness.clock.advance(by: Autoscaler.Tunables.test.debounce)
            await harness.calls.until("planner.plan", times: 2)
            // One more event: had the burst left a straggling wake, this would be the fourth call.
            harness.registry.push(.hostChanged("ws-last"))
            while await loop.pendingWakes.isEmpty, !Task.isCancelled { await Task.yield() }
            await harness.clock.sleepers(atLeast: 2)
            harness.clock.advance(by: Autoscaler.Tunables.test.debounce)
            await harness.calls.until("planner.plan", times: 3)
        }
        #expect(probe.planCalls == 3, "\(probe.planCalls) planner calls")
    }

    @Test("run(): a registry event wakes the loop after the debounce, long before the safety tick")
    func eventWakesLoop() async throws {
        let harness = LoopHarness()
        let probe = PlannerProbe(calls: harness.calls)
        var tunables = Autoscaler.Tunables.test
        tunables.safetyTick = .seconds(3600)
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe), tunables: tunables)
        try await harness.running(loop) {
            await harness.calls.until("planner.plan", times: 1)
            await harness.registry.setHost("ws-x", sessions: 3)
            harness.registry.push(.hostChanged("ws-x"))
            await harness.clock.sleepers(atLeast: 2)  // the tick and the debounce
            harness.clock.advance(by: tunables.debounce)
            await harness.calls.until("planner.plan", times: 2)
        }
        #expect(harness.clock.now.offset == tunables.debounce, "the tick is an hour away")
    }

    @Test("run(): the safety tick wakes the loop with no event at all")
    func tickWakesLoop() async throws {
        let harness = LoopHarness()
        let probe = PlannerProbe(calls: harness.calls)
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe))
        try await harness.running(loop) {
            await harness.calls.until("planner.plan", times: 1)
            for wake in 2...4 {
                await harness.clock.sleepers(atLeast: 1)
                harness.clock.advance(by: Autoscaler.Tunables.test.safetyTick)
                await harness.calls.until("planner.plan", times: wake)
            }
        }
        #expect(probe.planCalls == 4)
    }

    @Test("run(): while every server in rotation is at its connection limit the loop looks every fullPoolTick (a queued user raises no event)")
    func fullPoolIsWatchedClosely() async throws {
        let harness = LoopHarness()
        // One server in rotation at the seed's limit (8 of 10): the next user would queue.
        await harness.driver.adopt("ws-a", port: 9001)
        await harness.balancer.preload("ws-a", port: 9001, state: .ready, connections: 8)
        await harness.registry.setHost("ws-a", sessions: 8)
        let probe = PlannerProbe(calls: harness.calls)
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe))
        try await harness.running(loop) {
            await harness.calls.until("planner.plan", times: 1)
            #expect(await harness.balancer.connectionLimit(of: "ws-a") == 8)
            // The tick that was asleep before the pool was seen full keeps its second.
            await harness.clock.sleepers(atLeast: 1)
            harness.clock.advance(by: Autoscaler.Tunables.test.safetyTick)
            await harness.calls.until("planner.plan", times: 2)
            for wake in 3...5 {
                await harness.clock.sleepers(atLeast: 1)
                harness.clock.advance(by: Autoscaler.Tunables.test.fullPoolTick)
                await harness.calls.until("planner.plan", times: wake)
            }
        }
        #expect(harness.clock.now.offset == Autoscaler.Tunables.test.safetyTick + Autoscaler.Tunables.test.fullPoolTick * 3)
    }

    @Test("dry-run records decisions and changes nothing")
    func dryRunChangesNothing() async throws {
        let harness = LoopHarness()
        await harness.driver.adopt("ws-a", port: 9001)
        await harness.driver.adopt("ws-b", port: 9002)
        await harness.balancer.preload("ws-b", port: 9002, state: .drain)
        await harness.balancer.preload("ws-gone", port: 9003, state: .ready)
        await harness.registry.setHost("ws-a", sessions: 5)
        let plan = ScalePlan(activate: ["ws-b"], launch: 2, drain: ["ws-a"],
                             shed: [ShedOrder(host: "ws-a", count: 1, cause: .drainTimeout)],
                             remove: ["ws-b"], reasons: ["everything at once"])
        let probe = PlannerProbe(script: [plan, plan])
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe), dryRun: true)
        #expect(await harness.step(loop, .startup).isEmpty)
        #expect(await harness.step(loop).isEmpty)
        #expect(await harness.step(loop, .exit(InstanceExit(id: "ws-a", exitCode: 137, reason: "killed"))).isEmpty)

        #expect(harness.calls.all == [], "dry-run called \(harness.calls.all)")
        #expect(probe.planCalls == 3, "one plan per wake, as in a real run")
        let status = await loop.status()
        #expect(status.dryRun)
        #expect(status.decisions.allSatisfy { $0.dryRun })
        #expect(status.decisions.filter { $0.kind == .plan }.count == 2)
        #expect(status.decisions.contains { $0.kind == .crash })
        let recorded = try #require(status.decisions.first { $0.kind == .plan })
        #expect(recorded.actions.first == "would activate ws-b")
        #expect(recorded.actions.contains("would launch 2 instances"))
        let reconcile = try #require(status.decisions.first { $0.kind == .reconcile })
        #expect(reconcile.reasons.contains { $0.contains("ws-a") && $0.contains("missing") })
        #expect(reconcile.reasons.contains { $0.contains("ws-gone") && $0.contains("no longer runs") })
        #expect(await harness.balancer.table.keys.sorted() == ["ws-b", "ws-gone"])
    }

    @Test("dry-run decides as a real run would: a launch it would make counts as starting until the launch would be given up")
    func dryRunLaunchesAreUnderWay() async throws {
        let harness = LoopHarness()
        let probe = PlannerProbe()
        let loop = harness.makeLoop(planner: TargetCountPlanner(target: 2, probe: probe), dryRun: true)
        #expect(await harness.step(loop, .startup).isEmpty)
        for _ in 0..<5 { #expect(await harness.step(loop).isEmpty) }
        #expect(probe.snapshots.last?.starting.count == 2)
        var plans = await loop.status().decisions.filter { $0.kind == .plan }
        #expect(plans.map(\.actions) == [["would launch 2 instances"]], "one decision, not one per wake")

        // A real launch that never became ready is given up after twice the launch timeout.
        harness.clock.advance(by: LoopHarness.launchTimeout * 2 + .seconds(1))
        _ = await harness.step(loop)
        plans = await loop.status().decisions.filter { $0.kind == .plan }
        #expect(plans.map(\.actions) == [["would launch 2 instances"], ["would launch 2 instances"]])
        #expect(await loop.status().decisions.allSatisfy { $0.kind == .plan }, "nothing to correct about launches never made")
        #expect(harness.calls.all == [])
    }

    @Test("dry-run decides as a real run would: the loop paces its rebalance, waiting for it to land, as after a real one")
    func dryRunCooldownsRun() async throws {
        let harness = LoopHarness()
        for (id, sessions) in [("ws-a", 10), ("ws-b", 0)] {
            await harness.driver.adopt(id, port: 9000 + sessions)
            await harness.balancer.preload(id, port: 9000 + sessions, state: .ready)
            await harness.registry.setHost(id, sessions: sessions)
        }
        var configuration = ScalingConfiguration()
        configuration.dryRun = true
        let loop = harness.makeLoop(planner: ScalingPolicy(configuration: configuration), dryRun: true)
        _ = await harness.step(loop, .startup)
        for _ in 0..<5 { _ = await harness.step(loop) }
        var plans = await loop.status().decisions.filter { $0.kind == .plan }
        #expect(plans.count == 1, "\(plans.map(\.actions))")
        #expect(plans.first?.actions.first?.hasPrefix("would shed 5 from ws-a (rebalance)") == true, "\(plans.map(\.actions))")

        // Nothing was shed, so the count never comes back: the wait ends at its limit.
        harness.clock.advance(by: RebalancePacer.settleLimit)
        _ = await harness.step(loop)
        plans = await loop.status().decisions.filter { $0.kind == .plan }
        #expect(plans.count == 2, "the wait is over: the same rebalance is decided again")
        #expect(harness.calls.all == [])
    }

    @Test("a drained server the plan removes still runs: it leaves the proxy with its connections left to end")
    func plannedRemovalCutsNothing() async throws {
        let harness = LoopHarness()
        await harness.driver.adopt("ws-a", port: 9001)
        await harness.driver.adopt("ws-b", port: 9002)
        await harness.balancer.preload("ws-a", port: 9001, state: .ready)
        await harness.balancer.preload("ws-b", port: 9002, state: .drain)
        await harness.registry.setHost("ws-a", sessions: 3)
        await harness.registry.setHost("ws-b", sessions: 0, draining: true)
        let probe = PlannerProbe(script: [ScalePlan(remove: ["ws-b"], reasons: ["ws-b drained and empty"])])
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe))
        await harness.finish(await harness.step(loop, .startup))
        #expect(await harness.balancer.state(of: "ws-b") == nil)
        #expect(harness.calls.index(of: "lb.remove ws-b") != nil)
        #expect(await harness.balancer.cutRemovals == [], "a planned removal waits for the connections instead of cutting them")
    }

    @Test("a crash removes the balancer entry and a planner wanting N instances gets a replacement")
    func crashIsReplaced() async throws {
        let harness = LoopHarness()
        let probe = PlannerProbe()
        let loop = harness.makeLoop(planner: TargetCountPlanner(target: 2, probe: probe))
        await harness.finish(await harness.step(loop, .startup))
        #expect(await harness.balancer.state(of: "ws-1") == .ready)
        #expect(await harness.balancer.state(of: "ws-2") == .ready)

        await harness.driver.crash("ws-1")
        await harness.finish(await harness.step(loop, .exit(InstanceExit(id: "ws-1", exitCode: 137, reason: "killed"))))
        #expect(await harness.balancer.state(of: "ws-3") == .ready)
        #expect(await harness.balancer.table.keys.sorted() == ["ws-2", "ws-3"])
        #expect(await harness.driver.ids == ["ws-2", "ws-3"])
        let removed = try #require(harness.calls.index(of: "lb.remove ws-1"))
        let relaunched = try #require(harness.calls.index(of: "driver.launch ws-3"))
        #expect(removed < relaunched)
        #expect(await harness.balancer.cutRemovals == ["ws-1"], "a server that no longer runs leaves the proxy with its connections cut")
        let crash = try #require(await loop.status().decisions.first { $0.kind == .crash })
        #expect(crash.reasons.first?.contains("ws-1 exited on its own with code 137") == true)
        #expect(harness.calls.matching("driver.launch").count == 3)
    }

    @Test("after a proxy restart every server is added back in the state the loop remembers")
    func reconcileAfterProxyRestart() async throws {
        let harness = LoopHarness()
        await harness.driver.adopt("ws-a", port: 9001)
        await harness.driver.adopt("ws-b", port: 9002)
        await harness.driver.adopt("ws-c", port: 9003)
        await harness.balancer.preload("ws-a", port: 9001, state: .ready)
        await harness.balancer.preload("ws-b", port: 9002, state: .drain)
        await harness.balancer.preload("ws-orphan", port: 9009, state: .ready)
        // ws-c is unknown to the balancer; the registry says it drains.
        await harness.registry.setHost("ws-a", sessions: 4)
        await harness.registry.setHost("ws-b", sessions: 2)
        await harness.registry.setHost("ws-c", sessions: 1, draining: true)
        let probe = PlannerProbe()
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe))
        await harness.finish(await harness.step(loop, .startup))
        #expect(await harness.balancer.state(of: "ws-c") == .drain)
        #expect(await harness.balancer.state(of: "ws-orphan") == nil)
        #expect(await harness.balancer.cutRemovals == ["ws-orphan"], "a server in the proxy that no longer runs: its connections are cut")

        await harness.balancer.restart()
        await harness.finish(await harness.step(loop))
        let table = await harness.balancer.table
        #expect(table["ws-a"]?.state == .ready && table["ws-b"]?.state == .drain && table["ws-c"]?.state == .drain)
        #expect(table.count == 3)
        #expect(table["ws-b"]?.endpoint == Endpoint(host: "127.0.0.1", port: 9002))
        let snapshot = try #require(probe.snapshots.last)
        #expect(snapshot.active.map(\.id) == ["ws-a"])
        #expect(snapshot.draining.map(\.id) == ["ws-b", "ws-c"])
        #expect(snapshot.totalSessions == 7)
        #expect(harness.calls.matching("driver.") == [], "reconciliation must not launch or stop")
    }

    @Test("the decision log keeps the last N decisions")
    func decisionLogIsCapped() async throws {
        let harness = LoopHarness()
        await harness.driver.adopt("ws-a", port: 9001)
        await harness.balancer.preload("ws-a", port: 9001, state: .ready)
        await harness.registry.setHost("ws-a", sessions: 50)
        let plan = ScalePlan(shed: [ShedOrder(host: "ws-a", count: 1, cause: .rebalance)], reasons: ["shed one"])
        var tunables = Autoscaler.Tunables.test
        tunables.decisionCapacity = 5
        let loop = harness.makeLoop(planner: RepeatingPlanner(plan: plan, probe: PlannerProbe()), tunables: tunables)
        for _ in 0..<13 { _ = await harness.step(loop) }
        let decisions = await loop.status().decisions
        #expect(decisions.map(\.sequence) == Array(9...13))
        #expect(decisions.allSatisfy { $0.reasons == ["shed one"] && $0.actions == ["shed 1 from ws-a (rebalance)"] })
    }

    @Test("status(): instances with state, endpoint, sessions, utilization and balancer disagreement")
    func statusContent() async throws {
        let harness = LoopHarness()
        await harness.driver.adopt("ws-a", port: 9001)
        await harness.driver.adopt("ws-b", port: 9002)
        await harness.balancer.preload("ws-a", port: 9001, state: .ready, connections: 7)
        await harness.balancer.preload("ws-b", port: 9002, state: .drain, connections: 3)
        await harness.registry.setHost("ws-a", sessions: 7)
        await harness.registry.setHost("ws-b", sessions: 2, draining: true)
        let plan = ScalePlan(shed: [ShedOrder(host: "ws-b", count: 1, cause: .drainTimeout)], reasons: ["ws-b drained too long"])
        let probe = PlannerProbe(script: [plan])
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe))
        _ = await harness.step(loop, .startup)
        harness.clock.advance(by: .milliseconds(1500))

        let status = await loop.status()
        #expect(status.driver == "fake")
        #expect(!status.dryRun)
        #expect(status.connectionLimitPerHost == 10)
        #expect(status.lastError == nil)
        #expect(status.observedAt == LoopHarness.wallTime)
        #expect(status.secondsSinceObservation == 1.5 && !status.stalled)
        #expect(status.instances.map(\.id) == ["ws-a", "ws-b"])
        let a = status.instances[0], b = status.instances[1]
        #expect(a.state == .active && a.endpoint == Endpoint(host: "127.0.0.1", port: 9001))
        #expect(a.sessions == 7 && a.utilizationPercent == 70 && a.proxyConnections == 7 && !a.proxyDisagrees)
        #expect(b.state == .draining && b.proxyState == .drain && b.proxyConnections == 3 && b.proxyDisagrees)
        #expect(status.totalSessions == 9)  // read before the shed
        // The rules weigh the larger of the registry's count (9) and the proxy's (10).
        #expect(status.utilizationPercent == 100)
        #expect(status.queued == 0)
        let decision = try #require(status.decisions.first)
        #expect(decision.kind == .plan && decision.reasons == ["ws-b drained too long"] && decision.plan == plan)
        #expect(decision.timestamp == LoopHarness.wallTime && decision.sequence == 1 && decision.errors.isEmpty)

        let json = try JSONEncoder().encode(status)
        let decoded = try JSONDecoder().decode(PoolStatus.self, from: json)
        #expect(decoded == status)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["driver"] as? String == "fake")
        #expect((object["instances"] as? [[String: Any]])?.first?["state"] as? String == "active")
    }

    @Test("errors reading the pool are recorded and retried at the next wake; the loop keeps going")
    func readErrorsAreRetried() async throws {
        let harness = LoopHarness()
        let probe = PlannerProbe()
        let failing = FailingOnceDriver(base: harness.driver)
        let loop = harness.makeLoop(planner: TargetCountPlanner(target: 1, probe: probe), driver: failing)
        for wake in 1...3 {
            #expect(await harness.step(loop, wake == 1 ? .startup : .tick).isEmpty)
            #expect(await loop.status().lastError?.contains("driver unreachable") == true)
        }
        #expect(probe.planCalls == 0)
        await harness.finish(await harness.step(loop))
        #expect(await harness.balancer.state(of: "ws-1") == .ready)
        #expect(await failing.failures == 3)
        #expect(await loop.status().lastError == nil)
    }
}

extension LoopHarness {
    /// `Autoscaler.Tunables.test`'s launch timeout.
    static let launchTimeout = Autoscaler.Tunables.test.launchTimeout
}
