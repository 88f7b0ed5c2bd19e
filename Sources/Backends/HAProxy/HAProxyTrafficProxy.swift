#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import WSScaleCore

/// The pool's servers in one HAProxy backend, managed as dynamic servers through the
/// runtime API (never by rewriting the configuration and reloading).
///
/// - `add`: `add server <backend>/<id> <ip>:<port> check inter … fall … rise …` (HAProxy
///   creates it in maintenance with its check disabled).
/// - `setState(.ready)`: `set server … state ready` + `enable health`; `.drain`:
///   `set server … state drain` (still checked, no new connections); `.maintenance`:
///   `set server … state maint`.
/// - `remove`: maintenance, then `del server` retried until HAProxy holds no connection to
///   the server or `removalTimeout` passes (then it throws); a server that no longer runs is
///   removed cutting its sessions (`shutdown sessions server`) right after maintenance.
/// - `read()`: `show servers state <backend>` (admin and operational state, address)
///   joined with `show stat <backend> 6 -1` (current sessions, check status, `maxconn`; the
///   backend's row gives the queue).
/// - `setConnectionLimit`: `set maxconn server <backend>/<id> N`.
public struct HAProxyTrafficProxy: TrafficProxy {
    /// The runtime API it talks to.
    public let api: HAProxyRuntimeAPI
    /// The backend holding the pool's servers.
    public let backend: String
    /// The check every added server gets.
    public let healthCheck: HAProxyHealthCheck
    /// How long `remove` waits for the server's last connections to close.
    public let removalTimeout: Duration
    /// How long a removal that cut the sessions waits for them to be gone before it throws
    /// (and is tried again at the next wake).
    static let cutRemovalWait: Duration = .seconds(1)
    private let logger: Logger

    /// Creates the adapter.
    /// - Parameters:
    ///   - api: the runtime API client.
    ///   - backend: the backend's name.
    ///   - healthCheck: the check every added server gets (dynamic servers do not inherit `default-server`).
    ///   - removalTimeout: how long `remove` waits for connections to close.
    ///   - logger: where it logs.
    public init(api: HAProxyRuntimeAPI, backend: String, healthCheck: HAProxyHealthCheck = HAProxyHealthCheck(),
                removalTimeout: Duration = .seconds(10), logger: Logger) {
        self.api = api
        self.backend = backend
        self.healthCheck = healthCheck
        self.removalTimeout = removalTimeout
        self.logger = logger
    }

    /// Creates the adapter for the HAProxy a configuration describes (its unix socket,
    /// backend and health check).
    public init(configuration: HAProxyConfiguration, removalTimeout: Duration = .seconds(10), logger: Logger) {
        self.init(api: HAProxyRuntimeAPI(address: .unixSocket(path: configuration.runtimeSocketPath)),
                  backend: configuration.backendName, healthCheck: configuration.healthCheck,
                  removalTimeout: removalTimeout, logger: logger)
    }

    /// The backend's servers with HAProxy's full view of each.
    public func serverStatuses() async throws -> [HAProxyServerStatus] {
        try await statusesAndQueue().servers
    }

    /// The pool's servers with their state, health, current connections and connection
    /// limit, and the backend's queue.
    public func read() async throws -> ProxyReading {
        let (servers, queued) = try await statusesAndQueue()
        return ProxyReading(servers: servers.map(\.proxyServer), queued: queued)
    }

    /// `show servers state` and `show stat` (backend row and servers) of the backend.
    private func statusesAndQueue() async throws -> (servers: [HAProxyServerStatus], queued: Int) {
        async let state = api.execute("show servers state \(backend)")
        async let stat = api.execute("show stat \(backend) 6 -1")
        let (stateText, statText) = try await (state, stat)
        if !stateText.hasPrefix("1\n") && !stateText.hasPrefix("1\r\n") {
            throw HAProxyError(stateText.trimmingCharacters(in: .whitespacesAndNewlines),
                               command: "show servers state \(backend)")
        }
        return (HAProxyAnswers.servers(serversState: stateText, stat: statText, backend: backend),
                HAProxyAnswers.queued(stat: statText, backend: backend))
    }

    /// Sets the most connections HAProxy holds to a server (`maxconn`); past it, new ones wait
    /// in the backend's queue for `timeout queue`.
    /// - Throws: `HAProxyError` when the server does not exist or HAProxy refuses.
    public func setConnectionLimit(_ id: InstanceID, _ limit: Int) async throws {
        try validate(id)
        guard limit >= 1 else { throw HAProxyError("a connection limit must be at least 1, not \(limit)") }
        try await expectEmptyAnswer("set maxconn server \(backend)/\(id) \(limit)")
        logger.debug("set HAProxy server maxconn", metadata: ["instance": "\(id)", "maxconn": "\(limit)"])
    }

