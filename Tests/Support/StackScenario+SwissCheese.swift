import Foundation

extension StackScenario {
    /// What experiment 4 saw.
    public struct SwissCheeseReport: Sendable {
        /// The server whose users left.
        public var holedServer: String
        /// Users that left it.
        public var left: Int
        /// From the disconnect until every remaining user was connected and no active server
        /// was above average + tolerance.
        public var settleTime: Duration
    }

    /// Experiment 4 (Swiss cheese): `total` users spread over the pool, then all but `keep` users
    /// of the fullest server leave. Within `timeout`, every active server is at or below the
    /// average + `OVERUTILIZED_TOLERANCE_PERCENT` and every remaining user is connected.
    /// (The policy never sheds a host below the average, so the holed server may stay below
    /// average − tolerance; only the upper side is a rule.)
    /// - Parameter quiet: how long the filled pool must stay unchanged before the hole is made;
    ///   longer than `REBALANCE_COOLDOWN_SECONDS`, so no rebalance is still pending.
    public func swissCheese(total: Int = 40, keep: Int = 1, setupBatch: Int = 8, quiet: Duration = .milliseconds(1500),
                            timeout: Duration = .seconds(10), prefix: String = "cheese") async throws -> SwissCheeseReport {
        // Users arrive in batches (as in experiment 2): the pool grows in steps to about
        // MAX_UTILIZATION_PERCENT per server, the shape the seed's experiment starts from.
        let users = Self.users(prefix, total)
        for start in stride(from: 0, to: total, by: setupBatch) {
            let batch = Array(users[start..<min(total, start + setupBatch)])
            try await api.connect(batch)
            try await waitUntilConnected(Array(users[..<(start + batch.count)]), timeout: .seconds(10))
        }
        try await waitUntilSettled(users, timeout: .seconds(30), quiet: quiet)
        let client = try await api.clientStatus()
        let byHost = Dictionary(grouping: users.filter { client.user($0)?.host != nil }) { client.user($0)!.host! }
        guard let (host, onHost) = byHost.max(by: { $0.value.count < $1.value.count }), onHost.count > keep else {
            throw ScenarioFailure("no server holds more than \(keep) users: \(client.hosts)")
        }
        let leaving = Array(onHost.dropFirst(keep))
        let remaining = users.filter { !leaving.contains($0) }
        let counts = byHost.mapValues(\.count).merging([host: keep]) { $1 }
        let average = Double(remaining.count) / Double(counts.count)
        let bound = average + Double(knobs.connectionLimit * knobs.overTolerance) / 100
        if !counts.values.contains(where: { Double($0) > bound }) {
            throw ScenarioFailure("the hole in \(host) leaves no server above average + tolerance (\(counts)), nothing to rebalance")
        }
        try await api.disconnect(leaving)
        let settle = try await waitUntilBalanced(remaining, timeout: timeout)
        return SwissCheeseReport(holedServer: host, left: leaving.count, settleTime: settle)
    }
}
