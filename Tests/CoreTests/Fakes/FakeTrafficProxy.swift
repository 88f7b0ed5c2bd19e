import WSScaleCore

/// An in-memory `TrafficProxy` that can be restarted (emptied) or made to suspend in `setState`.
actor FakeTrafficProxy: TrafficProxy {
    private let calls: CallLog
    private(set) var table: [InstanceID: ProxyServer] = [:]
    private var setStateYields = 0
    private var unreachable = false
    /// The servers removed with their connections cut (ones that no longer ran), in order.
    private(set) var cutRemovals: [InstanceID] = []

    init(calls: CallLog) { self.calls = calls }

    /// Holds a server already (as if configured before the loop started).
    func preload(_ id: InstanceID, port: Int, state: ProxyServerState, connections: Int = 0) {
        table[id] = ProxyServer(id: id, endpoint: Endpoint(host: "127.0.0.1", port: port), state: state,
                                   healthy: state == .ready, currentConnections: connections)
    }

    /// Forgets every server, as HAProxy does when it restarts.
    func restart() { table = [:] }

    /// Makes every call fail (true), as an HAProxy nobody reaches, or answer again (false).
    func setUnreachable(_ value: Bool) { unreachable = value }

    private func reach() throws {
        if unreachable { throw DriverError("connection refused") }
    }

    /// Makes every `setState` give its thread up this many times before it acts, so other
    /// work (events reaching the loop) interleaves with a plan under way.
    func setSetStateYields(_ count: Int) { setStateYields = count }

    /// The state of one server, `nil` when absent.
    func state(of id: InstanceID) -> ProxyServerState? { table[id]?.state }

    /// Connections waiting in the queue, as the next `read()` reports them.
    private(set) var queued = 0

    func setQueued(_ count: Int) { queued = count }

    func read() async throws -> ProxyReading {
        try reach()
        return ProxyReading(servers: Array(table.values), queued: queued)
    }

    /// Not in the call log: it is set at every wake where it changed, beside the plan.
    func setConnectionLimit(_ id: InstanceID, _ limit: Int) async throws {
        try reach()
        guard table[id] != nil else { throw DriverError("no such server", instance: id) }
        table[id]?.connectionLimit = limit
    }

    /// The connection limit of one server, `nil` when absent or unset.
    func connectionLimit(of id: InstanceID) -> Int? { table[id]?.connectionLimit }

    func add(_ id: InstanceID, at endpoint: Endpoint) async throws {
        try reach()
        calls.append("lb.add \(id)")
        if let existing = table[id] {
            guard existing.endpoint == endpoint else { throw DriverError("exists elsewhere", instance: id) }
            return
        }
        table[id] = ProxyServer(id: id, endpoint: endpoint, state: .maintenance, healthy: false, currentConnections: 0)
    }

    func setState(_ id: InstanceID, _ state: ProxyServerState) async throws {
        for _ in 0..<setStateYields { await Task.yield() }
        try reach()
        calls.append("lb.\(state.rawValue) \(id)")
        guard table[id] != nil else { throw DriverError("no such server", instance: id) }
        table[id]?.state = state
        table[id]?.healthy = state == .ready
    }

    func remove(_ id: InstanceID, cuttingSessions: Bool) async throws {
        try reach()
        calls.append("lb.remove \(id)")
        if cuttingSessions { cutRemovals.append(id) }
        table[id] = nil
    }
}
