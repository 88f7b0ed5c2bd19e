import Foundation

/// The seed's four experiments (and a server crash) as runnable checks against a running
/// stack, driven only through its HTTP APIs.
///
/// Backend-neutral: it needs the stack's ports (`StackAPI`), the knobs the stack runs with,
/// and, for the crash check, a way to kill one server from outside. Each check throws
/// `ScenarioFailure` naming the broken rule and what was seen instead; it returns figures
/// (how long things took) for logs and benchmarks.
public struct StackScenario: Sendable {
    /// The knobs the stack was started with (the seed's values by default).
    public struct Knobs: Sendable {
        /// `CONNECTION_LIMIT_PER_HOST`.
        public var connectionLimit = 10
        /// `MAX_CONNECTIONS_PER_HOST`.
        public var hardLimit = 30
        /// `MAX_UTILIZATION_PERCENT`.
        public var maxUtilization = 70
        /// `MIN_UTILIZATION_PERCENT`.
        public var minUtilization = 40
        /// `OVERUTILIZED_TOLERANCE_PERCENT`.
        public var overTolerance = 10
        /// `MIN_INSTANCES`.
        public var minInstances = 1
        /// `LEASE_SECONDS`.
        public var lease: Duration = .seconds(2)

        /// The seed's values.
        public init() {}

        /// The fewest active servers that keep `users` at or below the scale-out threshold
        /// (`MAX_UTILIZATION_PERCENT + OVERUTILIZED_TOLERANCE_PERCENT`).
        public func serversNeeded(for users: Int) -> Int {
            let perServer = Double(connectionLimit) * Double(maxUtilization + overTolerance) / 100
            return max(minInstances, Int((Double(users) / perServer).rounded(.up)))
        }
    }

    /// The stack.
    public var api: StackAPI
    /// Its knobs.
    public var knobs: Knobs
    /// Kills one server (by instance id) the way a crash would: `kill -9`, `docker kill`, …
    public var killServer: @Sendable (String) async throws -> Void
    /// Reads one metric of a server's `GET /metrics`: from the test process at the port the
    /// topology gives for it by default; a stack whose servers listen where the tests cannot
    /// reach them (inside a container) reads it there.
    public var serverMetric: @Sendable (_ name: String, _ server: TopologySnapshot.Instance) async throws -> Double?

    /// Creates the scenarios for one stack.
    public init(api: StackAPI, knobs: Knobs = Knobs(),
                killServer: @escaping @Sendable (String) async throws -> Void,
                serverMetric: (@Sendable (_ name: String, _ server: TopologySnapshot.Instance) async throws -> Double?)? = nil) {
        self.api = api
        self.knobs = knobs
        self.killServer = killServer
        self.serverMetric = serverMetric ?? { name, server in
            guard let port = server.endpoint?.port else { return nil }
            return try await api.serverMetric(name, port: port)
        }
    }

    /// Distinct user ids for one scenario: `<prefix>-1` … `<prefix>-<count>`.
    public static func users(_ prefix: String, _ count: Int, from first: Int = 1) -> [String] {
        (first..<(first + count)).map { "\(prefix)-\($0)" }
    }

    // MARK: - Waiting

    /// Waits until every one of `users` is connected, the registry counts exactly `users.count`
    /// sessions and no server is still starting.
    /// - Returns: how long it took.
    @discardableResult
    public func waitUntilConnected(_ users: [String], timeout: Duration) async throws -> Duration {
        try await TestSupport.waitUntil("all \(users.count) users connected and registered", timeout: timeout, {
            let client = try await api.clientStatus()
            guard client.allConnected(users) else { return false }
            let topology = try await api.topology()
            return topology.totalSessions == users.count && !topology.instances.contains { $0.state == "starting" }
        }, describe: { await describeState() })
    }

