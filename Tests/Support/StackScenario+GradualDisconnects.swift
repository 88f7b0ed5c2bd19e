import Foundation

extension StackScenario {
    /// What experiment 3 saw.
    public struct GradualDisconnectReport: Sendable {
        /// Servers that were drained.
        public var drained: Set<String>
        /// Users that sat on a draining server (and were checked not to be cut).
        public var usersOnDrainingServers: Int
        /// From the last disconnect until only `MIN_INSTANCES` servers were left.
        public var timeToMinimum: Duration
    }

    /// Experiment 3: `total` users connected, then they leave in batches of `batch` every
    /// `every`, from the fullest servers in rotation first (`DepartureOrder`). Servers are drained; no user on a draining server is cut (it stays connected
    /// to it with the same reconnect count until we disconnect it); drained servers go away once
    /// empty; the pool never has fewer than `MIN_INSTANCES` active servers and ends at that.
    public func gradualDisconnects(total: Int = 40, batch: Int = 5, every: Duration = .seconds(1)) async throws -> GradualDisconnectReport {
        let users = Self.users("leaving", total)
        try await api.connect(users)
        try await waitUntilSettled(users, timeout: .seconds(20))
        let watch = DrainWatch()
        let sampler = StackSampler(api: api, interval: .milliseconds(100), readsClient: true, observer: watch.observer)
        await sampler.start()
        let clock = ContinuousClock()
        var remaining = users
        let timeToMinimum: Duration
        do {
            while !remaining.isEmpty {
                let batchStart = clock.now
                let client = try await api.clientStatus()
                let draining = Set(try await api.topology().draining.map(\.id))
                let leaving = DepartureOrder.next(batch, of: remaining, host: { client.user($0)?.host }, draining: draining)
                watch.release(leaving)
                try await api.disconnect(leaving)
                remaining.removeAll { leaving.contains($0) }
                let stillThere = remaining
                try await TestSupport.waitUntil("\(leaving.count) users disconnected, \(stillThere.count) left", timeout: .seconds(5), {
                    let client = try await api.clientStatus()
                    guard leaving.allSatisfy({ client.user($0)?.state == "disconnected" }) else { return false }
                    return try await api.topology().totalSessions == stillThere.count
                }, describe: { await describeState() })
                let elapsed = clock.now - batchStart
                if elapsed < every { try await Task.sleep(for: every - elapsed) }
            }
            timeToMinimum = try await TestSupport.waitUntil("only MIN_INSTANCES \(knobs.minInstances) server(s) left", timeout: .seconds(20), {
                let topology = try await api.topology()
                return topology.instances.count == knobs.minInstances && topology.active.count == knobs.minInstances
            }, describe: { await describeState() })
            try await Task.sleep(for: .milliseconds(300))
        } catch {
            await sampler.stop()
            throw error
        }
        await sampler.stop()
        let violations = await sampler.violations
        if !violations.isEmpty {
            throw ScenarioFailure("draining cut users:\n" + violations.joined(separator: "\n"))
        }
        let drained = await sampler.seenDraining
        if drained.isEmpty { throw ScenarioFailure("no server was drained while users left") }
        if watch.watchedUsers.isEmpty {
            throw ScenarioFailure("no user sat on a draining server, so 'none is cut' was not exercised; drained \(drained.sorted())")
        }
        let minActive = await sampler.minActive
        if minActive < knobs.minInstances {
            throw ScenarioFailure("the pool fell to \(minActive) active server(s) < MIN_INSTANCES \(knobs.minInstances)")
        }
        return GradualDisconnectReport(drained: drained, usersOnDrainingServers: watch.watchedUsers.count,
                                       timeToMinimum: timeToMinimum)
    }
}
