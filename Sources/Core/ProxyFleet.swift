import Synchronization

/// Several proxies in front of one pool (HAProxy instances behind DNS, anycast or a cloud load
/// balancer), kept identical and seen as one (`HAPROXY_RUNTIME_API` with several addresses).
///
/// - `read()` asks every instance at once and combines what the reachable ones hold: each
///   server once, its connections and the queues summed over the instances (the rules count
///   a server's connections across all of them). A server some instance lacks, or that the
///   instances hold in different states, reads as `maintenance`, with no connection limit:
///   the control loop's reconciliation then sets the state it remembers (`setState`), which
///   adds the server where it is missing, and gives it its limit again. So an instance that
///   restarted empty, or joined late, is brought up to date at the next wake. A server no
///   reachable instance holds is simply absent (added back like any missing one).
/// - Every change goes to all instances at once. One that fails does not stop the others;
///   the change succeeds when at least one instance took it (the others are brought up to
///   date when they answer again), and fails only when none did.
/// - An instance that does not answer is left out of the reading and listed in
///   `ProxyReading.members`; the reading fails only when none answers.
public final class ProxyFleet: TrafficProxy {
    /// One instance: its name (the runtime API's address) and its adapter.
    public struct Member: Sendable {
        /// Its name in logs, the topology and the metrics.
        public var name: String
        /// The instance.
        public var proxy: any TrafficProxy

        /// Names an instance.
        public init(name: String, proxy: any TrafficProxy) {
            self.name = name
            self.proxy = proxy
        }
    }

    /// The instances, in the order given.
    public let members: [Member]
    /// Where each server is, as last read or added, to add it where it is missing.
    private let endpoints = Mutex<[InstanceID: Endpoint]>([:])

    /// A fleet of `members` (at least one).
    public init(_ members: [Member]) {
        precondition(!members.isEmpty, "a proxy fleet needs at least one proxy")
        self.members = members
    }

    public func read() async throws -> ProxyReading {
        let results = await each { try await $0.read() }
        var readings: [ProxyReading] = []
        var statuses: [ProxyMemberStatus] = []
        for (member, result) in zip(members, results) {
            switch result {
            case let .success(reading):
                readings.append(reading)
                statuses.append(ProxyMemberStatus(name: member.name, reachable: true, servers: reading.servers.count))
            case let .failure(error):
                statuses.append(ProxyMemberStatus(name: member.name, reachable: false, error: "\(error)"))
            }
        }
        guard !readings.isEmpty else { throw ProxyFleetError(action: "read", failures: failures(results)) }
        var copies: [InstanceID: [ProxyServer]] = [:]
        for reading in readings {
            for server in reading.servers { copies[server.id, default: []].append(server) }
        }
        let servers = copies.keys.sorted().compactMap { id -> ProxyServer? in
            guard let held = copies[id], let first = held.first else { return nil }
            let everywhere = held.count == readings.count
            let agreed = everywhere && held.allSatisfy { $0.state == first.state }
            let sameLimit = everywhere && held.allSatisfy { $0.connectionLimit == first.connectionLimit }
            return ProxyServer(id: id, endpoint: first.endpoint, state: agreed ? first.state : .maintenance,
                               healthy: everywhere && held.allSatisfy(\.healthy),
                               currentConnections: held.map(\.currentConnections).saturatingSum(),
                               connectionLimit: sameLimit ? first.connectionLimit : nil)
        }
        endpoints.withLock { known in
            for server in servers { known[server.id] = server.endpoint }
        }
        return ProxyReading(servers: servers, queued: readings.map(\.queued).saturatingSum(), members: statuses)
    }

    public func setConnectionLimit(_ id: InstanceID, _ limit: Int) async throws {
        try await onAll("set \(id)'s connection limit") { try await $0.setConnectionLimit(id, limit) }
    }

    public func add(_ id: InstanceID, at endpoint: Endpoint) async throws {
        endpoints.withLock { $0[id] = endpoint }
        try await onAll("add \(id)") { try await $0.add(id, at: endpoint) }
    }

    /// Sets the state on every instance, adding the server first where it may be missing.
    public func setState(_ id: InstanceID, _ state: ProxyServerState) async throws {
        let endpoint = endpoints.withLock { $0[id] }
        try await onAll("set \(id) \(state.rawValue)") { proxy in
            if let endpoint, self.members.count > 1 { try await proxy.add(id, at: endpoint) }
            try await proxy.setState(id, state)
        }
    }

    public func remove(_ id: InstanceID) async throws {
        try await onAll("remove \(id)") { try await $0.remove(id) }
        endpoints.withLock { $0[id] = nil }
    }

    /// Runs `change` on every instance at once; throws only when it failed on all of them.
    private func onAll(_ action: String, _ change: @escaping @Sendable (any TrafficProxy) async throws -> Void) async throws {
        let results = await each(change)
        if results.allSatisfy({ if case .failure = $0 { true } else { false } }) {
            throw ProxyFleetError(action: action, failures: failures(results))
        }
    }

    /// `operation` on every instance at once, the outcomes in the members' order.
    private func each<T: Sendable>(_ operation: @escaping @Sendable (any TrafficProxy) async throws -> T) async -> [Result<T, any Error>] {
        await withTaskGroup(of: (Int, Result<T, any Error>).self) { group in
            for (index, member) in members.enumerated() {
                group.addTask {
                    do { return (index, .success(try await operation(member.proxy))) } catch { return (index, .failure(error)) }
                }
            }
            var results = [Result<T, any Error>?](repeating: nil, count: members.count)
            for await (index, result) in group { results[index] = result }
            return results.map { $0! }
        }
    }

    private func failures<T>(_ results: [Result<T, any Error>]) -> [String] {
        zip(members, results).compactMap { member, result in
            if case let .failure(error) = result { "\(member.name): \(error)" } else { nil }
        }
    }
}

/// A change or reading no proxy instance took.
public struct ProxyFleetError: Error, CustomStringConvertible {
    /// What was tried.
    public var action: String
    /// Each instance's failure, named.
    public var failures: [String]

    public var description: String {
        "\(action) failed on every proxy: " + failures.joined(separator: "; ")
    }
}