    /// The stack's state in one line per part, for failure messages.
    public func describeState() async -> String {
        var lines: [String] = []
        if let topology = try? await api.topology() {
            lines.append("topology: " + topology.instances.map {
                "\($0.id) \($0.state) \($0.sessions) sessions (haproxy \($0.proxyState ?? "-") \($0.proxyConnections.map(String.init) ?? "-"))"
            }.joined(separator: ", ") + "; utilization \(topology.utilizationPercent)%")
            lines.append("last decisions: " + topology.decisions.suffix(4).map {
                "\($0.kind) \($0.actions) because \($0.reasons)"
            }.joined(separator: " | "))
        } else {
            lines.append("topology: no answer")
        }
        if let client = try? await api.clientStatus() {
            lines.append("client: \(client.totals.connected)/\(client.totals.users) connected, "
                         + "\(client.totals.reconnecting) reconnecting, \(client.totals.reconnects) reconnects, hosts \(client.hosts)")
            // Users that stopped trying are shown too: a user who gave up is the likeliest
            // reason for "not within".
            let waiting = client.users.filter { $0.state != "connected" }
            if !waiting.isEmpty {
                lines.append("not connected (\(waiting.count)): " + waiting.prefix(8).map {
                    "\($0.userId) \($0.state) (reconnects \($0.reconnectCount), last close \($0.lastCloseCode.map(String.init) ?? "none")"
                        + " \($0.lastCloseReason ?? ""))"
                }.joined(separator: ", "))
            }
        } else {
            lines.append("client: no answer")
        }
        return lines.joined(separator: "\n")
    }

    /// Waits until `users` are all connected and registered, the pool is at or below the
    /// scale-out threshold, nothing is starting, and the per-server counts stay the same for
    /// `quiet` (longer than the rebalance cooldown, so a pending rebalance shows).
    /// - Returns: how long it took.
    @discardableResult
    public func waitUntilSettled(_ users: [String], timeout: Duration, quiet: Duration = .milliseconds(1500)) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        while true {
            let remaining = timeout - (clock.now - start)
            try await TestSupport.waitUntil("\(users.count) users connected on enough servers, nothing starting", timeout: max(remaining, .zero), {
                let client = try await api.clientStatus()
                guard client.allConnected(users) else { return false }
                let topology = try await api.topology()
                return topology.totalSessions == users.count
                    && topology.active.count >= knobs.serversNeeded(for: users.count)
                    && !topology.instances.contains { $0.state == "starting" }
            }, describe: { await describeState() })
            let counts = try await api.topology().instances.map { "\($0.id) \($0.state) \($0.sessions)" }
            try await Task.sleep(for: quiet)
            if try await api.topology().instances.map({ "\($0.id) \($0.state) \($0.sessions)" }) == counts {
                return clock.now - start
            }
        }
    }

    // MARK: - Balance

    /// Sentences for every active server above the average plus the tolerance (the rebalancer's
    /// upper bound); empty when the pool is balanced from above.
    public func imbalance(_ topology: TopologySnapshot) -> [String] {
        let active = topology.active
        guard !active.isEmpty else { return ["no active server"] }
        let average = Double(active.map(\.sessions).reduce(0, +)) / Double(active.count)
        let bound = average + Double(knobs.connectionLimit * knobs.overTolerance) / 100
        return active.filter { Double($0.sessions) > bound + 1e-9 }.map {
            "\($0.id) holds \($0.sessions) sessions > average \(average) + tolerance (\(bound))"
        }
    }

    /// Waits until `users` are all connected, the pool is at or below the scale-out threshold,
    /// nothing is starting, and no active server is above average + tolerance.
    /// - Returns: how long it took.
    @discardableResult
    public func waitUntilBalanced(_ users: [String], timeout: Duration) async throws -> Duration {
        try await TestSupport.waitUntil("\(users.count) users connected, enough servers, every active server within average + tolerance",
                            timeout: timeout, {
            let client = try await api.clientStatus()
            guard client.allConnected(users) else { return false }
            let topology = try await api.topology()
            return topology.totalSessions == users.count && imbalance(topology).isEmpty
                && topology.active.count >= knobs.serversNeeded(for: users.count)
                && !topology.instances.contains { $0.state == "starting" }
        }, describe: { await describeState() })
    }
}

/// A broken rule of a scenario, and what was seen instead.
public struct ScenarioFailure: Error, CustomStringConvertible {
    /// The sentence.
    public var description: String
    /// Creates a failure.
    public init(_ description: String) { self.description = description }
}
