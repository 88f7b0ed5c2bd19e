import Foundation
import Logging
import WSScaleCore

/// Settings of one `wsscale server`, read from the environment (and a `.env` file underneath).
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `SERVER_ID` | random `ws-xxxxxx` | this server's identity in the registry (1-64 of `[A-Za-z0-9._@-]`) |
/// | `SERVER_HOST` | `127.0.0.1` | listen address (loopback unless set: HAProxy reaches it there) |
/// | `SERVER_PORT` | `8088` | listen port (0: any free port) |
/// | `MAX_CONNECTIONS_PER_HOST` | `30` | hard limit; the session over it is closed at once with 1013 |
/// | `SHUTDOWN_GRACE_SECONDS` | `10` | time from SIGTERM to exit |
/// | `REDIS_URL` | `redis://127.0.0.1:6379/0` | the session registry (`redis+sentinel://sentinel,…/master`: the master a group of Redis Sentinels names, followed through failovers; `memory://`: a registry local to this process) |
/// | `REDIS_KEY_PREFIX` | `wsscale` | prefix of the registry's keys |
/// | `LEASE_SECONDS` | `5` | this host's lease in the registry |
/// | `WSSCALE_ADMIN_TOKEN` (or `WSSCALE_ADMIN_TOKEN_FILE`) | none | the admin credential `GET /ws-session/all[/runtime]` and `POST /ws-session/{hostId}/drop` ask for; unset, they answer 403 |
/// | `MAX_MESSAGE_BYTES` | `65536` | largest WebSocket message accepted, all its fragments together (125 B – 1 GiB); 1009 above |
/// | `PING_INTERVAL_SECONDS` | `30` | a session with no message for this long is pinged (again each interval while it stays silent) |
/// | `IDLE_TIMEOUT_SECONDS` | `75` | a session not heard from at all (not even a pong) for this long is closed (1001) and leaves the registry; more than `PING_INTERVAL_SECONDS` |
/// | `HTTP_REQUEST_TIMEOUT_SECONDS` | `10` | a connection that has not sent a whole HTTP request (an upgrade, or a REST call) within this time, from its connect or its last answer, is closed |
/// | `MAX_HTTP_CONNECTIONS` | `1024` | connections held at once before their upgrade (and REST calls); a new one over the bound closes the oldest. Sessions are bounded by `MAX_CONNECTIONS_PER_HOST` |
/// | `APP_UPSTREAM_URL`, `APP_FORWARD_HEADERS`, `APP_CONNECT_TIMEOUT_SECONDS` | none | the front door: each session is relayed to the team's own app (`AppUpstream`) instead of echoed |
/// | `LOG_LEVEL` | `info` | `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical` (`LogLevelSetting`) |
public struct ServerConfiguration: Sendable, Equatable, EnvironmentSettings {
    /// This server's identity (`hostId` in the registry, `X-WSScale-Host` on each upgrade).
    public var serverId: InstanceID
    /// Address to listen on.
    public var host: String
    /// Port to listen on (0 picks a free one).
    public var port: Int
    /// Hard limit of live sessions; one more is accepted and closed at once with 1013.
    public var maxConnectionsPerHost: Int
    /// Time allowed from the shutdown signal to exit.
    public var shutdownGrace: Duration
    /// Address of the session registry (`redis://[user:password@]host:port/db`, or `memory://`).
    public var redisURL: String
    /// Prefix of every registry key, so that pools can share one Redis.
    public var redisKeyPrefix: String
    /// Length of this host's lease in the registry.
    public var lease: Duration
    /// Largest WebSocket message accepted from a client, in bytes, all its fragments together
    /// (a frame is at most this long too). Memory for it is held only while it is in flight.
    public var maxMessageBytes: Int
    /// The admin credential of the session lists and the drop endpoint; `nil` turns them off.
    public var adminToken: AdminToken?
    /// Bytes each connection reads at once (a fixed receive buffer keeps idle connections small).
    public var receiveBufferSize: Int
    /// How long a session may send nothing before the server pings it.
    public var pingInterval: Duration
    /// How long a session may stay unheard (no frame, no pong) before it is closed.
    public var idleTimeout: Duration
    /// The bounds of the HTTP side of the port (before an upgrade, and the REST endpoints).
    public var httpLimits: HTTPListenerLimits
    /// How much the server logs (`LOG_LEVEL`).
    public var logLevel: Logger.Level = .info
    /// The app each session is relayed to (`APP_UPSTREAM_URL`); `nil` echoes. Its port is
    /// known before the server runs (`{port}` resolved by whoever starts the app).
    public var appUpstream: AppUpstream?

    /// `MAX_MESSAGE_BYTES` when it is not set: 64 KiB.
    public static let defaultMaxMessageBytes = 1 << 16
    /// The values `MAX_MESSAGE_BYTES` may take: at least a control frame's 125 bytes, at most 1 GiB.
    public static let maxMessageBytesRange = 125...(1 << 30)

    /// The `REDIS_URL` value that selects the in-process registry.
    public static let inMemoryRegistryURL = "memory://"

