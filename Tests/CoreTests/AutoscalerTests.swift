import Foundation
import Logging
import Testing
@testable import WSScaleCore

@Suite("Autoscaler: the control loop over in-memory fakes")
struct AutoscalerTests {
    @Test("a launch is added to the load balancer, then set ready, then announced; never launched twice")
    func launchThenAddThenReady() async throws {
        let harness = LoopHarness()
        await harness.driver.setHealthDelay(.milliseconds(150))
        let probe = PlannerProbe()
        let loop = harness.makeLoop(planner: TargetCountPlanner(target: 1, probe: probe))
        try await harness.running(loop) {
            #expect(await eventually { await harness.balancer.state(of: "ws-1") == .ready })
            // Several ticks pass while the launch is under way; more ticks after it.
            #expect(await eventually { probe.planCalls >= 8 })
        }
        let calls = harness.calls.all
        let launch = try #require(calls.firstIndex(of: "driver.launch ws-1"))
        let wait = try #require(calls.firstIndex(of: "driver.wait ws-1"))
        let add = try #require(calls.firstIndex(of: "lb.add ws-1"))
        let ready = try #require(calls.firstIndex(of: "lb.ready ws-1"))
        let announced = try #require(calls.firstIndex(of: "registry.draining ws-1 false"))
        #expect(launch < wait && wait < add && add < ready && ready < announced)
        #expect(harness.calls.matching("driver.launch") == ["driver.launch ws-1"])
        // While it launched, the planner saw it as starting; afterwards as active.
        #expect(probe.snapshots.contains { $0.starting.map(\.id) == ["ws-1"] })
        #expect(probe.snapshots.last?.active.map(\.id) == ["ws-1"])
        #expect(await loop.status().instances.map(\.id) == ["ws-1"])
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
        try await harness.running(loop) {
            #expect(await eventually { harness.calls.index(of: "registry.shed ws-a 3") != nil })
            #expect(await eventually { harness.calls.index(of: "driver.stop ws-1") != nil })
            #expect(await eventually { await loop.status().decisions.first?.errors.isEmpty == false })
        }
        #expect(await harness.driver.ids == ["ws-a"])
        #expect(await harness.balancer.state(of: "ws-1") == nil)
        #expect(harness.calls.index(of: "lb.ready ws-1") == nil)
        let decisions = await loop.status().decisions
        let launchDecision = try #require(decisions.first { $0.plan.launch == 1 })
        #expect(launchDecision.errors.first?.contains("health check failed") == true)
        #expect(decisions.contains { $0.plan == shed && $0.errors.isEmpty })
    }

