import Testing
@testable import WSScaleCore

@Suite("PoolState: bookkeeping and reconciliation, without I/O")
struct PoolStateTests {
    private func running(_ id: InstanceID, port: Int) -> DriverInstance {
        DriverInstance(id: id, status: .running, endpoint: Endpoint(host: "127.0.0.1", port: port))
    }

    private func server(_ id: InstanceID, port: Int, _ state: ProxyServerState, connections: Int = 0) -> ProxyServer {
        ProxyServer(id: id, endpoint: Endpoint(host: "127.0.0.1", port: port), state: state,
                       healthy: true, currentConnections: connections)
    }

    @Test("a launch under way is starting, even before the driver lists it, and is not corrected")
    func launchingIsStarting() {
        var pool = PoolState()
        pool.launchStarted("ws-1", at: .seconds(10))
        let result = pool.reconcile(
            with: PoolObservation(driver: [], proxy: [], registry: [], startedAt: .seconds(11)),
            now: .seconds(12), launchTimeout: .seconds(30), connectionLimit: 10)
        #expect(result.actions == [])
        #expect(result.snapshot.starting.map(\.id) == ["ws-1"])
        #expect(result.snapshot.instances.first?.age == .seconds(2))
        #expect(pool.launchingCount == 1)
    }

    @Test("a launch under way far beyond its timeout is retired")
    func launchingTooLongIsRetired() {
        var pool = PoolState()
        pool.launchStarted("ws-1", at: .zero)
        let result = pool.reconcile(
            with: PoolObservation(driver: [], proxy: [], registry: [], startedAt: .seconds(61)),
            now: .seconds(61), launchTimeout: .seconds(30), connectionLimit: 10)
        #expect(result.actions.count == 1)
        guard case .retire("ws-1", _) = result.actions.first else {
            Issue.record("expected retire, got \(result.actions)")
            return
        }
        #expect(result.snapshot.instances.isEmpty)
    }

    @Test("states follow the balancer (and the registry's draining flag); times in state are kept")
    func statesFollowTheProxy() {
        var pool = PoolState()
        let driver = [running("ws-a", port: 1), running("ws-b", port: 2), running("ws-c", port: 3)]
        let balancer = [server("ws-a", port: 1, .ready), server("ws-b", port: 2, .drain), server("ws-c", port: 3, .ready)]
        let registry = [HostSessions(host: "ws-a", sessions: 4), HostSessions(host: "ws-c", sessions: 1, draining: true)]
        _ = pool.reconcile(with: PoolObservation(driver: driver, proxy: balancer, registry: registry, startedAt: .zero),
                           now: .seconds(1), launchTimeout: .seconds(30), connectionLimit: 10)
        let later = pool.reconcile(
            with: PoolObservation(driver: driver, proxy: balancer, registry: registry, startedAt: .seconds(5)),
            now: .seconds(5), launchTimeout: .seconds(30), connectionLimit: 10)
        #expect(later.actions == [])
        #expect(later.snapshot.instances.map(\.state) == [.active, .draining, .draining])
        #expect(later.snapshot.instances.map(\.sessions) == [4, 0, 1])
        #expect(later.snapshot.instances.allSatisfy { $0.age == .seconds(4) && $0.timeInState == .seconds(4) })
        #expect(later.instances.map(\.utilizationPercent) == [40, 0, 10])
    }