    /// Creates a configuration; every parameter has the environment's default.
    public init(serverId: InstanceID = ServerConfiguration.randomServerId(), host: String = "127.0.0.1", port: Int = 8088,
                maxConnectionsPerHost: Int = 30, shutdownGrace: Duration = .seconds(10),
                redisURL: String = "redis://127.0.0.1:6379/0", redisKeyPrefix: String = "wsscale",
                lease: Duration = .seconds(5), maxMessageBytes: Int = ServerConfiguration.defaultMaxMessageBytes, receiveBufferSize: Int = 512,
                adminToken: AdminToken? = nil, pingInterval: Duration = .seconds(30), idleTimeout: Duration = .seconds(75),
                httpLimits: HTTPListenerLimits = HTTPListenerLimits()) {
        self.httpLimits = httpLimits
        self.adminToken = adminToken
        self.pingInterval = pingInterval
        self.idleTimeout = idleTimeout
        self.serverId = serverId
        self.host = host
        self.port = port
        self.maxConnectionsPerHost = maxConnectionsPerHost
        self.shutdownGrace = shutdownGrace
        self.redisURL = redisURL
        self.redisKeyPrefix = redisKeyPrefix
        self.lease = lease
        self.maxMessageBytes = maxMessageBytes
        self.receiveBufferSize = receiveBufferSize
    }

    /// Reads the configuration; each bad variable is reported to `reader` with its rule.
    public static func read(from reader: inout EnvironmentReader) -> ServerConfiguration {
        let serverId = reader.string("SERVER_ID", default: randomServerId())
        if let problem = IdentifierRule.serverId.problem(with: serverId) { reader.report("SERVER_ID", problem) }
        let host = reader.string("SERVER_HOST", default: "127.0.0.1", rule: SettingRule.hostProblem)
        let port = reader.int("SERVER_PORT", default: 8088, in: 0...65535)
        let maxConnections = reader.int("MAX_CONNECTIONS_PER_HOST", default: 30, in: 1...1_000_000)
        let grace = reader.seconds("SHUTDOWN_GRACE_SECONDS", default: .seconds(10), in: 1...3600)
        let redisURL = reader.secret("REDIS_URL") ?? "redis://127.0.0.1:6379/0"
        if let problem = registryURLProblem(redisURL) { reader.report("REDIS_URL", problem) }
        let prefix = reader.string("REDIS_KEY_PREFIX", default: "wsscale", rule: SettingRule.redisKeyPrefixProblem)
        let lease = reader.seconds("LEASE_SECONDS", default: .seconds(5), in: 1...3600)
        let maxMessageBytes = reader.int("MAX_MESSAGE_BYTES", default: defaultMaxMessageBytes, in: maxMessageBytesRange)
        let adminToken = AdminToken.read(from: &reader)
        let pingInterval = reader.seconds("PING_INTERVAL_SECONDS", default: .seconds(30), in: 0.1...3600)
        let idleTimeout = reader.seconds("IDLE_TIMEOUT_SECONDS", default: .seconds(75), in: 0.2...86400)
        if idleTimeout <= pingInterval {
            reader.report("IDLE_TIMEOUT_SECONDS", "must be longer than PING_INTERVAL_SECONDS (\(pingInterval)), got \(idleTimeout)")
        }
        let httpLimits = HTTPListenerLimits.read(from: &reader)
        let logLevel = LogLevelSetting.read(from: &reader)
        let appUpstream = AppUpstream.read(from: &reader)
        var configuration = ServerConfiguration(serverId: serverId, host: host, port: port, maxConnectionsPerHost: maxConnections,
                                   shutdownGrace: grace, redisURL: redisURL, redisKeyPrefix: prefix, lease: lease,
                                   maxMessageBytes: maxMessageBytes, adminToken: adminToken,
                                   pingInterval: pingInterval, idleTimeout: idleTimeout, httpLimits: httpLimits)
        configuration.logLevel = logLevel
        configuration.appUpstream = appUpstream
        return configuration
    }

    /// A fresh random server id such as `ws-k3x9a2`.
    public static func randomServerId() -> InstanceID {
        "ws-" + RandomToken.make(length: 6)
    }

    /// Why a registry address cannot be used, or `nil` when its form is right
    /// (the Redis store checks the rest when it connects).
    static func registryURLProblem(_ url: String) -> String? {
        if url == inMemoryRegistryURL { return nil }
        if url.lowercased().hasPrefix("rediss://") { return RedisSchemeRule.tlsProblem }
        for scheme in ["redis://", "redis+sentinel://"] where url.lowercased().hasPrefix(scheme) {
            return url.count > scheme.count ? nil : "must name a host after \(scheme), got \"\(url)\""
        }
        return "must start with redis:// or redis+sentinel:// or be \(inMemoryRegistryURL), got \"\(RedisSchemeRule.shownWithoutCredentials(url))\""
    }
}

/// Short random tokens of lowercase letters and digits.
enum RandomToken {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")

    /// A token of `length` characters.
    static func make(length: Int) -> String {
        String((0..<length).map { _ in alphabet.randomElement()! })
    }
}
