import Foundation

extension StackScenario {
    /// What experiment 2 saw.
    public struct GradualConnectReport: Sendable {
        /// Active servers after each batch.
        public var serversAfterBatch: [Int]
        /// Batches that started right after a scale-out (and so were checked for landing on the new servers).
        public var batchesAfterScaleOut: Int
    }

    /// Experiment 2: users arrive in batches of `batch` every `every`. After each batch the
    /// pool is at or below the scale-out threshold (the count rose as utilization crossed it)
    /// without overshooting the policy's target, and the batch after each scale-out lands
    /// (partly) on the new servers.
    public func gradualConnects(total: Int = 40, batch: Int = 5, every: Duration = .seconds(1),
                                batchTimeout: Duration = .seconds(10)) async throws -> GradualConnectReport {
        let sampler = StackSampler(api: api, interval: .milliseconds(100))
        await sampler.start()
        do {
            return try await connectInBatches(total: total, batch: batch, every: every, batchTimeout: batchTimeout, sampler: sampler)
        } catch {
            await sampler.stop()
            throw error
        }
    }

    private func connectInBatches(total: Int, batch: Int, every: Duration, batchTimeout: Duration,
                                  sampler: StackSampler) async throws -> GradualConnectReport {
        let clock = ContinuousClock()
        var connected: [String] = []
        var serversAfterBatch: [Int] = []
        var checked = 0
        var previousIDs = Set(try await api.topology().instances.map(\.id))
        for start in stride(from: 1, through: total, by: batch) {
            let batchStart = clock.now
            let ids = Set(try await api.topology().active.map(\.id))
            let newServers = ids.subtracting(previousIDs)
            previousIDs = ids
            let users = Self.users("gradual", min(batch, total - start + 1), from: start)
            try await api.connect(users)
            connected += users
            let needed = knobs.serversNeeded(for: connected.count)
            let everyone = connected
            try await TestSupport.waitUntil("\(everyone.count) users connected on at least \(needed) active servers (at or below the threshold)",
                                timeout: batchTimeout, {
                let client = try await api.clientStatus()
                guard client.allConnected(everyone) else { return false }
                let topology = try await api.topology()
                return topology.totalSessions == everyone.count && topology.active.count >= needed
                    && !topology.instances.contains { $0.state == "starting" }
            }, describe: { await describeState() })
            let topology = try await api.topology()
            let target = max(knobs.minInstances, Int((Double(connected.count) * 100 / Double(knobs.connectionLimit * knobs.maxUtilization)).rounded(.up)))
            let active = topology.active.count
            if active > max(target, needed) {
                throw ScenarioFailure("\(connected.count) users on \(active) active servers: more than the policy's target \(target). \(await describeState())")
            }
            serversAfterBatch.append(active)
            if !newServers.isEmpty {
                checked += 1
                let client = try await api.clientStatus()
                let hosts = users.compactMap { client.user($0)?.host }
                if Set(hosts).isDisjoint(with: newServers) {
                    throw ScenarioFailure("batch \(users.first!)…\(users.last!) came after the scale-out to \(newServers.sorted()) "
                                          + "but none of it landed there: hosts \(hosts). \(await describeState())")
                }
            }
            let elapsed = clock.now - batchStart
            if elapsed < every { try await Task.sleep(for: every - elapsed) }
        }
        try await waitUntilSettled(connected, timeout: .seconds(10))
        await sampler.stop()
        let highest = await sampler.highestSessions
        if highest > knobs.hardLimit {
            throw ScenarioFailure("a server held \(highest) sessions > MAX_CONNECTIONS_PER_HOST \(knobs.hardLimit)")
        }
        let rises = zip(serversAfterBatch, serversAfterBatch.dropFirst()).filter { $0 < $1 }.count
            + (serversAfterBatch.first.map { $0 > knobs.minInstances ? 1 : 0 } ?? 0)
        if rises < 2 {
            throw ScenarioFailure("the server count rose in \(rises) step(s), not gradually: \(serversAfterBatch)")
        }
        if checked == 0 {
            throw ScenarioFailure("no batch followed a scale-out: \(serversAfterBatch)")
        }
        return GradualConnectReport(serversAfterBatch: serversAfterBatch, batchesAfterScaleOut: checked)
    }
}
