import WSScaleCore

/// An in-memory `SessionRegistry` whose events the test pushes.
actor FakeRegistry: SessionRegistry {
    private let calls: CallLog
    private(set) var hosts: [InstanceID: HostSessions] = [:]
    private let eventStream: AsyncStream<RegistryEvent>
    private let eventContinuation: AsyncStream<RegistryEvent>.Continuation

    init(calls: CallLog) {
        self.calls = calls
        (eventStream, eventContinuation) = AsyncStream.makeStream()
    }

    /// Sets a host's session count and draining flag.
    func setHost(_ id: InstanceID, sessions: Int, draining: Bool = false) {
        hosts[id] = HostSessions(host: id, sessions: sessions, draining: draining)
    }

    /// Delivers a change notification to the loop.
    nonisolated func push(_ event: RegistryEvent) { eventContinuation.yield(event) }

    /// While set, reads fail with this error (a registry that times out).
    private(set) var failure: String?

    /// Makes reads fail with `message` (or succeed again with `nil`).
    func setFailure(_ message: String?) { failure = message }

    func topology() async throws -> [HostSessions] {
        if let failure { throw FakeRegistryError(message: failure) }
        return Array(hosts.values)
    }

    func allSessions() async throws -> [SessionRecord] { [] }

    nonisolated func events() -> AsyncStream<RegistryEvent> { eventStream }

    func shed(host: InstanceID, count: Int) async throws -> CommandDelivery {
        calls.append("registry.shed \(host) \(count)")
        if var entry = hosts[host] {
            entry.sessions = max(0, entry.sessions - count)
            hosts[host] = entry
        }
        return delivery
    }

    func setDraining(host: InstanceID, _ draining: Bool) async throws -> CommandDelivery {
        calls.append("registry.draining \(host) \(draining)")
        hosts[host]?.draining = draining
        return delivery
    }

    /// What `shed` and `setDraining` say became of their orders.
    var delivery = CommandDelivery.heard

    func setDelivery(_ delivery: CommandDelivery) {
        self.delivery = delivery
    }
}

/// The error a failing `FakeRegistry` throws.
struct FakeRegistryError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
