import Foundation
import NIOCore
import Testing
import WSScaleCore
import WSScaleTestSupport

extension RealStackTests {
/// The balancer on the host with the podman backend (`ContainerBackendStack` on Podman):
/// servers are `localhost/wsscale:local` containers created through Podman's REST API,
/// publishing on 127.0.0.1; Redis in a podman container on the stack's network (published on
/// 127.0.0.1 for the balancer); HAProxy and the client simulator on the host. All traffic on
/// loopback. Nested in `RealStackTests`: serialized with every other whole-stack test.
@Suite("wsscale on Podman, whole stacks",
       .enabled(if: PodmanTestEnvironment.isAvailable, "needs podman's REST API and the image (a SKIPPING line above says why)"))
struct PodmanStackTests {
    /// Sessions through HAProxy take the one server above 80 % (9 of 10): a new container
    /// comes into rotation (the time is printed: the scale-out reaction on podman), the client
    /// simulator's users land on the new containers too, and stopping the stack leaves no
    /// container, Redis or network behind.
    @Test func scalesOutToANewContainerAndLeavesNothingBehind() async throws {
        let stack = try await ContainerBackendStack.start(engine: .podman, settings: ["MAX_INSTANCES": "4"])
        var open: [any Channel] = []
        do {
            let traffic = Endpoint(host: "127.0.0.1", port: stack.trafficPort)
            let before = Set(try await stack.topology().instances.map(\.id))
            try #require(before.count == 1, "one server to start with")
            for index in 0..<8 {
                open.append(try await LoopbackHTTP.openUpgradedConnection(traffic, path: "/api/v1/websocket/podman-\(index)", timeout: .seconds(5)))
            }
            let registered = await TestSupport.eventually(timeout: .seconds(10)) { try await stack.topology().totalSessions == 8 }
            try #require(registered, "8 sessions registered")
            open.append(try await LoopbackHTTP.openUpgradedConnection(traffic, path: "/api/v1/websocket/podman-8", timeout: .seconds(5)))
            let clock = ContinuousClock()
            let crossed = clock.now
            var reaction: Duration?
            while reaction == nil, clock.now - crossed < .seconds(30) {
                if try await stack.topology().inRotation.contains(where: { !before.contains($0.id) }) {
                    reaction = clock.now - crossed
                } else {
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            let measured = try #require(reaction, "a new podman container in rotation within 30 s")
            print("podman backend scale-out reaction (threshold crossing → new container in rotation): \(measured)")

            let users = (1...10).map { "podman-user-\($0)" }
            try await stack.client.batch(connect: true, users: users)
            let landed = await TestSupport.eventually(timeout: .seconds(30)) {
                let topology = try await stack.topology()
                let onNew = topology.instances.filter { !before.contains($0.id) }.map(\.sessions).reduce(0, +)
                return try await stack.client.connectedUsers() == 10 && topology.totalSessions == 19 && onNew > 0
            }
            if !landed { print(await stack.describe()) }
            #expect(landed, "the 10 users are connected, some on the new containers")
            let containers = ContainerCLI.podman.containers(ofPool: stack.pool)
            #expect(containers.count == (try await stack.topology().instances.count), "one podman container per server: \(containers)")
        } catch {
            print(stack.logs())
            for channel in open { try? await channel.close() }
            await stack.stop()
            throw error
        }
        for channel in open { try? await channel.close() }
        let left = await stack.stop()
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test("podman 1: 40 users at once; the overflow is refused (1013), then everyone gets in, no server above 30")
    func burstOfUsers() async throws {
        let stack = try await ContainerBackendStack.start(engine: .podman)
        let scenario = StackScenario(api: StackAPI(clientPort: stack.clientPort, balancerPort: stack.balancerPort),
                                     killServer: { id in try stack.killServer(id) })
        let report: StackScenario.BurstReport
        do {
            report = try await scenario.burstOfUsers(40)
        } catch {
            print(stack.logs())
            await stack.stop()
            throw error
        }
        let left = await stack.stop()
        #expect(left.isEmpty, "left behind: \(left)")
        print("podman experiment 1: all 40 connected after \(report.timeToAllConnected), first server refused "
              + "\(report.refusedByFirstServer), highest \(report.highestSessions) sessions, \(report.servers) servers")
        #expect(report.refusedByFirstServer > 0)
        #expect(report.highestSessions <= 30)
        #expect(report.timeToAllConnected < .seconds(20))
    }
}
}
