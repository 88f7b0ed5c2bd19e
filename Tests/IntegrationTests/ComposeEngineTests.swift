import Foundation
import WSScaleCore
import Testing
import WSScaleTestSupport

extension RealStackTests {
/// `docker/compose.yml` as a compose user runs it, on docker-compose (Debian's 1.29) and on
/// podman-compose 1.6.0, each with the real engine and the real images: up; the seed's
/// experiments 1 and 4 through the client simulator on 127.0.0.1; a server killed; the
/// balancer restarted; `down`. podman-compose exits 0 even when a container fails, so the
/// containers themselves are checked: running, healthy, the balancer answering.
@Suite("compose on both engines")
struct ComposeEngineTests {
    static let engines: [ComposeEngine] = [.docker, .podman]

    /// The seed's knobs (docker/.env has them too) with a short lease, so a killed server
    /// leaves the topology within seconds.
    static let seedSettings = ["MIN_INSTANCES": "1", "MAX_INSTANCES": "10", "SCALE_IN_STABILIZATION_SECONDS": "1",
                               "STOP_GRACE_SECONDS": "2"]

    @Test("experiment 1 through compose: 40 users at once, none refused, no server above 30; ps lists the servers; down leaves nothing",
          arguments: engines)
    func burstThenDown(_ compose: ComposeEngine) async throws {
        try await Self.withStack(compose) { stack in
            // Docker runs a health check every 2 s from the start: wait for each one's first.
            let healthy = await TestSupport.eventually(timeout: .seconds(30)) { stack.unhealthyServices().isEmpty }
            #expect(healthy, "\(compose): \(stack.unhealthyServices())")
            let scenario = stack.scenario
            try await TestSupport.waitUntil("one server in rotation", timeout: .seconds(60), {
                try await scenario.api.topology().active.count == 1
            }, describe: { await scenario.describeState() })
            let report = try await scenario.burstOfUsers(40)
            print("\(compose) experiment 1: all 40 connected after \(report.timeToAllConnected), refused \(report.refusedByFirstServer), "
                  + "highest \(report.highestSessions), \(report.servers) servers")
            #expect(report.refusedByFirstServer == 0)
            #expect(report.highestSessions <= 30)

            // The servers belong to the project: compose's own `ps` lists them.
            let servers = try await scenario.api.topology().instances.map { "\(stack.pool)-\($0.id)" }
            let listed = await stack.compose(["ps"]).output
            for server in servers {
                #expect(listed.contains(server), "\(compose) ps does not list \(server):\n\(listed)")
            }
            await Self.expectDownLeavesNothing(stack)
        }
    }

    /// As a new non-root user runs it: that user's own podman service and socket, images in
    /// that user's storage. Rootless podman stores images with vfs here (no overlay on this
    /// machine's overlay root), which copies the whole image for every container: a server
    /// takes seconds to start, so this checks the stack works, not experiment 1's timing.
    @Test("rootless podman compose: up, a server in rotation, users connected through HAProxy, ps lists the server, down leaves nothing")
    func rootlessPodman() async throws {
        let compose = ComposeEngine.podmanRootless
        try await Self.withStack(compose) { stack in
            let healthy = await TestSupport.eventually(timeout: .seconds(60)) { stack.unhealthyServices().isEmpty }
            #expect(healthy, "\(compose): \(stack.unhealthyServices())")
            let scenario = stack.scenario
            try await TestSupport.waitUntil("one server in rotation", timeout: .seconds(120), {
                try await scenario.api.topology().active.count == 1
            }, describe: { await scenario.describeState() })
            let users = (1...5).map { "rootless-\($0)" }
            try await scenario.api.connect(users)
            _ = try await scenario.waitUntilConnected(users, timeout: .seconds(30))
            let server = try await scenario.api.topology().active[0].id
            let listed = await stack.compose(["ps"]).output
            #expect(listed.contains("\(stack.pool)-\(server)"), "\(compose) ps does not list \(server):\n\(listed)")
            print("\(compose): up → balancer answering \(stack.upTime); 5 users on \(server)")
            await Self.expectDownLeavesNothing(stack)
        }
    }

    @Test("experiment 4 through compose: Swiss cheese settles within 10 s", arguments: engines)
    func swissCheese(_ compose: ComposeEngine) async throws {
        try await Self.withStack(compose) { stack in
            let report = try await stack.scenario.swissCheese(total: 40, timeout: .seconds(10))
            print("\(compose) experiment 4: \(report.left) users left \(report.holedServer); settled after \(report.settleTime)")
            #expect(report.settleTime < .seconds(10))
        }
    }

