import Logging
import Testing
@testable import WSScaleCore
import WSScaleTestSupport

/// Several balancers, one leader: the election's rules and the fence, on a test clock.
@Suite("Leader election and the fence")
struct LeaderElectionTests {
    static let lease: Duration = .seconds(6)
    let clock = ManualClock()

    func balancer(_ id: String, on store: InMemoryLeaderLease) -> (Leadership, LeaderElection) {
        let leadership = Leadership(holder: LeaderIdentity.holder(balancerID: id),
                                    validity: LeaderElection.validity(of: Self.lease), clock: clock)
        let election = LeaderElection(lease: store, leadership: leadership, duration: Self.lease, wallClock: .fixed(1_000),
                                      logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        return (leadership, election)
    }

    @Test("two balancers claiming at the same moment: exactly one leads, the other sees it")
    func oneLeaderOfTwo() async {
        let store = InMemoryLeaderLease(clock: clock)
        let (first, firstElection) = balancer("b1", on: store)
        let (second, secondElection) = balancer("b2", on: store)
        async let a: Void = firstElection.claimOnce()
        async let b: Void = secondElection.claimOnce()
        _ = await (a, b)
        let leaders = [first, second].filter { $0.mayAct() != nil }
        #expect(leaders.count == 1)
        #expect(first.lastSeen == second.lastSeen)
        #expect(first.lastSeen?.token == 1)
    }

    @Test("a leader that stops renewing stops acting before its lease lapses; a standby then takes it with a larger token")
    func takeoverAfterTheLeaderStops() async {
        let store = InMemoryLeaderLease(clock: clock)
        let (leader, leaderElection) = balancer("b1", on: store)
        let (standby, standbyElection) = balancer("b2", on: store)
        await leaderElection.claimOnce()
        await standbyElection.claimOnce()
        let first = try! #require(leader.mayAct())
        #expect(standby.mayAct() == nil)

        // The leader is paused (SIGSTOP): no claim for a whole lease.
        clock.advance(by: LeaderElection.validity(of: Self.lease))
        #expect(leader.mayAct() == nil, "its own clock ends its leadership first")
        await standbyElection.claimOnce()
        #expect(standby.mayAct() == nil, "the lease has not lapsed yet: nobody leads for a moment")
        clock.advance(by: Self.lease - LeaderElection.validity(of: Self.lease))
        await standbyElection.claimOnce()
        let second = try! #require(standby.mayAct())
        #expect(second.token > first.token)

        // The old leader wakes up and claims: it is told who leads and stays a standby.
        await leaderElection.claimOnce()
        #expect(leader.mayAct() == nil)
        #expect(leader.lastSeen == second)
    }

    @Test("the fence refuses a change from a standby, from a leader whose validity ran out, and from one the store no longer names")
    func fenceRefusesAllButTheLeader() async throws {
        let store = InMemoryLeaderLease(clock: clock)
        let (leader, election) = balancer("b1", on: store)
        let fence = LeadershipFence(leadership: leader, lease: store)
        await #expect(throws: NotLeadingError.self) { try await fence.check("launch ws-a") }

        await election.claimOnce()
        try await fence.check("launch ws-a")

        // Paused past its validity: refused by its own clock, whatever the store says.
        clock.advance(by: LeaderElection.validity(of: Self.lease))
        let refused = await #expect(throws: NotLeadingError.self) { try await fence.check("launch ws-b") }
        #expect(refused?.description.contains("launch ws-b refused") == true)

        // Within its validity, but the store names another holder (a clock that ran slow).
        clock.advance(by: Self.lease)
        let (other, otherElection) = balancer("b2", on: store)
        await otherElection.claimOnce()
        #expect(other.mayAct() != nil)
        await election.claimOnce()  // answers with b2's record: b1 is a standby again
        leader.claimReturned(try #require(leader.lastSeen).with(holder: leader.holder), sentAt: clock.now.offset)
        let stale = await #expect(throws: NotLeadingError.self) { try await fence.check("drain ws-a") }
        #expect(stale?.leader?.holder == other.holder, "\(String(describing: stale))")
    }

    @Test("a store that does not answer: the leader acts until its validity runs out, then stops")
    func unreachableStore() async {
        let store = InMemoryLeaderLease(clock: clock)
        let (leader, election) = balancer("b1", on: store)
        await election.claimOnce()
        store.setUnreachable(true)
        clock.advance(by: Self.lease / 3)
        await election.claimOnce()
        #expect(leader.mayAct() != nil, "one failed renewal changes nothing")
        clock.advance(by: LeaderElection.validity(of: Self.lease) - Self.lease / 3)
        await election.claimOnce()
        #expect(leader.mayAct() == nil)
    }
}

extension LeaderRecord {
    /// The same record claimed by `holder` (a forged belief, for the fence's test).
    func with(holder: String) -> LeaderRecord { LeaderRecord(holder: holder, token: token, since: since) }
}
