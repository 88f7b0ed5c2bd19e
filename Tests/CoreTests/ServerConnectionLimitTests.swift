import Testing
import WSScaleCore

/// The per-server connection limit the loop gives HAProxy: the scale-out threshold in steady
/// state, the share each server will hold while servers start, the hard limit once the pool
/// cannot grow.
@Suite("Per-server connection limit (no I/O)")
struct ServerConnectionLimitTests {
    /// L = 500, scale out above 70 + 10 %, hard limit 1,000, at most 20 instances.
    static var configuration: ScalingConfiguration {
        var configuration = ScalingConfiguration()
        configuration.connectionLimitPerHost = 500
        configuration.maxConnectionsPerHost = 1000
        configuration.maxInstances = 20
        return configuration
    }

    static func pool(active: [Int], starting: Int = 0, draining: Int = 0, queued: Int = 0) -> TopologySnapshot {
        var instances = active.enumerated().map { InstanceSnapshot(id: "a\($0.offset)", state: .active, sessions: $0.element) }
        instances += (0..<starting).map { InstanceSnapshot(id: "s\($0)", state: .starting, sessions: 0) }
        instances += (0..<draining).map { InstanceSnapshot(id: "d\($0)", state: .draining, sessions: 10) }
        return TopologySnapshot(instances: instances, queued: queued)
    }

    @Test("steady: the scale-out threshold, ceil(L × (max + tolerance) / 100)")
    func steady() {
        #expect(ServerConnectionLimit.perServer(Self.pool(active: [300, 200]), configuration: Self.configuration) == 400)
        var seed = ScalingConfiguration()  // L = 10, 70 + 10 %: 8
        #expect(ServerConnectionLimit.perServer(Self.pool(active: [3]), configuration: seed) == 8)
        seed.overutilizedTolerancePercent = 5  // 7.5 → 8
        #expect(ServerConnectionLimit.perServer(Self.pool(active: [3]), configuration: seed) == 8)
    }

