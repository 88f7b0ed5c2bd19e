import Foundation
import WSScaleBackends
import WSScaleCore
import WSScaleCurlHTTP

/// Which runtime the balancer starts servers on.
public enum BackendKind: String, Sendable, CaseIterable {
    /// Child processes on this machine (the embedded default).
    case process
    /// Containers through the Docker Engine API.
    case docker
    /// Containers through Podman's libpod API.
    case podman
    /// Instances of a template unit through systemd's D-Bus Manager API.
    case systemd
    /// Services of a Docker Swarm (one service with one task per server), through a
    /// manager's Engine API.
    case swarm
}

/// Where the balancer finds its parts, read from the environment.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `WSSCALE_BACKEND` | `process` | `process`, `docker`, `podman`, `systemd` or `swarm` (the `--backend` flag wins) |
/// | `BALANCER_HOST` | `127.0.0.1` | address of the HTTP API |
/// | `BALANCER_PORT` | `8488` | port of the HTTP API |
/// | `REDIS_URL` | `redis://127.0.0.1:6379/0` | the session registry, as the balancer reaches it; `redis+sentinel://[[user]:password@]host[:port],…/master[/db]` follows the master a group of Redis Sentinels names (`RedisURL`) |
/// | `SERVER_REDIS_URL` | `REDIS_URL` | the registry as the servers reach it (differs inside containers); when `REDIS_URL` names a user, its user and password are replaced by each server's own (`RedisServerUser`) |
/// | `REDIS_URL_FILE`, `SERVER_REDIS_URL_FILE` | none | read those URLs (they may hold passwords) from files instead |
/// | `REDIS_KEY_PREFIX` | `wsscale` | key prefix, so two pools can share one Redis (1–64 of `[A-Za-z0-9._:-]`) |
/// | `LEASE_SECONDS` | `5` | how long a server's records outlive it when it dies |
/// | `HAPROXY_RUNTIME_API` | `unix:///run/wsscale/haproxy.sock` | HAProxy's runtime API (`unix://path` or `tcp://host:port`); several HAProxy instances in front of one pool: their APIs separated by commas, kept identical (`ProxyFleet`); a host name stands for every address it resolves to at each wake (`HAProxyRuntimeMembers`) |
/// | `HAPROXY_BACKEND` | `wsscale_servers` | the `leastconn` backend holding the dynamic servers (1–64 of `[A-Za-z0-9._:-]`) |
/// | `WSSCALE_STATE_DIR` | `.wsscale` | pid files and logs of the process backend (no whitespace, control characters or `; # " ' \ $`) |
/// | `WSSCALE_POOL` | `wsscale` | the pool's name (labels, pid-file folder; 1–64 of `[A-Za-z0-9._-]`) |
/// | `LAUNCH_TIMEOUT_SECONDS` | `30` | how long a new server may take to answer `/health` |
/// | `STOP_GRACE_SECONDS` | `10` | time between SIGTERM and SIGKILL when a server is removed |
/// | `BALANCER_ID` | the host name | this balancer's name among the balancers of the pool (leadership, logs, `/api/topology`; 1–64 of `[A-Za-z0-9._@-]`) |
/// | `LEADER_LEASE_SECONDS` | `6` | the leadership lease: a standby takes over within this long of the leader's death (1–300) |
/// | `BALANCER_STALL_SECONDS` | `15` | how long the loop may go without reading the pool whole (Redis, HAProxy, the backend) before `/health` answers 503; a reading slower than this is not decided on |
/// | `WSSCALE_ADMIN_TOKEN` (or `WSSCALE_ADMIN_TOKEN_FILE`) | none | the admin credential, handed to every server it launches (their drop and session lists ask for it) |
/// | `HTTP_REQUEST_TIMEOUT_SECONDS`, `MAX_HTTP_CONNECTIONS` | `10`, `1024` | the API listener's bounds (`HTTPListenerLimits`), handed to every server it launches |
/// | `WSSCALE_APP_COMMAND`, `APP_UPSTREAM_URL`, `APP_*` | none | the team's app behind every server (`AppUpstream`, `AppLaunchSettings`), handed to every server it launches |
/// | `WSSCALE_APP_ENV` | none | more variables of the balancer's environment every server (and so its app) gets, comma-separated names (`CHAT_REDIS_URL`) |
public struct BalancerSettings: Sendable, EnvironmentSettings {
    /// The runtime servers run on.
    public var backend: BackendKind = .process
    /// Address of the HTTP API.
    public var apiHost = "127.0.0.1"
    /// Port of the HTTP API.
    public var apiPort = 8488
    /// The registry as the balancer reaches it.
    public var redisURL = RedisURL(host: "127.0.0.1", port: 6379)
    /// The registry as the servers reach it.
    public var serverRedisURL: String?
    /// Key prefix in Redis.
    public var keyPrefix = "wsscale"
    /// A server's lease in the registry.
    public var lease: Duration = .seconds(5)
    /// The runtime APIs of the HAProxy instances in front of the pool (one or more).
    public var haproxyRuntimes: [ServiceAddress] = [.unixSocket(path: "/run/wsscale/haproxy.sock")]
    /// The HAProxy backend of the pool.
    public var haproxyBackend = "wsscale_servers"
    /// The process backend's state directory.
    public var stateDirectory = ".wsscale"
    /// The pool's name.
    public var pool = "wsscale"
    /// How long a launch may take.
    public var launchTimeout: Duration = .seconds(30)
    /// Grace between SIGTERM and SIGKILL.
    public var stopGrace: Duration = .seconds(10)
    /// This balancer's name among the balancers of the pool.
    public var balancerID = BalancerSettings.defaultBalancerID
    /// The leadership lease.
    public var leaderLease: Duration = .seconds(6)
    /// How long the loop may go without reading the pool whole.
    public var stallLimit: Duration = .seconds(15)
    /// The admin credential the servers get.
    public var adminToken: AdminToken?
    /// The bounds of the API's listener, which the servers get too.
    public var httpLimits = HTTPListenerLimits()
    /// The team's app behind every server: `WSSCALE_APP_COMMAND`, the `APP_*` settings and the
    /// variables `WSSCALE_APP_ENV` names, as set here, handed to every server on every backend.
    public var appEnvironment: [String: String] = [:]

