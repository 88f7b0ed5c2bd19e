import Foundation
import WSScaleCore

/// The `haproxy.cfg` wsscale starts HAProxy with.
///
/// One traffic frontend that forwards only the WebSocket path and `/health`, a stats page, the runtime API (a unix socket, optionally TCP too),
/// and one `balance leastconn` backend without server lines: servers are only ever added,
/// changed and deleted at run time through the runtime API. Timeouts suit WebSockets
/// (`timeout tunnel`), and health checks ask the servers' `/health`.
public struct HAProxyConfiguration: Sendable, Equatable {
    /// Where clients connect: `*:8000` by default (`bind` syntax: `[address]:port`).
    public var trafficBind: String
    /// Where the stats page listens (`*:8404` by default); `nil` for none.
    public var statsBind: String?
    /// Path of the runtime API's unix socket (admin level).
    public var runtimeSocketPath: String
    /// The user id owning the runtime API's socket (mode 600), when not HAProxy's own: in
    /// compose, the balancer's (65534), the only other service that mounts its folder.
    public var runtimeSocketOwner: Int?
    /// Optional TCP listener for the runtime API, e.g. `127.0.0.1:9999` (admin level: keep it on loopback).
    public var runtimeTCPBind: String?
    /// The runtime API relayed over TCP to other hosts (a swarm stack's balancer), only for
    /// some source addresses; `nil` for none.
    public var runtimeRelay: HAProxyRuntimeRelay?
    /// The frontend's name.
    public var frontendName: String
    /// The backend's name, where the dynamic servers live.
    public var backendName: String
    /// How servers are checked.
    public var healthCheck: HAProxyHealthCheck
    /// `timeout connect`.
    public var connectTimeout: Duration
    /// `timeout client` and `timeout server`: idle time allowed before the WebSocket upgrade.
    public var clientServerTimeout: Duration
    /// `timeout tunnel`: idle time allowed on an upgraded (WebSocket) connection.
    public var tunnelTimeout: Duration
    /// `timeout server-fin`: how long a server may take to close its side once the client has
    /// closed (a healthy server answers a FIN at once). A server whose host vanished never
    /// does: without it such a connection would hold on for `timeout tunnel`, and HAProxy
    /// would refuse to delete the server (`shutdown sessions` passes over a half-closed one).
    public var serverFinTimeout: Duration = .seconds(5)
    /// `timeout http-request`: time to receive a whole request head.
    public var httpRequestTimeout: Duration
    /// `timeout queue`: how long a connection waits for a server with room (every server at
    /// its `maxconn`, `ServerConnectionLimit`) before it gets a 503, long enough for a launch.
    public var queueTimeout: Duration
    /// Global `maxconn`; `nil` lets HAProxy derive it from the open-file limit.
    public var maxConnections: Int?
    /// What one client address may do on the traffic port.
    public var sourceLimits: HAProxySourceLimits

    /// Creates a configuration.
    /// - Parameters:
    ///   - runtimeSocketPath: path of the runtime API's unix socket.
    ///   - trafficBind: where clients connect.
    ///   - statsBind: where the stats page listens, `nil` for none.
    ///   - runtimeSocketOwner: the user id owning the socket, when not HAProxy's own.
    ///   - runtimeTCPBind: optional TCP address of the runtime API.
    public init(runtimeSocketPath: String,
                runtimeSocketOwner: Int? = nil,
                trafficBind: String = "*:8000",
                statsBind: String? = "*:8404",
                runtimeTCPBind: String? = nil,
                runtimeRelay: HAProxyRuntimeRelay? = nil,
                frontendName: String = "wsscale_traffic",
                backendName: String = "wsscale_servers",
                healthCheck: HAProxyHealthCheck = HAProxyHealthCheck(),
                connectTimeout: Duration = .seconds(5),
                clientServerTimeout: Duration = .seconds(30),
                tunnelTimeout: Duration = .seconds(3600),
                httpRequestTimeout: Duration = .seconds(10),
                queueTimeout: Duration = .seconds(30),
                maxConnections: Int? = nil,
                sourceLimits: HAProxySourceLimits = HAProxySourceLimits()) {
        self.sourceLimits = sourceLimits
        self.runtimeSocketPath = runtimeSocketPath
        self.runtimeSocketOwner = runtimeSocketOwner
        self.trafficBind = trafficBind
        self.statsBind = statsBind
        self.runtimeTCPBind = runtimeTCPBind
        self.runtimeRelay = runtimeRelay
        self.frontendName = frontendName
        self.backendName = backendName
        self.healthCheck = healthCheck
        self.connectTimeout = connectTimeout
        self.clientServerTimeout = clientServerTimeout
        self.tunnelTimeout = tunnelTimeout
        self.httpRequestTimeout = httpRequestTimeout
        self.queueTimeout = queueTimeout
        self.maxConnections = maxConnections
    }