    @Test("a killed server is replaced; a restarted balancer adopts the pool and launches nothing twice", arguments: engines)
    func killedServerAndRestartedBalancer(_ compose: ComposeEngine) async throws {
        try await Self.withStack(compose, settings: ["MIN_INSTANCES": "2"]) { stack in
            let scenario = stack.scenario
            try await TestSupport.waitUntil("two servers in rotation", timeout: .seconds(60), {
                try await scenario.api.topology().active.count == 2
            }, describe: { await scenario.describeState() })
            let users = (1...10).map { "kept-\($0)" }
            try await scenario.api.connect(users)
            _ = try await scenario.waitUntilConnected(users, timeout: .seconds(20))

            // A server killed like a crash: it leaves, and a new one takes its place.
            let before = try await scenario.api.topology().active.map(\.id)
            try await scenario.killServer(before[0])
            try await TestSupport.waitUntil("\(before[0]) replaced", timeout: .seconds(60), {
                let now = try await scenario.api.topology()
                return !now.instances.contains { $0.id == before[0] } && now.active.count == 2
            }, describe: { await scenario.describeState() })
            _ = try await scenario.waitUntilConnected(users, timeout: .seconds(30))

            // The balancer restarted: it adopts the same servers and launches none.
            let pool = try await scenario.api.topology().instances.map(\.id).sorted()
            let containersBefore = stack.compose.engine.cli.containers(ofPool: stack.pool).count
            let restart = await stack.compose(["restart", "balancer"])
            #expect(restart.status == 0, "\(compose) restart balancer: \(restart.output.suffix(1000))")
            try await TestSupport.waitUntil("the restarted balancer has the same pool in rotation", timeout: .seconds(60), {
                let now = try await scenario.api.topology()
                return now.instances.map(\.id).sorted() == pool && now.active.count == pool.count
            }, describe: { await scenario.describeState() })
            let containersAfter = stack.compose.engine.cli.containers(ofPool: stack.pool).count
            #expect(containersAfter == containersBefore, "\(compose): \(containersBefore) server containers before the restart, \(containersAfter) after")
            _ = try await scenario.waitUntilConnected(users, timeout: .seconds(30))
        }
    }

    /// Scale-out reaction time (`ScaleOutReaction`: from the upgrade request of the user that
    /// takes one server above 80 % to the new container in rotation), median of 5, and the time
    /// from `up` to the balancer answering (images built). Prints both (README's figures).
    @Test("figures: scale-out reaction and up → balancer answering", arguments: engines)
    func measuresScaleOutReaction(_ compose: ComposeEngine) async throws {
        try await Self.withStack(compose, settings: ["SCALE_IN_STABILIZATION_SECONDS": "1", "MAX_INSTANCES": "4"]) { stack in
            let samples = try await ScaleOutReaction.measure(samples: 5, traffic: Endpoint(host: "127.0.0.1", port: stack.trafficPort)) {
                try await stack.topology()
            }
            let median = ScaleOutReaction.median(samples)
            print("\(compose) up → balancer answering: \(stack.upTime); scale-out reaction (threshold crossing → new container in rotation): "
                  + "median of 5 = \(median), all = \(samples)")
            #expect(median < .seconds(10))
        }
    }

    /// Runs `body` on a fresh project with the seed's knobs (prints `SKIPPING` and returns when
    /// the engine cannot run here); then `down`, and nothing of the project may be left.
    /// On a failure, the services' logs are printed first.
    static func withStack(_ compose: ComposeEngine, settings: [String: String] = [:],
                          _ body: (ComposeStack) async throws -> Void) async throws {
        if let reason = compose.unavailableReason {
            print("SKIPPING \(compose): \(reason)")
            return
        }
        let stack = try await ComposeStack.up(compose, settings: seedSettings.merging(settings) { _, new in new })
        do {
            try await body(stack)
        } catch {
            print(await stack.logs())
            await stack.down()
            throw error
        }
        await expectDownLeavesNothing(stack)
    }

    /// Plain `down`, as a user types it: no container, network or volume of the project is
    /// left (the secrets are in the state folder, a bind mount, not a volume).
    static func expectDownLeavesNothing(_ stack: ComposeStack) async {
        let down = await stack.down()
        #expect(down.status == 0, "\(stack.compose) down: \(down.output.suffix(2000))")
        #expect(stack.leftovers().isEmpty, "\(stack.compose) down left: \(stack.leftovers())\n\(down.output.suffix(2000))")
    }
}
}
