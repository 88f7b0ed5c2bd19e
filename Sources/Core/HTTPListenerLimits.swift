/// The bounds every HTTP listener of wsscale keeps (the servers', the balancer's API, the
/// client simulator's and the dashboard's), so that slow or idle clients (slowloris) cannot
/// hold a listener:
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `HTTP_REQUEST_TIMEOUT_SECONDS` | `10` | an HTTP connection that has not sent a whole request within this time, from its connect or from its last answer, is closed |
/// | `MAX_HTTP_CONNECTIONS` | `1024` | HTTP connections one listener holds at once (upgraded WebSocket sessions are not among them: `MAX_CONNECTIONS_PER_HOST` bounds those); a new one over the bound closes the oldest |
public struct HTTPListenerLimits: Sendable, Equatable, EnvironmentSettings {
    /// The accept queue every HTTP listener asks for (`listen`'s backlog, capped by the kernel's
    /// `somaxconn`). Hummingbird's default of 256 overflowed under 5,000 connects at once (18
    /// `ListenOverflows`, each a caller waiting a SYN retransmit of 1 s); the server's port has
    /// always had this one.
    public static let backlog = 4096

    /// Time allowed for a whole request, from the connect or from the last answer.
    public var requestTimeout: Duration
    /// HTTP connections held at once.
    public var maxConnections: Int

    /// Creates limits.
    public init(requestTimeout: Duration = .seconds(10), maxConnections: Int = 1024) {
        self.requestTimeout = requestTimeout
        self.maxConnections = maxConnections
    }

    /// Reads `HTTP_REQUEST_TIMEOUT_SECONDS` and `MAX_HTTP_CONNECTIONS`; bad values are reported on
    /// `reader`, naming the variable.
    public static func read(from reader: inout EnvironmentReader) -> HTTPListenerLimits {
        let defaults = HTTPListenerLimits()
        return HTTPListenerLimits(
            requestTimeout: reader.seconds("HTTP_REQUEST_TIMEOUT_SECONDS", default: defaults.requestTimeout, in: 0.1...3600),
            maxConnections: reader.int("MAX_HTTP_CONNECTIONS", default: defaults.maxConnections, in: 1...1_000_000))
    }
}
