import WSScaleBackends
import WSScaleBalancer
import WSScaleCore

/// What `wsscale up` starts on this machine besides the balancer, read from the environment.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `LB_HOST` | `127.0.0.1` | where HAProxy takes WebSocket traffic (an IP address or a DNS name; `0.0.0.0` serves the world) |
/// | `LB_PORT` | `8000` | HAProxy's traffic port |
/// | `LB_STATS_PORT` | `8404` | HAProxy's stats page (always on 127.0.0.1: it names every server) |
/// | `LB_MAX_CONNECTIONS_PER_SOURCE` | `10000` | connections one client address holds at once on the traffic port (more are closed by HAProxy) |
/// | `LB_MAX_NEW_CONNECTIONS_PER_SOURCE` | `10000` | new connections one client address opens per 10 s (more are closed by HAProxy) |
/// | `UP_REDIS_PORT` | `6379` | the loopback port of the redis-server `up` starts (unless `REDIS_URL` is set) |
///
/// Setting `REDIS_URL` uses that Redis instead of starting one; setting `HAPROXY_RUNTIME_API`
/// uses that HAProxy instead of starting one.
public struct LocalStackSettings: Sendable, EnvironmentSettings {
    /// Where HAProxy takes traffic.
    public var lbHost = "127.0.0.1"
    /// HAProxy's traffic port.
    public var lbPort = 8000
    /// HAProxy's stats port.
    public var statsPort = 8404
    /// What one client address may do on the traffic port.
    public var sourceLimits = HAProxySourceLimits()
    /// The port of the redis-server `up` starts.
    public var redisPort = 6379
    /// Start redis-server (false when `REDIS_URL` names one).
    public var startsRedis = true
    /// Start HAProxy (false when `HAPROXY_RUNTIME_API` names one).
    public var startsHAProxy = true

    /// The defaults.
    public init() {}

    /// Reads the settings; problems are reported on `reader`, each naming its variable.
    public static func read(from reader: inout EnvironmentReader) -> LocalStackSettings {
        var settings = LocalStackSettings()
        settings.lbHost = reader.string("LB_HOST", default: settings.lbHost, rule: SettingRule.hostProblem)
        settings.lbPort = reader.int("LB_PORT", default: settings.lbPort, in: 1...65535)
        settings.statsPort = reader.int("LB_STATS_PORT", default: settings.statsPort, in: 1...65535)
        settings.sourceLimits.maxConnections = reader.int(HAProxySourceLimits.maxConnectionsVariable,
                                                          default: settings.sourceLimits.maxConnections, in: 1...10_000_000)
        settings.sourceLimits.maxNewConnections = reader.int(HAProxySourceLimits.maxNewConnectionsVariable,
                                                             default: settings.sourceLimits.maxNewConnections, in: 1...10_000_000)
        settings.redisPort = reader.int("UP_REDIS_PORT", default: settings.redisPort, in: 1...65535)
        settings.startsRedis = !reader.isSet(secret: "REDIS_URL")
        settings.startsHAProxy = reader.raw("HAPROXY_RUNTIME_API") == nil
        return settings
    }
}