    @Test("a burst: 400 on the one server and 5,600 queued while 17 launch → each holds the share, 334")
    func burstShare() {
        let snapshot = Self.pool(active: [400], queued: 5600)
        #expect(ServerConnectionLimit.perServer(snapshot, launching: 17, configuration: Self.configuration) == 334)
        // Once they show as starting, the same.
        #expect(ServerConnectionLimit.perServer(Self.pool(active: [400], starting: 17, queued: 5600),
                                                configuration: Self.configuration) == 334)
        // A share above the threshold is held to the threshold.
        #expect(ServerConnectionLimit.perServer(Self.pool(active: [400, 400], starting: 1, queued: 900),
                                                configuration: Self.configuration) == 400)
    }

    @Test("during a burst the limit only comes down; it goes back up once the queue is empty and nothing starts")
    func onlyDownDuringABurst() {
        let config = Self.configuration
        let lowered = ServerConnectionLimit.perServer(Self.pool(active: [400], starting: 17, queued: 5600), previous: 400, configuration: config)
        #expect(lowered == 334)
        // The counts move (a lower demand read): down again, never back up while it lasts.
        #expect(ServerConnectionLimit.perServer(Self.pool(active: [400, 300], starting: 16, queued: 5000), previous: 334, configuration: config) == 317)
        #expect(ServerConnectionLimit.perServer(Self.pool(active: [400, 334], starting: 16, queued: 5266), previous: 317, configuration: config) == 317)
        #expect(ServerConnectionLimit.perServer(Self.pool(active: [400, 334], starting: 1), previous: 316, configuration: config) == 316,
                "a server still starting: still the burst's limit")
        #expect(ServerConnectionLimit.perServer(Self.pool(active: Array(repeating: 334, count: 18)), previous: 316, configuration: config) == 400,
                "over: back to the threshold")
    }

    @Test("a launch with nobody waiting (a replacement, the first server) leaves the limit alone")
    func launchWithoutQueue() {
        #expect(ServerConnectionLimit.perServer(Self.pool(active: [100, 100, 100], starting: 1), configuration: Self.configuration) == 400)
        #expect(ServerConnectionLimit.perServer(Self.pool(active: []), launching: 1, configuration: Self.configuration) == 400)
    }

    @Test("a pool at MAX_INSTANCES cannot grow: each server takes its share of what is asked, up to the hard limit")
    func atMaximum() {
        let full = Self.pool(active: Array(repeating: 400, count: 18), draining: 2, queued: 5)
        #expect(ServerConnectionLimit.perServer(full, configuration: Self.configuration) == 402, "7,225 asked of 18 servers")
        #expect(ServerConnectionLimit.perServer(Self.pool(active: Array(repeating: 100, count: 20)), configuration: Self.configuration) == 400,
                "never below the threshold")
        let starting = Self.pool(active: [1000], starting: 19, queued: 8000)
        #expect(ServerConnectionLimit.perServer(starting, configuration: Self.configuration) == 450)
        #expect(ServerConnectionLimit.perServer(Self.pool(active: [1000], starting: 19, queued: 30000),
                                                configuration: Self.configuration) == 1000, "never above the hard limit")
    }

    @Test("never below 1, never above the hard limit, whatever the knobs")
    func bounds() {
        var odd = ScalingConfiguration()
        odd.connectionLimitPerHost = 1
        odd.maxUtilizationPercent = 1
        odd.overutilizedTolerancePercent = 0
        #expect(ServerConnectionLimit.perServer(Self.pool(active: [0], starting: 3), configuration: odd) == 1)
        odd.connectionLimitPerHost = 100
        odd.maxConnectionsPerHost = 30
        odd.maxUtilizationPercent = 100
        #expect(ServerConnectionLimit.perServer(Self.pool(active: [0]), configuration: odd) == 30)
    }

    @Test("the queue is demand: a full pool with users waiting scales out, and does not scale in")
    func queueIsDemand() {
        var policy = PacedPolicy(configuration: Self.configuration)
        // Two servers at the threshold (400 each = 80 %, not above it) and one user waiting.
        let waiting = policy.plan(for: Self.pool(active: [400, 400], queued: 1), now: .seconds(1))
        #expect(waiting.launch == 1, "\(waiting.reasons)")
        #expect(waiting.reasons.first?.contains("+ 1 waiting in the proxy's queue") == true, "\(waiting.reasons)")
        let none = policy.plan(for: Self.pool(active: [400, 400]), now: .seconds(2))
        #expect(none.launch == 0)
        // The burst: 6,000 asked for, 400 in, the rest queued → 18 servers at 70 %.
        let burst = policy.plan(for: Self.pool(active: [400], queued: 5600), now: .seconds(3))
        #expect(burst.launch == 17, "\(burst.reasons)")
    }
}

/// Rebalancing waits for the registry to show what the proxy already holds.
@Suite("Rebalancing during a burst (no I/O)")
struct RebalanceDuringBurstTests {
    @Test("no rebalance while users wait in the queue, or while the proxy holds notably more than the registry counts")
    func waitsForSettledCounts() {
        let uneven = TopologySnapshot.active(14, 0).instances
        var policy = PacedPolicy(configuration: .seed)
        #expect(policy.plan(for: TopologySnapshot(instances: uneven, queued: 1), now: .seconds(1)).rebalanceSheds.isEmpty)
        #expect(policy.plan(for: TopologySnapshot(instances: uneven, proxyConnections: 17), now: .seconds(2)).rebalanceSheds.isEmpty,
                "3 connections the registry does not show yet")
        #expect(policy.plan(for: TopologySnapshot(instances: uneven, proxyConnections: 16), now: .seconds(3)).rebalanceSheds == ["ws-1": 7],
                "2 more: within the slack (sessions being closed, requests before an upgrade)")
    }
}
