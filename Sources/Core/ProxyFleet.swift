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
/// - The instances are a fixed list, or found again at every call (`ProxyMemberSource`: the
///   addresses a DNS name has now, for HAProxy as a swarm service on every node). One that
///   joins is brought up to date at the next wake, as one that restarted empty.
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

    /// Where the instances come from.
    private let source: any ProxyMemberSource
    /// Where each server is, as last read or added, to add it where it is missing.
    private let endpoints = Mutex<[InstanceID: Endpoint]>([:])

    /// A fleet of `members` (at least one).
    public init(_ members: [Member]) {
        precondition(!members.isEmpty, "a proxy fleet needs at least one proxy")
        self.source = FixedProxyMembers(members: members)
    }

    /// A fleet whose instances `source` names at every call.
    public init(source: any ProxyMemberSource) {
        self.source = source
    }

    public func read() async throws -> ProxyReading {
        let members = try await currentMembers("read")
        let results = await each(members) { try await $0.read() }
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
        guard !readings.isEmpty else { throw ProxyFleetError(action: "read", failures: failures(members, results)) }
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
        try await onAll("set \(id)'s connection limit") { proxy, _ in try await proxy.setConnectionLimit(id, limit) }
    }

    public func add(_ id: InstanceID, at endpoint: Endpoint) async throws {
        endpoints.withLock { $0[id] = endpoint }
        try await onAll("add \(id)") { proxy, _ in try await proxy.add(id, at: endpoint) }
    }

    /// Sets the state on every instance, adding the server first where it may be missing.
    public func setState(_ id: InstanceID, _ state: ProxyServerState) async throws {
        let endpoint = endpoints.withLock { $0[id] }
        try await onAll("set \(id) \(state.rawValue)") { proxy, count in
            if let endpoint, count > 1 { try await proxy.add(id, at: endpoint) }
            try await proxy.setState(id, state)
        }
    }

    public func remove(_ id: InstanceID, cuttingSessions: Bool) async throws {
        try await onAll("remove \(id)") { proxy, _ in try await proxy.remove(id, cuttingSessions: cuttingSessions) }
        endpoints.withLock { $0[id] = nil }
    }

    /// The instances now; throws when there is none (a name that resolves to nothing).
    private func currentMembers(_ action: String) async throws -> [Member] {
        let members = await source.members()
        guard !members.isEmpty else {
            throw ProxyFleetError(action: action, failures: ["no proxy instance: \(source)"])
        }
        return members
    }

    /// Runs `change` on every instance at once (with how many there are); throws only when it
    /// failed on all of them.
    private func onAll(_ action: String, _ change: @escaping @Sendable (any TrafficProxy, Int) async throws -> Void) async throws {
        let members = try await currentMembers(action)
        let results = await each(members) { try await change($0, members.count) }
        if results.allSatisfy({ if case .failure = $0 { true } else { false } }) {
            throw ProxyFleetError(action: action, failures: failures(members, results))
        }
    }

    /// `operation` on every instance at once, the outcomes in the members' order.
    private func each<T: Sendable>(_ members: [Member],
                                   _ operation: @escaping @Sendable (any TrafficProxy) async throws -> T) async -> [Result<T, any Error>] {
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

    private func failures<T>(_ members: [Member], _ results: [Result<T, any Error>]) -> [String] {
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

/// Where a `ProxyFleet`'s instances come from, asked at every reading and change.
public protocol ProxyMemberSource: Sendable, CustomStringConvertible {
    /// The instances now (none when, for example, a name resolves to no address yet).
    func members() async -> [ProxyFleet.Member]
}

/// A fixed list of instances.
struct FixedProxyMembers: ProxyMemberSource {
    let list: [ProxyFleet.Member]

    init(members: [ProxyFleet.Member]) {
        list = members
    }

    func members() async -> [ProxyFleet.Member] { list }

    var description: String { list.map(\.name).joined(separator: ", ") }
}
