import Foundation
import Logging
import WSScaleCore

/// The client simulator's settings.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `CLIENT_HOST` | `127.0.0.1` | address the HTTP API listens on |
/// | `CLIENT_PORT` | `8089` | port of the HTTP API (0 picks a free one) |
/// | `CLIENT_TARGET_URL` | `ws://127.0.0.1:8000` | the proxy users connect through |
/// | `CLIENT_BACKOFF_BASE_MS` | `100` | ceiling of the first retry's delay |
/// | `CLIENT_BACKOFF_CAP_MS` | `5000` | largest ceiling of any retry's delay |
/// | `CLIENT_BACKOFF_MAX_ATTEMPTS` | `0` | retries per series before giving up; 0 = never give up |
/// | `CLIENT_CONNECT_CONCURRENCY` | `64` | connection attempts in flight at once |
/// | `CLIENT_MAX_USERS` | `100000` | users held at most (connected, trying, or disconnected with their status); disconnected users are forgotten to make room, and a batch that still does not fit is refused with 409 |
/// | `CLIENT_CONNECT_TIMEOUT_MS` | `5000` | time allowed for TCP connect plus upgrade |
/// | `CLIENT_PING_INTERVAL_SECONDS` | `30` | a user's connection silent this long pings the server; 0: never (and never gives up) |
/// | `CLIENT_SILENCE_TIMEOUT_SECONDS` | `75` | a user's connection silent this long (not even a pong) is given up and the user reconnects: a path through a host that vanished never closes by itself; more than `CLIENT_PING_INTERVAL_SECONDS` |
/// | `WSSCALE_ADMIN_TOKEN` (or `WSSCALE_ADMIN_TOKEN_FILE`) | none | the admin credential the batches and the status ask for; unset, they answer 403 |
/// | `HTTP_REQUEST_TIMEOUT_SECONDS`, `MAX_HTTP_CONNECTIONS` | `10`, `1024` | the HTTP API listener's bounds (`HTTPListenerLimits`) |
/// | `LOG_LEVEL` | `info` | `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical` (`LogLevelSetting`) |
public struct ClientConfiguration: Sendable, Equatable, EnvironmentSettings {
    /// Address the HTTP API listens on.
    public var listenHost: String
    /// Port of the HTTP API; 0 lets the system pick a free one.
    public var port: Int
    /// The proxy users connect through.
    public var target: WebSocketTarget
    /// How users retry after losing their connection.
    public var backoff: BackoffPolicy
    /// How many connection attempts may be in flight at once.
    public var connectConcurrency: Int
    /// Users held at most (`CLIENT_MAX_USERS`).
    public var maxUsers = 100_000
    /// Time allowed for the TCP connect plus the WebSocket upgrade.
    public var connectTimeout: Duration
    /// When a user's connection pings a silent server and gives it up; `nil` for never.
    public var liveness: ConnectionLiveness? = .standard
    /// The admin credential of the API's batches and status; `nil` turns them off.
    public var adminToken: AdminToken?
    /// The bounds of the HTTP API's listener (`HTTP_REQUEST_TIMEOUT_SECONDS`, `MAX_HTTP_CONNECTIONS`).
    public var httpLimits = HTTPListenerLimits()
    /// How much the simulator logs (`LOG_LEVEL`).
    public var logLevel: Logger.Level = .info

    /// Creates a configuration; every parameter has the documented default.
    public init(listenHost: String = "127.0.0.1",
                port: Int = 8089,
                target: WebSocketTarget = WebSocketTarget(host: "127.0.0.1", port: 8000),
                backoff: BackoffPolicy = BackoffPolicy(),
                connectConcurrency: Int = 64,
                connectTimeout: Duration = .seconds(5),
                adminToken: AdminToken? = nil) {
        self.adminToken = adminToken
        self.listenHost = listenHost
        self.port = port
        self.target = target
        self.backoff = backoff
        self.connectConcurrency = connectConcurrency
        self.connectTimeout = connectTimeout
    }

    /// Reads the configuration (`CLIENT_*`, the admin token, the listener's limits, `LOG_LEVEL`);
    /// each bad variable is reported to `reader` with its rule.
    public static func read(from reader: inout EnvironmentReader) -> ClientConfiguration {
        let defaults = ClientConfiguration()
        var configuration = defaults
        configuration.listenHost = reader.string("CLIENT_HOST", default: defaults.listenHost, rule: SettingRule.hostProblem)
        configuration.port = reader.int("CLIENT_PORT", default: defaults.port, in: 0...65535)
        if let url = reader.raw("CLIENT_TARGET_URL") {
            do {
                configuration.target = try WebSocketTarget(url: url)
            } catch {
                reader.report("CLIENT_TARGET_URL", "\(error)")
            }
        }
        let baseMilliseconds = reader.int("CLIENT_BACKOFF_BASE_MS", default: 100, in: 1...3_600_000)
        let capMilliseconds = reader.int("CLIENT_BACKOFF_CAP_MS", default: 5000, in: 1...3_600_000)
        if capMilliseconds < baseMilliseconds {
            reader.report("CLIENT_BACKOFF_CAP_MS", "must be at least CLIENT_BACKOFF_BASE_MS (\(baseMilliseconds)), got \(capMilliseconds)")
        }
        let maxAttempts = reader.int("CLIENT_BACKOFF_MAX_ATTEMPTS", default: 0, in: 0...1_000_000)
        configuration.backoff = BackoffPolicy(base: .milliseconds(baseMilliseconds),
                                              cap: .milliseconds(capMilliseconds),
                                              maxAttempts: maxAttempts == 0 ? nil : maxAttempts)
        configuration.connectConcurrency = reader.int("CLIENT_CONNECT_CONCURRENCY", default: defaults.connectConcurrency,
                                                      in: 1...10_000)
        configuration.maxUsers = reader.int("CLIENT_MAX_USERS", default: defaults.maxUsers, in: 1...10_000_000)
        let timeoutMilliseconds = reader.int("CLIENT_CONNECT_TIMEOUT_MS", default: 5000, in: 1...600_000)
        configuration.connectTimeout = .milliseconds(timeoutMilliseconds)
        let pingInterval = reader.seconds("CLIENT_PING_INTERVAL_SECONDS", default: ConnectionLiveness.standard.pingInterval, in: 0...3600)
        let silenceTimeout = reader.seconds("CLIENT_SILENCE_TIMEOUT_SECONDS", default: ConnectionLiveness.standard.silenceTimeout,
                                            in: 0.2...86400)
        if pingInterval == .zero {
            configuration.liveness = nil
        } else if silenceTimeout <= pingInterval {
            reader.report("CLIENT_SILENCE_TIMEOUT_SECONDS", "must be more than CLIENT_PING_INTERVAL_SECONDS (\(pingInterval)), got \(silenceTimeout)")
        } else {
            configuration.liveness = ConnectionLiveness(pingInterval: pingInterval, silenceTimeout: silenceTimeout)
        }
        configuration.adminToken = AdminToken.read(from: &reader)
        configuration.httpLimits = HTTPListenerLimits.read(from: &reader)
        configuration.logLevel = LogLevelSetting.read(from: &reader)
        return configuration
    }
}
