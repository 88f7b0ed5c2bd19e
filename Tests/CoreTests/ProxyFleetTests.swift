import Synchronization
import Testing
@testable import WSScaleCore

/// Several proxies in front of one pool, kept identical: the combined reading, changes that
/// reach every instance, an instance that restarted or does not answer.
@Suite("Proxy fleet: several HAProxy instances as one", .timeLimit(.minutes(1)))
struct ProxyFleetTests {
    let calls = CallLog()

    func fleet(_ proxies: FakeTrafficProxy...) -> ProxyFleet {
        ProxyFleet(proxies.enumerated().map { ProxyFleet.Member(name: "haproxy-\($0.offset + 1)", proxy: $0.element) })
    }

    @Test("a reading counts each server's connections and the queues over all instances; a server one lacks or they disagree on reads as maintenance without a limit")
    func combinedReading() async throws {
        let (a, b) = (FakeTrafficProxy(calls: calls), FakeTrafficProxy(calls: calls))
        await a.preload("ws-1", port: 1, state: .ready, connections: 4)
        await b.preload("ws-1", port: 1, state: .ready, connections: 5)
        await a.preload("ws-2", port: 2, state: .ready, connections: 1)
        await b.preload("ws-2", port: 2, state: .drain, connections: 2)
        await a.preload("ws-3", port: 3, state: .ready, connections: 3)  // b lacks it
        try await a.setConnectionLimit("ws-1", 10)
        try await b.setConnectionLimit("ws-1", 10)
        await a.setQueued(2)
        await b.setQueued(3)
        let reading = try await fleet(a, b).read()
        let byID = Dictionary(uniqueKeysWithValues: reading.servers.map { ($0.id, $0) })
        #expect(byID["ws-1"]?.state == .ready && byID["ws-1"]?.currentConnections == 9 && byID["ws-1"]?.connectionLimit == 10)
        #expect(byID["ws-2"]?.state == .maintenance && byID["ws-2"]?.currentConnections == 3)
        #expect(byID["ws-3"]?.state == .maintenance && byID["ws-3"]?.connectionLimit == nil && byID["ws-3"]?.currentConnections == 3)
        #expect(reading.queued == 5)
        #expect(reading.members == [ProxyMemberStatus(name: "haproxy-1", reachable: true, servers: 3),
                                    ProxyMemberStatus(name: "haproxy-2", reachable: true, servers: 2)])
    }

    @Test("an instance that does not answer is left out and listed; changes still reach the others; with none answering, reading and changes fail naming each")
    func unreachableInstance() async throws {
        let (a, b) = (FakeTrafficProxy(calls: calls), FakeTrafficProxy(calls: calls))
        let fleet = fleet(a, b)
        await b.setUnreachable(true)
        try await fleet.add("ws-1", at: Endpoint(host: "127.0.0.1", port: 1))
        try await fleet.setState("ws-1", .ready)
        let reading = try await fleet.read()
        #expect(reading.servers.map(\.state) == [.ready])
        #expect(reading.members.map(\.reachable) == [true, false])
        #expect(reading.members[1].error?.contains("connection refused") == true)

        await a.setUnreachable(true)
        let failed = await #expect(throws: ProxyFleetError.self) { try await fleet.read() }
        #expect(failed?.failures.count == 2 && failed?.description.contains("haproxy-2") == true)
        await #expect(throws: ProxyFleetError.self) { try await fleet.setState("ws-1", .drain) }
    }

    @Test("the control loop brings an instance that restarted empty up to date at its next wake, in the states it remembers")
    func restartedInstanceIsResynced() async throws {
        let harness = LoopHarness()
        let second = FakeTrafficProxy(calls: harness.calls)
        let fleet = ProxyFleet([ProxyFleet.Member(name: "a", proxy: harness.balancer), ProxyFleet.Member(name: "b", proxy: second)])
        for (id, port, state) in [("ws-a", 9001, ProxyServerState.ready), ("ws-b", 9002, .drain)] {
            await harness.driver.adopt(id, port: port)
            await harness.balancer.preload(id, port: port, state: state)
            await second.preload(id, port: port, state: state)
            await harness.registry.setHost(id, sessions: 2, draining: state == .drain)
        }
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: PlannerProbe()), trafficProxy: fleet)
        await harness.finish(await harness.step(loop, .startup))
        await second.restart()
        await harness.finish(await harness.step(loop))
        #expect(await second.state(of: "ws-a") == .ready)
        #expect(await second.state(of: "ws-b") == .drain)
        #expect(await harness.balancer.state(of: "ws-a") == .ready)
        #expect(await harness.balancer.state(of: "ws-b") == .drain)
        let limit = await harness.balancer.connectionLimit(of: "ws-a")
        let secondLimit = await second.connectionLimit(of: "ws-a")
        #expect(limit != nil && secondLimit == limit, "the limit is given again too")
        let reading = try await fleet.read()
        #expect(reading.servers.map(\.state) == [.ready, .drain], "identical again")
    }

    /// Instances a test adds and takes away, as a DNS name's addresses come and go.
    final class ChangingMembers: ProxyMemberSource, @unchecked Sendable {
        let current: Mutex<[ProxyFleet.Member]>
        init(_ members: [ProxyFleet.Member]) { current = Mutex(members) }
        func members() async -> [ProxyFleet.Member] { current.withLock { $0 } }
        var description: String { "changing members" }
    }

    @Test("an instance that joins the fleet's source (a new swarm node's HAProxy) is brought up to date at the next wake; with none, reading fails saying so")
    func joiningInstanceIsResynced() async throws {
        let harness = LoopHarness()
        let joining = FakeTrafficProxy(calls: harness.calls)
        let source = ChangingMembers([ProxyFleet.Member(name: "a", proxy: harness.balancer)])
        let fleet = ProxyFleet(source: source)
        for (id, port, state) in [("ws-a", 9001, ProxyServerState.ready), ("ws-b", 9002, .drain)] {
            await harness.driver.adopt(id, port: port)
            await harness.balancer.preload(id, port: port, state: state)
            await harness.registry.setHost(id, sessions: 2, draining: state == .drain)
        }
        let loop = harness.makeLoop(planner: ScriptedPlanner(probe: PlannerProbe()), trafficProxy: fleet)
        await harness.finish(await harness.step(loop, .startup))
        source.current.withLock { $0.append(ProxyFleet.Member(name: "b", proxy: joining)) }
        await harness.finish(await harness.step(loop))
        #expect(await joining.state(of: "ws-a") == .ready)
        #expect(await joining.state(of: "ws-b") == .drain)
        let reading = try await fleet.read()
        #expect(reading.members.map(\.name) == ["a", "b"])
        #expect(reading.servers.map(\.state) == [.ready, .drain], "identical")

        source.current.withLock { $0 = [] }
        let error = await #expect(throws: ProxyFleetError.self) { try await fleet.read() }
        #expect(error?.description.contains("no proxy instance: changing members") == true, "\(error.map { "\($0)" } ?? "")")
    }
}
