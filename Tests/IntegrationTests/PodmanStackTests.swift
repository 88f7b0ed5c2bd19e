import Foundation
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
    /// comes into rotation, the client simulator's users land on the new containers too, and
    /// stopping the stack leaves no container, Redis or network behind.
    @Test func scalesOutToANewContainerAndLeavesNothingBehind() async throws {
        let (_, left) = try await ContainerBackendStack.run(engine: .podman, settings: ["MAX_INSTANCES": "4"]) { stack in
            let before = Set(try await stack.topology().instances.map(\.id))
            let reaction = try await ScaleOutReaction.measure(samples: 1, traffic: Endpoint(host: "127.0.0.1", port: stack.trafficPort)) {
                try await stack.topology()
            }
            print("podman backend: a new container in rotation \(reaction[0]) after the threshold crossing")
            let users = (1...20).map { "podman-user-\($0)" }
            try await stack.client.batch(connect: true, users: users)
            let landed = await TestSupport.eventually(timeout: .seconds(30)) {
                let topology = try await stack.topology()
                let onNew = topology.instances.filter { !before.contains($0.id) }.map(\.sessions).reduce(0, +)
                return try await stack.client.connectedUsers() == 20 && topology.totalSessions == 20 && onNew > 0
                    && topology.inRotation.count >= 3
            }
            if !landed { print(await stack.describe()) }
            #expect(landed, "20 users on servers of 10 at 80 % need 3 servers; all connected, some on new containers")
            let containers = ContainerCLI.podman.containers(ofPool: stack.pool)
            #expect(containers.count == (try await stack.topology().instances.count), "one podman container per server: \(containers)")
        }
        #expect(left.isEmpty, "left behind: \(left)")
    }

    /// Scale-out reaction time on the podman backend, median of 5 (`ScaleOutReaction`).
    /// Prints the figure (README's table).
    @Test func measuresScaleOutReaction() async throws {
        let settings = ["SCALE_IN_STABILIZATION_SECONDS": "1", "MAX_INSTANCES": "4"]
        let (samples, left) = try await ContainerBackendStack.run(engine: .podman, settings: settings) { stack in
            try await ScaleOutReaction.measure(samples: 5, traffic: Endpoint(host: "127.0.0.1", port: stack.trafficPort)) {
                try await stack.topology()
            }
        }
        let median = ScaleOutReaction.median(samples)
        print("podman backend scale-out reaction (threshold crossing → new container in rotation): median of 5 = \(median), all = \(samples)")
        #expect(median < .seconds(3))
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test("podman 1: 40 users at once; the overflow waits in HAProxy's queue for the new servers (none refused), everyone gets in, no server above 30")
    func burstOfUsers() async throws {
        let (report, left) = try await ContainerBackendStack.run(engine: .podman) { stack in
            try await StackScenario(api: StackAPI(clientPort: stack.clientPort, balancerPort: stack.balancerPort),
                                    killServer: { id in try stack.killServer(id) }).burstOfUsers(40)
        }
        #expect(left.isEmpty, "left behind: \(left)")
        print("podman experiment 1: all 40 connected after \(report.timeToAllConnected), first server refused "
              + "\(report.refusedByFirstServer), highest \(report.highestSessions) sessions, \(report.servers) servers")
        #expect(report.refusedByFirstServer == 0)
        #expect(report.highestSessions <= 30)
        #expect(report.timeToAllConnected < .seconds(20))
    }
}
}
