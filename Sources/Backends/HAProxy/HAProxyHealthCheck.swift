/// How HAProxy checks a server's health: `GET <path>` must answer 200.
///
/// Used twice: in the configuration file (`option httpchk`, `default-server`) and on every
/// `add server` (dynamic servers do not inherit `default-server`).
public struct HAProxyHealthCheck: Sendable, Equatable {
    /// The path asked (`/health`).
    public var path: String
    /// Time between two checks.
    public var interval: Duration
    /// Consecutive failures that mark a server down.
    public var fall: Int
    /// Consecutive successes that mark a server up.
    public var rise: Int

    /// Creates a health check description.
    public init(path: String = "/health", interval: Duration = .milliseconds(500), fall: Int = 2, rise: Int = 1) {
        self.path = path
        self.interval = interval
        self.fall = fall
        self.rise = rise
    }

    /// The server keywords that turn the check on: `check inter 500ms fall 2 rise 1`.
    public var serverKeywords: String {
        "check inter \(HAProxyDuration.render(interval)) fall \(fall) rise \(rise)"
    }
}

/// Writes durations the way HAProxy reads them (`500ms`, `30s`, `1h`).
public enum HAProxyDuration {
    /// Renders a duration in the largest exact unit among ms, s, m, h.
    public static func render(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if milliseconds % 3_600_000 == 0, milliseconds > 0 { return "\(milliseconds / 3_600_000)h" }
        if milliseconds % 60_000 == 0, milliseconds > 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0, milliseconds > 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }
}