    @Test("a hanging launch times out and is stopped; plans after it run meanwhile")
    func hangingLaunchTimesOut() async throws {
        let harness = LoopHarness()
        await harness.driver.adopt("ws-a", port: 9001)
        await harness.balancer.preload("ws-a", port: 9001, state: .ready)
        await harness.registry.setHost("ws-a", sessions: 8)
        await harness.driver.script([.hangHealth])
        let shed = ScalePlan(shed: [ShedOrder(host: "ws-a", count: 2, cause: .rebalance)], reasons: ["uneven"])
        let probe = PlannerProbe(script: [ScalePlan(launch: 1, reasons: ["need one more"]), shed])
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe), tunables: .fastLaunchTimeout)
        try await harness.running(loop) {
            #expect(await eventually { harness.calls.index(of: "driver.stop ws-1") != nil })
        }
        let shedAt = try #require(harness.calls.index(of: "registry.shed ws-a 2"))
        let stopAt = try #require(harness.calls.index(of: "driver.stop ws-1"))
        #expect(shedAt < stopAt, "the shed waited for the hung launch")
        // That the launch's own timeout ended it (and not the test's patience) is what the
        // decision's error says; a wall-clock bound here only measured how busy the machine was.
        let decision = try #require(await loop.status().decisions.first { $0.plan.launch == 1 })
        #expect(decision.errors.first?.contains("timed out") == true)
        #expect(await harness.balancer.state(of: "ws-1") == nil)
    }

    @Test("a hanging driver.launch itself times out too")
    func hangingDriverLaunchTimesOut() async throws {
        let harness = LoopHarness()
        await harness.driver.script([.hangLaunch])
        let probe = PlannerProbe(script: [ScalePlan(launch: 1, reasons: ["need one"])])
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe), tunables: .fastLaunchTimeout)
        try await harness.running(loop) {
            #expect(await eventually { await loop.status().decisions.first?.errors.isEmpty == false })
        }
        #expect(harness.calls.matching("lb.add") == [] && harness.calls.matching("lb.ready") == [])
        #expect(harness.calls.index(of: "driver.stop ws-1") != nil)
        let decision = try #require(await loop.status().decisions.first)
        #expect(decision.errors.first?.contains("timed out") == true)
    }

    @Test("plans never overlap: the next plan is computed only after the last one was carried out")
    func plansAreSerialized() async throws {
        let harness = LoopHarness()
        await harness.driver.adopt("ws-a", port: 9001)
        await harness.balancer.preload("ws-a", port: 9001, state: .ready)
        await harness.registry.setHost("ws-a", sessions: 1)
        await harness.balancer.setSetStateDelay(.milliseconds(10))
        let plan = ScalePlan(activate: ["ws-a"], drain: ["ws-a"], reasons: ["flap on purpose"])
        let probe = PlannerProbe(calls: harness.calls)
        let loop = harness.makeLoop(planner: RepeatingPlanner(plan: plan, probe: probe))
        try await harness.running(loop) {
            for round in 0..<20 {
                for _ in 0..<10 { harness.registry.push(.hostChanged("ws-a")) }
                if round % 5 == 0 { await harness.driver.crash("ws-none") }
                try await Task.sleep(for: .milliseconds(2))
            }
            #expect(await eventually { probe.executed.count >= 5 })
        }
        let sequence = harness.calls.all.filter {
            $0.hasPrefix("planner.") || $0.hasPrefix("lb.ready") || $0.hasPrefix("lb.drain")
        }
        var inPlan = false
        for call in sequence {
            switch call {
            case "planner.plan":
                #expect(!inPlan, "a plan started before the previous one was carried out")
                inPlan = true
            case "planner.executed":
                #expect(inPlan)
                inPlan = false
            default:
                #expect(inPlan, "\(call) ran outside a plan")
            }
        }
        // Each plan ran its steps in order: activate (ready) before drain.
        let steps = sequence.filter { $0.hasPrefix("lb.") }
        #expect(steps.count >= 10)
        for pair in stride(from: 0, to: steps.count - 1, by: 2) {
            #expect(steps[pair] == "lb.ready ws-a" && steps[pair + 1] == "lb.drain ws-a")
        }
    }

    @Test("debounce: a burst of 100 registry events gives a few planner calls, not 100")
    func burstIsCoalesced() async throws {
        let harness = LoopHarness()
        let probe = PlannerProbe()
        let tunables = Autoscaler.Tunables(safetyTick: .seconds(3600), debounce: .milliseconds(50),
                                           launchTimeout: .seconds(1), stopGrace: .zero)
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe), tunables: tunables)
        try await harness.running(loop) {
            #expect(await eventually { probe.planCalls == 1 })  // the startup wake
            for index in 0..<100 { harness.registry.push(.hostChanged("ws-\(index % 7)")) }
            #expect(await eventually { probe.planCalls >= 2 })
            try await Task.sleep(for: .milliseconds(150))  // let any straggling wake run
        }
        #expect(probe.planCalls <= 4, "\(probe.planCalls) planner calls for one burst")
    }

    @Test("registry events wake the loop quickly, well before the safety tick")
    func eventWakesLoop() async throws {
        let harness = LoopHarness()
        let probe = PlannerProbe()
        let tunables = Autoscaler.Tunables(safetyTick: .seconds(3600), debounce: .milliseconds(5))
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe), tunables: tunables)
        try await harness.running(loop) {
            #expect(await eventually { probe.planCalls == 1 })
            await harness.registry.setHost("ws-x", sessions: 3)
            harness.registry.push(.hostChanged("ws-x"))
            #expect(await eventually(timeout: .seconds(10)) { probe.planCalls == 2 }, "the tick is an hour away")
        }
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
        try await harness.running(loop) {
            #expect(await eventually { await loop.status().decisions.filter { $0.kind == .plan }.count == 2 })
            await harness.driver.crash("ws-a")
            #expect(await eventually { await loop.status().decisions.contains { $0.kind == .crash } })
        }
        #expect(harness.calls.all == [], "dry-run called \(harness.calls.all)")
        #expect(probe.executed.isEmpty)
        let status = await loop.status()
        #expect(status.dryRun)
        #expect(status.decisions.allSatisfy { $0.dryRun })
        let recorded = try #require(status.decisions.first { $0.kind == .plan })
        #expect(recorded.actions.first == "would activate ws-b")
        #expect(recorded.actions.contains("would launch 2 instances"))
        let reconcile = try #require(status.decisions.first { $0.kind == .reconcile })
        #expect(reconcile.reasons.contains { $0.contains("ws-a") && $0.contains("missing") })
        #expect(reconcile.reasons.contains { $0.contains("ws-gone") && $0.contains("no longer runs") })
        #expect(await harness.balancer.table.keys.sorted() == ["ws-b", "ws-gone"])
    }

    @Test("a crash removes the balancer entry and a planner wanting N instances gets a replacement")
    func crashIsReplaced() async throws {
        let harness = LoopHarness()
        let probe = PlannerProbe()
        let loop = harness.makeLoop(planner: TargetCountPlanner(target: 2, probe: probe))
        try await harness.running(loop) {
            #expect(await eventually {
                let table = await harness.balancer.table
                return table["ws-1"]?.state == .ready && table["ws-2"]?.state == .ready
            })
            await harness.driver.crash("ws-1")
            #expect(await eventually { await harness.balancer.state(of: "ws-3") == .ready })
        }
        #expect(await harness.balancer.table.keys.sorted() == ["ws-2", "ws-3"])
        #expect(await harness.driver.ids == ["ws-2", "ws-3"])
        let removed = try #require(harness.calls.index(of: "lb.remove ws-1"))
        let relaunched = try #require(harness.calls.index(of: "driver.launch ws-3"))
        #expect(removed < relaunched)
        let crash = try #require(await loop.status().decisions.first { $0.kind == .crash })
        #expect(crash.reasons.first?.contains("ws-1 exited on its own with code 137") == true)
        #expect(harness.calls.matching("driver.launch").count == 3)
    }

    @Test("after a load balancer restart every server is added back in the state the loop remembers")
    func reconcileAfterBalancerRestart() async throws {
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
        try await harness.running(loop) {
            #expect(await eventually {
                let table = await harness.balancer.table
                return table["ws-c"]?.state == .drain && table["ws-orphan"] == nil
            })
            await harness.balancer.restart()
            #expect(await eventually {
                let table = await harness.balancer.table
                return table["ws-a"]?.state == .ready && table["ws-b"]?.state == .drain && table["ws-c"]?.state == .drain
            })
        }
        #expect(await harness.balancer.table.count == 3)
        #expect(await harness.balancer.table["ws-b"]?.endpoint == Endpoint(host: "127.0.0.1", port: 9002))
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
        await harness.registry.setHost("ws-a", sessions: 5)
        let plan = ScalePlan(shed: [ShedOrder(host: "ws-a", count: 1, cause: .rebalance)], reasons: ["shed one"])
        let probe = PlannerProbe()
        var tunables = Autoscaler.Tunables.fast
        tunables.safetyTick = .milliseconds(5)
        tunables.decisionCapacity = 5
        let loop = harness.makeLoop(planner: RepeatingPlanner(plan: plan, probe: probe), tunables: tunables)
        try await harness.running(loop) {
            #expect(await eventually { await loop.status().decisions.last.map { $0.sequence >= 12 } ?? false })
        }
        let decisions = await loop.status().decisions
        #expect(decisions.count == 5)
        let sequences = decisions.map(\.sequence)
        #expect(sequences == Array(sequences[0]...(sequences[0] + 4)))
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
        let before = Int64(Date().timeIntervalSince1970 * 1000)
        let plan = ScalePlan(shed: [ShedOrder(host: "ws-b", count: 1, cause: .drainTimeout)], reasons: ["ws-b drained too long"])
        let probe = PlannerProbe(script: [plan])
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: probe))
        try await harness.running(loop) {
            #expect(await eventually { await loop.status().decisions.count == 1 })
        }
        let status = await loop.status()
        #expect(status.driver == "fake")
        #expect(!status.dryRun)
        #expect(status.connectionLimitPerHost == 10)
        #expect(status.lastError == nil)
        #expect(try #require(status.observedAt) >= before)
        #expect(status.instances.map(\.id) == ["ws-a", "ws-b"])
        let a = status.instances[0], b = status.instances[1]
        #expect(a.state == .active && a.endpoint == Endpoint(host: "127.0.0.1", port: 9001))
        #expect(a.sessions == 7 && a.utilizationPercent == 70 && a.balancerConnections == 7 && !a.balancerDisagrees)
        #expect(b.state == .draining && b.balancerState == .drain && b.balancerConnections == 3 && b.balancerDisagrees)
        #expect(status.totalSessions >= 8)  // ws-b may have shed one before the last read
        #expect(status.utilizationPercent == Double(status.totalSessions) * 10)
        let decision = try #require(status.decisions.first)
        #expect(decision.kind == .plan && decision.reasons == ["ws-b drained too long"] && decision.plan == plan)
        #expect(decision.timestamp >= before && decision.sequence == 1 && decision.errors.isEmpty)

        let json = try JSONEncoder().encode(status)
        let decoded = try JSONDecoder().decode(PoolStatus.self, from: json)
        #expect(decoded == status)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["driver"] as? String == "fake")
        #expect((object["instances"] as? [[String: Any]])?.first?["state"] as? String == "active")
    }

    @Test("errors reading the pool are recorded and retried; the loop keeps going")
    func readErrorsAreRetried() async throws {
        let harness = LoopHarness()
        let probe = PlannerProbe()
        let failing = FailingOnceDriver(base: harness.driver)
        var configuration = ScalingConfiguration()
        configuration.dryRun = false
        let ids = harness.ids
        let loop = Autoscaler(configuration: configuration, driver: failing, loadBalancer: harness.balancer,
                              registry: harness.registry, planner: TargetCountPlanner(target: 1, probe: probe),
                              makeID: { ids.next() }, tunables: .fast,
                              logger: .init(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await harness.running(loop) {
            #expect(await eventually { await harness.balancer.state(of: "ws-1") == .ready })
        }
        #expect(await failing.failures == 3)
    }
}
