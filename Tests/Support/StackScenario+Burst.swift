import Foundation

extension StackScenario {
    /// What experiment 1 saw.
    public struct BurstReport: Sendable {
        /// From the connect request until every user was connected and registered.
        public var timeToAllConnected: Duration
        /// Connections the first server refused (1013) during the burst: none, since HAProxy
        /// holds the overflow in its queue for the servers being launched.
        public var refusedByFirstServer: Double
        /// The most sessions any server had in any sample.
        public var highestSessions: Int
        /// Active servers at the end.
        public var servers: Int
    }

    /// Experiment 1: `count` users at once against `MIN_INSTANCES` servers. In the proof of
    /// concept the first server refused the overflow with 1013; here HAProxy holds it in its
    /// queue (each server's `maxconn` is the balancer's `ServerConnectionLimit`), new servers
    /// come up and take it, every user is connected within `timeout`, none is refused, and no
    /// server ever holds more than `MAX_CONNECTIONS_PER_HOST` (the report says how many the
    /// fullest held: about the scale-out threshold, `ceil(L × (max + tolerance) / 100)`).
    public func burstOfUsers(_ count: Int = 40, timeout: Duration = .seconds(20)) async throws -> BurstReport {
        let before = try await api.topology()
        guard before.active.count == knobs.minInstances, let first = before.active.first else {
            throw ScenarioFailure("experiment 1 needs \(knobs.minInstances) active server(s) first. \(await describeState())")
        }
        let refusedBefore = try await serverMetric("wsscale_connections_refused_total", first) ?? 0
        let sampler = StackSampler(api: api, interval: .milliseconds(50))
        await sampler.start()
        let users = Self.users("burst", count)
        try await api.connect(users)
        let took: Duration
        do {
            took = try await waitUntilConnected(users, timeout: timeout)
            try await Task.sleep(for: .milliseconds(500)) // keep sampling while it settles
        } catch {
            await sampler.stop()
            throw error
        }
        await sampler.stop()

        guard let refusedAfter = try await serverMetric("wsscale_connections_refused_total", first) else {
            throw ScenarioFailure("the first server \(first.id) reports no wsscale_connections_refused_total")
        }
        let refused = refusedAfter - refusedBefore
        if refused > 0 {
            throw ScenarioFailure("the first server \(first.id) refused \(refused) (1013): the overflow should have waited in HAProxy's queue")
        }
        let highest = await sampler.highestSessions
        if highest > knobs.hardLimit {
            throw ScenarioFailure("a server held \(highest) sessions > MAX_CONNECTIONS_PER_HOST \(knobs.hardLimit): \(await sampler.maxSessions)")
        }
        let after = try await api.topology()
        for instance in after.instances {
            guard let open = try await serverMetric("wsscale_connections", instance) else { continue }
            if Int(open) > knobs.hardLimit {
                throw ScenarioFailure("server \(instance.id) reports \(open) open connections > \(knobs.hardLimit)")
            }
        }
        if after.active.count < knobs.serversNeeded(for: count) {
            throw ScenarioFailure("\(count) users on \(after.active.count) servers: above the scale-out threshold. \(await describeState())")
        }
        return BurstReport(timeToAllConnected: took, refusedByFirstServer: refused,
                           highestSessions: highest, servers: after.active.count)
    }
}