    /// The front-door and app settings a balancer hands on to its servers when they are set.
    public static let appSettingNames = ["WSSCALE_APP_COMMAND", "APP_UPSTREAM_URL", "APP_FORWARD_HEADERS",
                                         "APP_CONNECT_TIMEOUT_SECONDS", "APP_HEALTH_CHECK", "APP_START_TIMEOUT_SECONDS",
                                         "APP_STOP_GRACE_SECONDS"]

    /// The defaults.
    public init() {}

    /// The host name, cut to what `BALANCER_ID` allows (`balancer` when nothing is left).
    public static var defaultBalancerID: String {
        let name = String(ProcessInfo.processInfo.hostName.unicodeScalars
            .filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._@-".unicodeScalars.contains($0)) }
            .prefix(64).map(Character.init))
        return SettingRule.balancerIDProblem(name) == nil ? name : "balancer"
    }

    /// Reads the settings; problems are reported on `reader`, each naming its variable.
    public static func read(from reader: inout EnvironmentReader) -> BalancerSettings {
        var settings = BalancerSettings()
        settings.backend = reader.choice("WSSCALE_BACKEND", default: BackendKind.process)
        settings.apiHost = reader.string("BALANCER_HOST", default: settings.apiHost, rule: SettingRule.hostProblem)
        settings.apiPort = reader.int("BALANCER_PORT", default: settings.apiPort, in: 1...65535)
        if let text = reader.secret("REDIS_URL") {
            do { settings.redisURL = try RedisURL(parsing: text, variable: "REDIS_URL") } catch let error as ConfigurationError {
                error.issues.forEach { reader.report($0.variable, $0.message) }
            } catch { reader.report("REDIS_URL", "\(error)") }
        }
        if let text = reader.secret("SERVER_REDIS_URL") {
            do { _ = try RedisURL(parsing: text, variable: "SERVER_REDIS_URL"); settings.serverRedisURL = text } catch let error as ConfigurationError {
                error.issues.forEach { reader.report($0.variable, $0.message) }
            } catch { reader.report("SERVER_REDIS_URL", "\(error)") }
        }
        settings.keyPrefix = reader.string("REDIS_KEY_PREFIX", default: settings.keyPrefix, rule: SettingRule.redisKeyPrefixProblem)
        settings.lease = reader.seconds("LEASE_SECONDS", default: settings.lease, in: 0.2...3600)
        if let text = reader.raw("HAPROXY_RUNTIME_API") {
            var addresses: [ServiceAddress] = []
            for item in text.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
                do {
                    addresses.append(try ServiceAddress(parsing: item, variable: "HAPROXY_RUNTIME_API"))
                } catch let error as ServiceAddressError {
                    reader.report("HAPROXY_RUNTIME_API", "\(error.value): \(error.reason)")
                } catch { reader.report("HAPROXY_RUNTIME_API", "\(error)") }
            }
            if Set(addresses).count != addresses.count {
                reader.report("HAPROXY_RUNTIME_API", "names one HAProxy twice (\(text))")
            }
            if !addresses.isEmpty { settings.haproxyRuntimes = addresses }
        }
        settings.haproxyBackend = reader.string("HAPROXY_BACKEND", default: settings.haproxyBackend, rule: SettingRule.haproxyNameProblem)
        settings.stateDirectory = reader.string("WSSCALE_STATE_DIR", default: settings.stateDirectory, rule: SettingRule.stateDirectoryProblem)
        settings.pool = reader.string("WSSCALE_POOL", default: settings.pool, rule: SettingRule.poolProblem)
        settings.launchTimeout = reader.seconds("LAUNCH_TIMEOUT_SECONDS", default: settings.launchTimeout, in: 0.5...3600)
        settings.stopGrace = reader.seconds("STOP_GRACE_SECONDS", default: settings.stopGrace, in: 0...3600)
        settings.stallLimit = reader.seconds("BALANCER_STALL_SECONDS", default: settings.stallLimit, in: 2...3600)
        settings.balancerID = reader.string("BALANCER_ID", default: settings.balancerID, rule: SettingRule.balancerIDProblem)
        settings.leaderLease = reader.seconds("LEADER_LEASE_SECONDS", default: settings.leaderLease, in: 1...300)
        settings.adminToken = AdminToken.read(from: &reader)
        settings.httpLimits = HTTPListenerLimits.read(from: &reader)
        settings.appEnvironment = readAppEnvironment(from: &reader)
        return settings
    }

    /// The app's settings, checked here as the server will check them (so a bad one stops the
    /// balancer, not every launch), and the variables `WSSCALE_APP_ENV` names.
    static func readAppEnvironment(from reader: inout EnvironmentReader) -> [String: String] {
        var environment: [String: String] = [:]
        for name in appSettingNames {
            if let value = reader.raw(name), !value.isEmpty { environment[name] = value }
        }
        let upstream = AppUpstream.read(from: &reader)
        let launch = AppLaunchSettings.read(from: &reader)
        if launch.shellCommand != nil, upstream == nil, environment["APP_UPSTREAM_URL"] == nil {
            reader.report("APP_UPSTREAM_URL", "must say where the app takes sessions, such as ws://127.0.0.1:{port}/ws/{userId}, when WSSCALE_APP_COMMAND is set")
        }
        let reserved: Set<String> = ["SERVER_ID", "SERVER_HOST", "SERVER_PORT", "REDIS_URL", "REDIS_KEY_PREFIX",
                                     "WSSCALE_ADMIN_TOKEN", "WSSCALE_POOL", "PORT"]
        for name in (reader.raw("WSSCALE_APP_ENV") ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) })
        where !name.isEmpty {
            let valid = name.first.map { $0 == "_" || $0.isLetter } == true
                && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            guard valid, !reserved.contains(name) else {
                reader.report("WSSCALE_APP_ENV", "\"\(SettingRule.escaped(name))\" is not a variable the app may be given (a name of letters, digits and _, none the server sets itself)")
                continue
            }
            if let value = reader.raw(name) { environment[name] = value }
        }
        return environment
    }

    /// The environment every launched server gets: how to reach the registry, the knobs it
    /// enforces itself, and the admin token (when one is configured).
    public func serverEnvironment(scaling: ScalingConfiguration) -> [String: String] {
        var environment = [
            "REDIS_URL": serverRedisURL ?? redisURL.connectionString,
            "REDIS_KEY_PREFIX": keyPrefix,
            "LEASE_SECONDS": lease.secondsText,
            "MAX_CONNECTIONS_PER_HOST": "\(scaling.maxConnectionsPerHost)",
            "SHUTDOWN_GRACE_SECONDS": stopGrace.secondsText,
            "HTTP_REQUEST_TIMEOUT_SECONDS": httpLimits.requestTimeout.secondsText,
            "MAX_HTTP_CONNECTIONS": "\(httpLimits.maxConnections)",
        ]
        if let adminToken { environment["WSSCALE_ADMIN_TOKEN"] = adminToken.value }
        environment.merge(appEnvironment) { own, _ in own }
        return environment
    }

}
