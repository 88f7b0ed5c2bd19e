/// What one client address may do on HAProxy's traffic port: at most `maxConnections`
/// connections at once, and at most `maxNewConnections` new ones per 10 s. A connection over
/// either is closed by HAProxy before anything is read (`tcp-request connection reject`), so one
/// address cannot hold the pool's capacity, nor open connections faster than servers start.
///
/// The defaults (10,000 and 10,000) let a burst of thousands of users from one address through
/// (a NAT, the client simulator); lower them where clients have addresses of their own.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `LB_MAX_CONNECTIONS_PER_SOURCE` | `10000` | connections one client address holds at once |
/// | `LB_MAX_NEW_CONNECTIONS_PER_SOURCE` | `10000` | new connections one client address opens per 10 s |
public struct HAProxySourceLimits: Sendable, Equatable {
    /// Connections one address holds at once.
    public var maxConnections: Int
    /// New connections one address opens per 10 s.
    public var maxNewConnections: Int
    /// How the values are written: as numbers, or as HAProxy's `"${VARIABLE-default}"`, read
    /// from HAProxy's environment when it starts (for the committed files of compose and the
    /// Debian package).
    public var fromEnvironment: Bool

    /// The variables, for the settings that read them and the files that name them.
    public static let maxConnectionsVariable = "LB_MAX_CONNECTIONS_PER_SOURCE"
    /// See ``maxConnectionsVariable``.
    public static let maxNewConnectionsVariable = "LB_MAX_NEW_CONNECTIONS_PER_SOURCE"

    /// Creates limits.
    public init(maxConnections: Int = 10_000, maxNewConnections: Int = 10_000, fromEnvironment: Bool = false) {
        self.maxConnections = maxConnections
        self.maxNewConnections = maxNewConnections
        self.fromEnvironment = fromEnvironment
    }

    /// The traffic frontend's lines.
    var frontendLines: [String] {
        let connections = value(maxConnections, Self.maxConnectionsVariable)
        let newConnections = value(maxNewConnections, Self.maxNewConnectionsVariable)
        return [
            "# Per client address: \(Self.maxConnectionsVariable) connections at once, \(Self.maxNewConnectionsVariable) new ones per 10 s.",
            "stick-table type ipv6 size 1m expire 60s store conn_cur,conn_rate(10s)",
            "tcp-request connection track-sc0 src",
            "tcp-request connection reject if { sc0_conn_cur gt \(connections) } || { sc0_conn_rate gt \(newConnections) }",
        ]
    }

    private func value(_ number: Int, _ variable: String) -> String {
        fromEnvironment ? "\"${\(variable)-\(number)}\"" : "\(number)"
    }
}
