/// The check every change to the pool passes first: this balancer leads now, by its own
/// clock and by the lease store. A balancer that lost the lease (a standby, or a leader that
/// was paused past its lease and woke up believing it still leads) changes nothing: not the
/// proxy, not the backend, not the registry (`FencedInstanceDriver`, `FencedTrafficProxy`,
/// `FencedSessionRegistry`).
///
/// The check asks the store whether our record, token included, still holds the lease, then
/// reads the local validity again, so a pause during that call is caught too. What remains is
/// the instant between this last check and the call it guards: HAProxy's runtime API and the
/// engines cannot compare a token themselves.
public struct LeadershipFence: Sendable {
    let leadership: Leadership
    let lease: any LeaderLease

    /// A fence over `leadership`, checked against `lease`.
    public init(leadership: Leadership, lease: any LeaderLease) {
        self.leadership = leadership
        self.lease = lease
    }

    /// Throws `NotLeadingError` unless this balancer leads now.
    public func check(_ action: @autoclosure () -> String) async throws {
        guard let ours = leadership.mayAct() else {
            throw NotLeadingError(action: action(), holder: leadership.holder, token: nil, leader: leadership.lastSeen)
        }
        let current = try await lease.current()
        guard current == ours, leadership.mayAct() == ours else {
            throw NotLeadingError(action: action(), holder: leadership.holder, token: ours.token, leader: current)
        }
    }
}

/// A change refused because this balancer does not lead the pool.
public struct NotLeadingError: Error, CustomStringConvertible {
    /// What was refused.
    public var action: String
    /// This balancer's run.
    public var holder: String
    /// The token this balancer last led with, if it led.
    public var token: Int64?
    /// Who leads, as last seen.
    public var leader: LeaderRecord?

    public var description: String {
        let ours = token.map { "its token \($0) is stale" } ?? "it does not hold the lease"
        let who = leader.map { "\($0.holder) leads with token \($0.token)" } ?? "nobody leads"
        return "not leading: \(action) refused (\(ours); \(who))"
    }
}

/// The backend behind the fence: reads pass, `launch` and `stop` need the lease.
public struct FencedInstanceDriver: InstanceDriver {
    /// The backend.
    public let base: any InstanceDriver
    let fence: LeadershipFence

    /// Wraps `base`.
    public init(_ base: any InstanceDriver, fence: LeadershipFence) {
        self.base = base
        self.fence = fence
    }

    public var name: String { base.name }
    public func instances() async throws -> [DriverInstance] { try await base.instances() }
    public func launch(_ request: LaunchRequest) async throws -> DriverInstance {
        try await fence.check("launch \(request.id)")
        return try await base.launch(request)
    }
    public func waitUntilRunning(_ id: InstanceID, timeout: Duration) async throws -> Endpoint {
        try await base.waitUntilRunning(id, timeout: timeout)
    }
    public func stop(_ id: InstanceID, grace: Duration) async throws {
        try await fence.check("stop \(id)")
        try await base.stop(id, grace: grace)
    }
    public func exits() -> AsyncStream<InstanceExit> { base.exits() }
}

/// The proxy behind the fence: `read` passes, every change needs the lease.
public struct FencedTrafficProxy: TrafficProxy {
    /// The proxy.
    public let base: any TrafficProxy
    let fence: LeadershipFence

    /// Wraps `base`.
    public init(_ base: any TrafficProxy, fence: LeadershipFence) {
        self.base = base
        self.fence = fence
    }

    public func read() async throws -> ProxyReading { try await base.read() }
    public func setConnectionLimit(_ id: InstanceID, _ limit: Int) async throws {
        try await fence.check("set \(id)'s connection limit")
        try await base.setConnectionLimit(id, limit)
    }
    public func add(_ id: InstanceID, at endpoint: Endpoint) async throws {
        try await fence.check("add \(id) to the proxy")
        try await base.add(id, at: endpoint)
    }
    public func setState(_ id: InstanceID, _ state: ProxyServerState) async throws {
        try await fence.check("set \(id) \(state.rawValue) in the proxy")
        try await base.setState(id, state)
    }
    public func remove(_ id: InstanceID, cuttingSessions: Bool) async throws {
        try await fence.check("remove \(id) from the proxy")
        try await base.remove(id, cuttingSessions: cuttingSessions)
    }
}

/// The registry behind the fence: reads pass, orders to the servers need the lease.
public struct FencedSessionRegistry: SessionRegistry {
    /// The registry.
    public let base: any SessionRegistry
    let fence: LeadershipFence

    /// Wraps `base`.
    public init(_ base: any SessionRegistry, fence: LeadershipFence) {
        self.base = base
        self.fence = fence
    }

    public func topology() async throws -> [HostSessions] { try await base.topology() }
    public func allSessions() async throws -> [SessionRecord] { try await base.allSessions() }
    public func events() -> AsyncStream<RegistryEvent> { base.events() }
    public func shed(host: InstanceID, count: Int) async throws -> CommandDelivery {
        try await fence.check("shed \(count) from \(host)")
        return try await base.shed(host: host, count: count)
    }
    public func setDraining(host: InstanceID, _ draining: Bool) async throws -> CommandDelivery {
        try await fence.check("tell \(host) it \(draining ? "drains" : "is active")")
        return try await base.setDraining(host: host, draining)
    }
}