    @Test("drain state has one owner: a host that says otherwise past the registry's grace is told the record again")
    func hostsThatDisagreeAreToldAgain() {
        var pool = PoolState()
        let driver = [running("ws-a", port: 1), running("ws-b", port: 2), running("ws-c", port: 3)]
        let balancer = [server("ws-a", port: 1, .ready), server("ws-b", port: 2, .drain), server("ws-c", port: 3, .ready)]
        // ws-a drains by someone else's word; ws-b missed its drain command; ws-c has not said yet.
        let registry = [HostSessions(host: "ws-a", sessions: 2, reportsDraining: true),
                        HostSessions(host: "ws-b", sessions: 1, draining: true, reportsDraining: false),
                        HostSessions(host: "ws-c", sessions: 1)]
        func observe(at second: Int64) -> [ReconcileAction] {
            pool.reconcile(with: PoolObservation(driver: driver, proxy: balancer, registry: registry,
                                                 startedAt: .seconds(second)),
                           now: .seconds(second), launchTimeout: .seconds(30), registryGrace: .seconds(10),
                           connectionLimit: 10).actions
        }
        #expect(observe(at: 1) == [])
        #expect(observe(at: 11) == [], "within the grace: the host's report may lag the record")
        #expect(observe(at: 12) == [.tellDrainState("ws-a", draining: false), .tellDrainState("ws-b", draining: true)])
        #expect(pool.tracked["ws-a"]?.state == .active, "the record stays: ws-a is active")
    }

