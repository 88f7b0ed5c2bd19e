import Foundation
import Testing
import WSScaleTestSupport

extension RealStackTests.DockerStackTests {
/// The balancer on the host with the docker backend (`ContainerBackendStack`): servers are
/// `wsscale:local` containers publishing on 127.0.0.1, HAProxy and the client simulator run
/// on the host, all traffic on loopback.
@Suite struct DockerBackendStackTests {
    /// 20 users scale the pool out; a server killed from outside (`docker kill`) leaves the
    /// topology, its container is removed, and its users get back in on the others.
    @Test func scalesOutAndSurvivesAKilledContainer() async throws {
        let stack = try await ContainerBackendStack.start(engine: .docker)
        do {
            let users = (1...20).map { "crash-\($0)" }
            try await stack.client.batch(connect: true, users: users)
            let scaledOut = await TestSupport.eventually(timeout: .seconds(30)) {
                try await stack.topology().inRotation.count >= 3
            }
            #expect(scaledOut, "20 users on servers of 10 at 80 % need 3 servers")
            let connected = await allConnected(stack, 20, within: .seconds(30))
            #expect(connected, "all 20 users connected and registered")
            if !scaledOut || !connected { print(await stack.describe()) }

            let before = try await stack.topology()
            let victim = try #require(before.inRotation.max { $0.sessions < $1.sessions })
            try stack.killServer(victim.id)
            let gone = await TestSupport.eventually(timeout: .seconds(15)) {
                try await !stack.topology().instances.contains { $0.id == victim.id }
            }
            #expect(gone, "the killed server \(victim.id) leaves the topology")
            // The loop removes the dead container in the background, right after the topology drops it.
            let removed = await TestSupport.eventually(timeout: .seconds(10)) {
                DockerTestEnvironment.docker("ps", "-aq", "--filter", "name=^\(victim.id)$").output.isEmpty
            }
            #expect(removed, "the killed container is removed")
            let reconnected = await allConnected(stack, 20, within: .seconds(30))
            #expect(reconnected, "the killed server's users reconnect on the others")
            if !reconnected { print(await stack.describe()) }
            let after = try await stack.topology()
            print("docker backend stack: killed \(victim.id) (\(victim.sessions) sessions); now \(after.instances.map { "\($0.id)=\($0.sessions)" })")
        } catch {
            print(stack.logs())
            await stack.stop()
            throw error
        }
        let left = await stack.stop()
        #expect(left.isEmpty, "left behind: \(left)")
    }

    private func allConnected(_ stack: ContainerBackendStack, _ count: Int, within limit: Duration) async -> Bool {
        await TestSupport.eventually(timeout: limit) {
            let connected = try await stack.client.connectedUsers()
            let sessions = try await stack.topology().totalSessions
            return connected == count && sessions == count
        }
    }
}
}
