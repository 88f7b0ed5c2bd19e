import Foundation
import WSScaleTestSupport

/// One measurement of the scale-out reaction on a pool of one server holding exactly
/// `MAX_UTILIZATION_PERCENT + OVERUTILIZED_TOLERANCE_PERCENT` of its limit (8 of 10 with the
/// seed's knobs): one more user crosses the threshold.
struct ScaleOutRound {
    /// What one round measured, from the connect request of the crossing user.
    struct Result {
        /// Until a new server was active and `ready` in HAProxy.
        var inRotation: Duration
        /// Until a probe user, connected as soon as the new server was in rotation, was
        /// connected to it through HAProxy.
        var takingConnections: Duration
    }

    let scenario: StackScenario
    let round: Int

    /// Resets the pool to `MIN_INSTANCES` servers, fills it to the threshold, then crosses it.
    func run() async throws -> Result {
        let api = scenario.api
        try await PoolReset(scenario: scenario).run()
        let knobs = scenario.knobs
        let atThreshold = knobs.connectionLimit * (knobs.maxUtilization + knobs.overTolerance) / 100
        let filling = StackScenario.users("out\(round)", atThreshold)
        try await api.connect(filling)
        try await scenario.waitUntilSettled(filling, timeout: .seconds(20))
        let before = Set(try await api.topology().instances.map(\.id))
        guard before.count == knobs.minInstances else {
            throw StackAPIError("expected \(knobs.minInstances) server(s) at the threshold, got \(before.sorted())")
        }

        let clock = ContinuousClock()
        let crossedAt = clock.now
        try await api.connect(["out\(round)-crossing"])
        var newServer: String?
        while newServer == nil {
            let topology = try await api.topology()
            newServer = topology.active.first { !before.contains($0.id) && $0.proxyState == "ready" }?.id
            if newServer == nil {
                guard clock.now - crossedAt < .seconds(15) else { throw StackAPIError("no new server in rotation within 15 s") }
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        let inRotation = clock.now - crossedAt
        let probe = "out\(round)-probe"
        try await api.connect([probe])
        while true {
            let user = try await api.clientStatus().user(probe)
            if user?.state == "connected", let host = user?.host {
                guard host == newServer else {
                    throw StackAPIError("the probe user landed on \(host), not on the new server \(newServer!)")
                }
                break
            }
            guard clock.now - crossedAt < .seconds(15) else { throw StackAPIError("probe user not connected within 15 s") }
            try await Task.sleep(for: .milliseconds(5))
        }
        return Result(inRotation: inRotation, takingConnections: clock.now - crossedAt)
    }
}

/// Brings the pool back to its start: every user disconnected, `MIN_INSTANCES` active servers
/// and nothing draining.
struct PoolReset {
    let scenario: StackScenario

    func run() async throws {
        let api = scenario.api
        let connected = try await api.clientStatus().users.filter { $0.state != "disconnected" }.map(\.userId)
        if !connected.isEmpty { try await api.disconnect(connected) }
        let minimum = scenario.knobs.minInstances
        try await TestSupport.waitUntil("pool back to \(minimum) server(s) with no session", timeout: .seconds(60), {
            let topology = try await api.topology()
            return topology.instances.count == minimum && topology.active.count == minimum && topology.totalSessions == 0
        }, describe: { await scenario.describeState() })
    }
}