    @Test("a running instance missing from the balancer is added back as remembered; orphans are removed")
    func missingAndOrphans() {
        var pool = PoolState()
        let driver = [running("ws-a", port: 1), running("ws-b", port: 2)]
        _ = pool.reconcile(
            with: PoolObservation(driver: driver, proxy: [server("ws-a", port: 1, .ready), server("ws-b", port: 2, .drain)],
                                  registry: [], startedAt: .zero),
            now: .seconds(1), launchTimeout: .seconds(30), connectionLimit: 10)
        let result = pool.reconcile(
            with: PoolObservation(driver: driver, proxy: [server("ws-old", port: 9, .ready)], registry: [],
                                  startedAt: .seconds(2)),
            now: .seconds(2), launchTimeout: .seconds(30), connectionLimit: 10)
        #expect(result.actions == [
            .addToProxy("ws-a", Endpoint(host: "127.0.0.1", port: 1), .ready),
            .addToProxy("ws-b", Endpoint(host: "127.0.0.1", port: 2), .drain),
            .removeFromProxy("ws-old"),
        ])
        #expect(result.snapshot.instances.map(\.state) == [.active, .draining])
    }

    @Test("a server in maintenance is put in its remembered state")
    func maintenanceIsCorrected() {
        var pool = PoolState()
        let driver = [running("ws-a", port: 1)]
        _ = pool.reconcile(with: PoolObservation(driver: driver, proxy: [server("ws-a", port: 1, .drain)], registry: [],
                                                 startedAt: .zero),
                           now: .seconds(1), launchTimeout: .seconds(30), connectionLimit: 10)
        let result = pool.reconcile(
            with: PoolObservation(driver: driver, proxy: [server("ws-a", port: 1, .maintenance)], registry: [],
                                  startedAt: .seconds(2)),
            now: .seconds(2), launchTimeout: .seconds(30), connectionLimit: 10)
        #expect(result.actions == [.setProxyState("ws-a", .drain)])
    }

    @Test("an exited instance is retired; once retired it is stopped again while the driver lists it")
    func exitedIsRetired() {
        var pool = PoolState()
        let exited = DriverInstance(id: "ws-a", status: .exited(code: 1), endpoint: nil)
        let first = pool.reconcile(with: PoolObservation(driver: [exited], proxy: [], registry: [], startedAt: .zero),
                                   now: .seconds(1), launchTimeout: .seconds(30), connectionLimit: 10)
        #expect(first.actions == [.retire("ws-a", reason: "exited with code 1")])
        pool.retire("ws-a")
        let second = pool.reconcile(
            with: PoolObservation(driver: [exited], proxy: [server("ws-a", port: 1, .ready)], registry: [],
                                  startedAt: .seconds(2)),
            now: .seconds(2), launchTimeout: .seconds(30), connectionLimit: 10)
        #expect(second.actions == [.stop("ws-a"), .removeFromProxy("ws-a")])
        let gone = pool.reconcile(with: PoolObservation(driver: [], proxy: [], registry: [], startedAt: .seconds(3)),
                                  now: .seconds(3), launchTimeout: .seconds(30), connectionLimit: 10)
        #expect(gone.actions == [])
        #expect(pool.knownIDs.isEmpty)
    }

    @Test("a change the loop made after the reports were read is not undone by them")
    func recentChangesWin() {
        var pool = PoolState()
        pool.launchStarted("ws-1", at: .zero)
        let succeeded = pool.launchSucceeded("ws-1", at: Endpoint(host: "127.0.0.1", port: 5), now: .seconds(2))
        #expect(succeeded)
        // Reports read at 1 s do not show ws-1 yet.
        let stale = pool.reconcile(with: PoolObservation(driver: [], proxy: [], registry: [], startedAt: .seconds(1)),
                                   now: .seconds(3), launchTimeout: .seconds(30), connectionLimit: 10)
        #expect(stale.actions == [])
        #expect(stale.snapshot.active.map(\.id) == ["ws-1"])
        // Reports read later that still lack it mean it is gone.
        let fresh = pool.reconcile(with: PoolObservation(driver: [], proxy: [], registry: [], startedAt: .seconds(4)),
                                   now: .seconds(4), launchTimeout: .seconds(30), connectionLimit: 10)
        #expect(fresh.snapshot.instances.isEmpty)
    }

    @Test("an adopted instance that never becomes ready is retired after the launch timeout")
    func stuckAdoptedIsRetired() {
        var pool = PoolState()
        let starting = [DriverInstance(id: "ws-a", status: .starting, endpoint: nil)]
        let early = pool.reconcile(with: PoolObservation(driver: starting, proxy: [], registry: [], startedAt: .zero),
                                   now: .seconds(1), launchTimeout: .seconds(30), connectionLimit: 10)
        #expect(early.actions == [])
        #expect(early.snapshot.starting.map(\.id) == ["ws-a"])
        let late = pool.reconcile(with: PoolObservation(driver: starting, proxy: [], registry: [], startedAt: .seconds(40)),
                                  now: .seconds(40), launchTimeout: .seconds(30), connectionLimit: 10)
        #expect(late.actions.count == 1)
        #expect(late.snapshot.instances.isEmpty)
    }

    @Test("a launch given up meanwhile does not succeed")
    func abandonedLaunch() {
        var pool = PoolState()
        pool.launchStarted("ws-1", at: .zero)
        pool.retire("ws-1")
        let succeeded = pool.launchSucceeded("ws-1", at: Endpoint(host: "h", port: 1), now: .seconds(1))
        #expect(!succeeded)
    }

    @Test("a running server the registry stops listing has its count unknown for the registry grace, then 0")
    func missingFromRegistry() {
        var pool = PoolState()
        let driver = [running("ws-a", port: 1), running("ws-b", port: 2)]
        let balancer = [server("ws-a", port: 1, .ready), server("ws-b", port: 2, .drain)]
        func observe(_ registry: [HostSessions], at seconds: Int) -> [InstanceSnapshot] {
            pool.reconcile(with: PoolObservation(driver: driver, proxy: balancer, registry: registry,
                                                 startedAt: .seconds(seconds)),
                           now: .seconds(seconds), launchTimeout: .seconds(30), registryGrace: .seconds(10),
                           connectionLimit: 10).snapshot.instances
        }
        let listed = [HostSessions(host: "ws-a", sessions: 4), HostSessions(host: "ws-b", sessions: 2, draining: true)]
        #expect(observe(listed, at: 1).map(\.sessionsUnknown) == [false, false])
        // Redis restarted empty: neither is listed; their 0 is not a count yet.
        let lost = observe([], at: 2)
        #expect(lost.map(\.sessions) == [0, 0])
        #expect(lost.map(\.sessionsUnknown) == [true, true])
        // ws-a wrote its sessions again; ws-b has not, 9 s on.
        let partly = observe([HostSessions(host: "ws-a", sessions: 4)], at: 11)
        #expect(partly.map(\.sessionsUnknown) == [false, true])
        // After the grace, a server that never came back counts as holding none.
        #expect(observe([HostSessions(host: "ws-a", sessions: 4)], at: 12).map(\.sessionsUnknown) == [false, false])
        // Listed again, then missing again: a new grace.
        _ = observe(listed, at: 13)
        #expect(observe([], at: 14).map(\.sessionsUnknown) == [true, true])
    }
}
