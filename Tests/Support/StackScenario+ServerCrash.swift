import Foundation

extension StackScenario {
    /// What the crash check saw.
    public struct CrashReport: Sendable {
        /// The killed server.
        public var killed: String
        /// Users that were on it.
        public var usersOnIt: Int
        /// From the kill until it left the topology.
        public var timeToLeaveTopology: Duration
        /// From the kill until every user was connected elsewhere and the pool was back at or
        /// below the scale-out threshold.
        public var timeToRecover: Duration
        /// Servers started after the kill (the replacement, when the rest were too few).
        public var replacements: [String]
    }

    /// A server dies (`killServer`, e.g. `kill -9`): its users reconnect to other servers, its
    /// sessions leave the topology within the lease (plus slack), and a replacement starts when
    /// the rest would be above the scale-out threshold.
    public func serverCrash(total: Int = 20) async throws -> CrashReport {
        let users = Self.users("crash", total)
        try await api.connect(users)
        try await waitUntilSettled(users, timeout: .seconds(20))
        let topology = try await api.topology()
        guard let victim = topology.active.max(by: { $0.sessions < $1.sessions }), victim.sessions > 0 else {
            throw ScenarioFailure("no active server with users to kill. \(await describeState())")
        }
        let client = try await api.clientStatus()
        let victims = client.users.filter { $0.host == victim.id }
        let reconnectsBefore = Dictionary(uniqueKeysWithValues: victims.map { ($0.userId, $0.reconnectCount) })
        let clock = ContinuousClock()
        let killedAt = clock.now
        try await killServer(victim.id)
        let leave = try await TestSupport.waitUntil("killed server \(victim.id) leaves the topology", timeout: knobs.lease + .seconds(5), {
            try await api.topology().instance(victim.id) == nil
        }, describe: { await describeState() })
        try await TestSupport.waitUntil("every user connected again, none on \(victim.id), pool at or below the threshold",
                            timeout: .seconds(15), {
            let client = try await api.clientStatus()
            let topology = try await api.topology()
            return client.allConnected(users) && !client.users.contains { $0.host == victim.id }
                && topology.totalSessions == total && topology.active.count >= knobs.serversNeeded(for: total)
        }, describe: { await describeState() })
        let recovered = clock.now - killedAt
        let after = try await api.clientStatus()
        for (user, before) in reconnectsBefore where (after.user(user)?.reconnectCount ?? 0) <= before {
            throw ScenarioFailure("user \(user) was on the killed server but did not reconnect (count \(before))")
        }
        let before = Set(topology.instances.map(\.id))
        let replacements = try await api.topology().instances.map(\.id).filter { !before.contains($0) }
        if topology.active.count - 1 < knobs.serversNeeded(for: total), replacements.isEmpty {
            throw ScenarioFailure("the \(topology.active.count - 1) servers left were too few for \(total) users, but no replacement started")
        }
        return CrashReport(killed: victim.id, usersOnIt: victims.count, timeToLeaveTopology: leave, timeToRecover: recovered,
                           replacements: replacements)
    }
}