    /// Adds a server in maintenance, its health check configured but disabled.
    /// Adding an existing id with the same endpoint succeeds.
    /// - Throws: `HAProxyError` for an invalid id or address, or when the id exists with another endpoint.
    public func add(_ id: InstanceID, at endpoint: Endpoint) async throws {
        try validate(id)
        guard Self.isIPAddress(endpoint.host) else {
            throw HAProxyError("server address \"\(endpoint.host)\" must be an IP address (dynamic servers are not resolved)")
        }
        let address = endpoint.host.contains(":") ? "[\(endpoint.host)]:\(endpoint.port)" : endpoint.description
        let command = "add server \(backend)/\(id) \(address) \(healthCheck.serverKeywords)"
        let answer = try await api.execute(command).trimmingCharacters(in: .whitespacesAndNewlines)
        if answer.hasPrefix("New server registered") {
            logger.info("added server to HAProxy", metadata: ["instance": "\(id)", "endpoint": "\(endpoint)"])
            return
        }
        if answer.hasPrefix("Already exists") {
            let existing = try await serverStatuses().first { $0.name == id }
            if existing?.endpoint == endpoint { return }
            throw HAProxyError("server exists with endpoint \(existing.map { "\($0.endpoint)" } ?? "?"), not \(endpoint)",
                               command: command)
        }
        throw HAProxyError(answer, command: command)
    }

    /// Sets a server's administrative state (ready also enables its health check).
    /// - Throws: `HAProxyError` when the server does not exist or HAProxy refuses.
    public func setState(_ id: InstanceID, _ state: ProxyServerState) async throws {
        try validate(id)
        let server = "\(backend)/\(id)"
        switch state {
        case .ready:
            try await expectEmptyAnswer("set server \(server) state ready")
            try await expectEmptyAnswer("enable health \(server)")
        case .drain:
            try await expectEmptyAnswer("set server \(server) state drain")
            try await expectEmptyAnswer("enable health \(server)")
        case .maintenance:
            try await expectEmptyAnswer("set server \(server) state maint")
        }
        logger.debug("set HAProxy server state", metadata: ["instance": "\(id)", "state": "\(state.rawValue)"])
    }

    /// Removes a server: maintenance, then `del server` once HAProxy holds no connection to
    /// it. Removing an unknown id succeeds.
    /// - Parameters:
    ///   - id: the server.
    ///   - cuttingSessions: cut its connections (`shutdown sessions server`) right after
    ///     maintenance, for a server that no longer runs: a server on a node that vanished
    ///     never resets them, and HAProxy would hold them (and their clients) until
    ///     `timeout tunnel`.
    /// - Throws: `HAProxyError` when connections remain after `removalTimeout` (after
    ///   `cutRemovalWait` when cutting: the next wake tries again).
    public func remove(_ id: InstanceID, cuttingSessions: Bool) async throws {
        try validate(id)
        let server = "\(backend)/\(id)"
        let maint = try await api.execute("set server \(server) state maint").trimmingCharacters(in: .whitespacesAndNewlines)
        if maint.hasPrefix("No such server") { return }
        guard maint.isEmpty else { throw HAProxyError(maint, command: "set server \(server) state maint") }

        // A server that no longer runs: its connections are cut, and what is left of them (a
        // half-closed one waits out `timeout server-fin`) is not waited for here; the next
        // wake removes it again, so one dead server does not hold the loop for `removalTimeout`.
        if cuttingSessions {
            logger.info("cutting the connections to a server that no longer runs", metadata: ["instance": "\(id)"])
            try await expectEmptyAnswer("shutdown sessions server \(server)")
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: cuttingSessions ? min(removalTimeout, Self.cutRemovalWait) : removalTimeout)
        while true {
            let answer = try await api.execute("del server \(server)").trimmingCharacters(in: .whitespacesAndNewlines)
            if answer.hasPrefix("Server deleted") || answer.hasPrefix("No such server") {
                logger.info("removed server from HAProxy", metadata: ["instance": "\(id)"])
                return
            }
            if clock.now >= deadline {
                throw HAProxyError("\(answer) (waited \(removalTimeout))", command: "del server \(server)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Which HAProxy process answers; a change means HAProxy restarted and lost its dynamic servers.
    public func processIdentity() async throws -> HAProxyProcessIdentity {
        try await api.processIdentity()
    }

    private func expectEmptyAnswer(_ command: String) async throws {
        let answer = try await api.execute(command).trimmingCharacters(in: .whitespacesAndNewlines)
        guard answer.isEmpty else { throw HAProxyError(answer, command: command) }
    }

    private func validate(_ id: InstanceID) throws {
        guard HAProxyName.isValid(id) else {
            throw HAProxyError("server name \"\(id)\" must be letters, digits, '.', '_', '-' or ':'")
        }
    }

    private static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