    /// Checks the values a user can get wrong.
    /// - Throws: `HAProxyError` naming the bad setting.
    public func validate() throws {
        for (name, value) in [("frontendName", frontendName), ("backendName", backendName)] {
            guard HAProxyName.isValid(value) else {
                throw HAProxyError("\(name) \"\(value)\" \(SettingRule.haproxyNameProblem(value) ?? "")")
            }
        }
        for (name, value) in [("trafficBind", trafficBind), ("statsBind", statsBind ?? "x:1"), ("runtimeTCPBind", runtimeTCPBind ?? "x:1"),
                              ("runtimeRelay.bind", runtimeRelay?.bind ?? "x:1")] {
            guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]),
                  (1...65535).contains(port), Self.isBindAddress(value[..<colon]) else {
                throw HAProxyError("\(name) \"\(value)\" must look like [address]:port")
            }
        }
        if let runtimeRelay, let problem = HAProxyRuntimeRelay.sourcesProblem(runtimeRelay.allowedSources) {
            throw HAProxyError("runtimeRelay.allowedSources \"\(runtimeRelay.allowedSources)\" \(problem)")
        }
        if let problem = SettingRule.stateDirectoryProblem(runtimeSocketPath) {
            throw HAProxyError("runtimeSocketPath \"\(runtimeSocketPath)\" \(problem)")
        }
        guard healthCheck.path.hasPrefix("/"), healthCheck.path.unicodeScalars.allSatisfy({
            $0.isASCII && $0.properties.generalCategory != .control && !" ;#\"'\\$".unicodeScalars.contains($0)
        }) else {
            throw HAProxyError("healthCheck.path \"\(healthCheck.path)\" must start with / and have no spaces, control characters or ; # \" ' \\ $")
        }
        guard sourceLimits.maxConnections > 0, sourceLimits.maxNewConnections > 0 else {
            throw HAProxyError("\(HAProxySourceLimits.maxConnectionsVariable) and \(HAProxySourceLimits.maxNewConnectionsVariable) must be at least 1")
        }
        guard healthCheck.fall > 0, healthCheck.rise > 0 else {
            throw HAProxyError("healthCheck.fall and healthCheck.rise must be at least 1")
        }
    }

    /// Whether the address part of a `bind` is one word HAProxy reads as an address: empty or
    /// `*` (every address), an IP address, or a DNS name.
    static func isBindAddress(_ address: Substring) -> Bool {
        let text = String(address)
        return text.isEmpty || text == "*" || SettingRule.isIPAddress(text) || SettingRule.isDNSName(text)
    }

    /// The path prefix of the servers' WebSocket endpoint, the one path family the traffic
    /// port forwards (with `/health`).
    public static let webSocketPathPrefix = "/api/v1/websocket/"

    /// The traffic frontend's rules: it forwards only GETs of the WebSocket path and of
    /// `/health`, and answers anything else itself (405, 404), so the servers' admin endpoints
    /// (`/ws-session/...`, `/metrics`) are never reached through the public port.
    static let trafficOnlyRules = [
        "# Only traffic on this port: the WebSocket path and /health. The servers' admin endpoints",
        "# (/ws-session/..., /metrics) are reached on their own ports, which are not public.",
        "acl wsscale_websocket_path path_beg \(webSocketPathPrefix)",
        "acl wsscale_health_path path /health",
        #"http-request return status 405 content-type "text/plain" string "this port takes only GET" unless METH_GET"#,
        #"http-request return status 404 content-type "text/plain" string "this port carries only \#(webSocketPathPrefix){userId} and /health" unless wsscale_websocket_path || wsscale_health_path"#,
    ]

    /// The configuration file's text.
    public func render() -> String {
        var lines: [String] = []
        lines.append("# Written by wsscale. Servers are added at run time through the runtime API;")
        lines.append("# the backend has no server lines on purpose.")
        lines.append("global")
        let owner = runtimeSocketOwner.map { " uid \($0)" } ?? ""
        lines.append("    stats socket \(runtimeSocketPath) mode 600\(owner) level admin expose-fd listeners")
        if let runtimeTCPBind {
            lines.append("    stats socket ipv4@\(runtimeTCPBind) level admin")
        }
        lines.append("    stats timeout 30s")
        if let maxConnections { lines.append("    maxconn \(maxConnections)") }
        lines.append("")
        lines.append("defaults")
        lines.append("    mode http")
        lines.append("    option dontlognull")
        // No connect retries: HAProxy 2.6 keeps a stream that got "connection refused" for a
        // 1 s turn-around per retry, still pointing at its server. When that server has
        // crashed and is deleted (`del server`) meanwhile, the retry touches the freed server
        // and HAProxy segfaults (seen with `kill -9` of a server, ~1 run in 6). Without
        // retries the client gets a 503 at once and reconnects itself (backoff with jitter).
        lines.append("    retries 0")
        lines.append("    timeout connect \(HAProxyDuration.render(connectTimeout))")
        lines.append("    timeout client \(HAProxyDuration.render(clientServerTimeout))")
        lines.append("    timeout server \(HAProxyDuration.render(clientServerTimeout))")
        lines.append("    timeout tunnel \(HAProxyDuration.render(tunnelTimeout))")
        lines.append("    timeout client-fin \(HAProxyDuration.render(clientServerTimeout))")
        lines.append("    timeout server-fin \(HAProxyDuration.render(serverFinTimeout))")
        lines.append("    timeout http-request \(HAProxyDuration.render(httpRequestTimeout))")
        // A burst waits here for the servers being launched (each server's maxconn is the
        // balancer's `ServerConnectionLimit`); a client that leaves meanwhile is dropped from
        // the queue instead of being sent to a server that would admit a session nobody holds.
        lines.append("    timeout queue \(HAProxyDuration.render(queueTimeout))")
        lines.append("    option abortonclose")
        lines.append("")
        lines.append("frontend \(frontendName)")
        lines.append("    bind \(trafficBind)")
        lines.append(contentsOf: sourceLimits.frontendLines.map { "    " + $0 })
        lines.append(contentsOf: Self.trafficOnlyRules.map { "    " + $0 })
        lines.append("    default_backend \(backendName)")
        if let statsBind {
            lines.append("")
            lines.append("frontend wsscale_stats")
            lines.append("    bind \(statsBind)")
            lines.append("    stats enable")
            lines.append("    stats uri /")
            lines.append("    stats refresh 2s")
        }
        if let runtimeRelay {
            lines.append("")
            lines.append(contentsOf: runtimeRelay.lines(socketPath: runtimeSocketPath))
        }
        lines.append("")
        lines.append("backend \(backendName)")
        lines.append("    balance leastconn")
        lines.append("    option httpchk GET \(healthCheck.path)")
        lines.append("    http-check expect status 200")
        lines.append("    default-server \(healthCheck.serverKeywords)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Validates and writes the file.
    /// - Parameter path: where to write it.
    public func write(to path: String) throws {
        try validate()
        try render().write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// The runtime API over TCP, for a balancer on another host: a TCP relay to the unix socket
/// that takes connections only from `allowedSources`. HAProxy's own TCP `stats socket` takes
/// every connection that reaches it, and in a swarm stack HAProxy shares its traffic network
/// with the servers; the relay admits only the control network, where the balancer is.
public struct HAProxyRuntimeRelay: Sendable, Equatable {
    /// Where the relay listens (`bind` syntax: `[address]:port`).
    public var bind: String
    /// The one address or network (`10.231.0.0/24`) allowed in, or `"${VARIABLE}"`: read from
    /// HAProxy's environment when it starts (an unset one stops HAProxy).
    public var allowedSources: String

    /// Creates a relay listening on `bind` for `allowedSources`.
    public init(bind: String, allowedSources: String) {
        self.bind = bind
        self.allowedSources = allowedSources
    }

    /// Why `sources` is not an address, a network or `${VARIABLE}`; `nil` when it is.
    static func sourcesProblem(_ sources: String) -> String? {
        if sources.hasPrefix("${"), sources.hasSuffix("}"), sources.count > 3,
           sources.dropFirst(2).dropLast().allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) {
            return nil
        }
        let parts = sources.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), SettingRule.isIPAddress(String(parts[0])) else {
            return "must be an IP address, a network (address/prefix) or ${VARIABLE}"
        }
        if parts.count == 2 {
            let limit = parts[0].contains(":") ? 128 : 32
            guard let prefix = Int(parts[1]), (0...limit).contains(prefix) else { return "has a bad prefix length" }
        }
        return nil
    }

    /// The `listen` section.
    func lines(socketPath: String) -> [String] {
        let sources = allowedSources.hasPrefix("${") ? "\"\(allowedSources)\"" : allowedSources
        return [
            "listen wsscale_runtime_api",
            "    # The runtime API for the balancer on another host: only from \(allowedSources).",
            "    mode tcp",
            "    bind \(bind)",
            "    tcp-request connection reject unless { src \(sources) }",
            "    server runtime_api unix@\(socketPath)",
        ]
    }
}

/// HAProxy's rule for proxy and server names.
enum HAProxyName {
    /// Whether `name` may be a proxy or server name (`SettingRule.haproxyNameProblem`).
    static func isValid(_ name: String) -> Bool { SettingRule.haproxyNameProblem(name) == nil }
}
