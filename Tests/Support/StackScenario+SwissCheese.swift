import Foundation

extension StackScenario {
    /// What experiment 4 saw.
    public struct SwissCheeseReport: Sendable {
        /// The servers whose users left (the fullest; more than one when one hole is not enough).
        public var holedServer: String
        /// Users that left it.
        public var left: Int
        /// From the disconnect until every remaining user was connected and no active server
        /// was above average + tolerance.
        public var settleTime: Duration
    }

    /// Experiment 4 (Swiss cheese): `total` users spread over the pool, then all but `keep` users
    /// of the fullest server leave (of the fullest servers, when one hole leaves nothing uneven). Within `timeout`, every active server is at or below the
    /// average + `OVERUTILIZED_TOLERANCE_PERCENT` and every remaining user is connected.
    /// (The policy never sheds a host below the average, so the holed server may stay below
    /// average − tolerance; only the upper side is a rule.)
    /// - Parameter quiet: how long the filled pool must stay unchanged before the hole is made;
    ///   long enough for the shed sessions of a rebalance to be back, so none is still pending.
    public func swissCheese(total: Int = 40, keep: Int = 1, setupBatch: Int = 8, quiet: Duration = .milliseconds(1500),
                            timeout: Duration = .seconds(10), prefix: String = "cheese") async throws -> SwissCheeseReport {
        // Users arrive in batches (as in experiment 2): the pool grows in steps to about
        // MAX_UTILIZATION_PERCENT per server, the shape the seed's experiment starts from.
        let users = Self.users(prefix, total)
        for start in stride(from: 0, to: total, by: setupBatch) {
            let batch = Array(users[start..<min(total, start + setupBatch)])
            try await api.connect(batch)
            // A batch that takes the pool over its threshold waits in HAProxy's queue for the
            // servers launched for it: as long as a launch may take (LAUNCH_TIMEOUT_SECONDS, 30 s),
            // not a figure of this experiment. On CI's loaded machine podman once took over 10 s
            // to create two containers, and the setup failed before the hole was made.
            try await waitUntilConnected(Array(users[..<(start + batch.count)]), timeout: .seconds(30))
        }
        try await waitUntilSettled(users, timeout: .seconds(30), quiet: quiet)
        let client = try await api.clientStatus()
        let byHost = Dictionary(grouping: users.filter { client.user($0)?.host != nil }) { client.user($0)!.host! }
        let (holed, leaving) = try holes(in: byHost, keep: keep)
        let remaining = users.filter { !leaving.contains($0) }
        try await api.disconnect(leaving)
        let settle = try await waitUntilBalanced(remaining, timeout: timeout)
        return SwissCheeseReport(holedServer: holed.joined(separator: ", "), left: leaving.count, settleTime: settle)
    }

    /// The fullest servers lose all but `keep` users each, one server more until some other server
    /// is above average + tolerance (so there is something to rebalance). One hole is enough
    /// when the pool grew to its target; a pool with more servers (at fewer sessions each) needs
    /// more holes, since one hole of `h` users lowers the average by only `h / servers`.
    public func holes(in byHost: [String: [String]], keep: Int) throws -> (servers: [String], leaving: [String]) {
        let fullestFirst = byHost.sorted { ($0.value.count, $1.key) > ($1.value.count, $0.key) }
        var counts = byHost.mapValues(\.count)
        var holed: [String] = []
        var leaving: [String] = []
        for (host, onHost) in fullestFirst.dropLast() where onHost.count > keep {
            holed.append(host)
            leaving += onHost.dropFirst(keep)
            counts[host] = keep
            let average = Double(counts.values.reduce(0, +)) / Double(counts.count)
            let bound = average + Double(knobs.connectionLimit * knobs.overTolerance) / 100
            if counts.contains(where: { !holed.contains($0.key) && Double($0.value) > bound }) {
                return (holed, leaving)
            }
        }
        throw ScenarioFailure("no hole in \(byHost.mapValues(\.count)) leaves a server above average + tolerance, nothing to rebalance")
    }
}
