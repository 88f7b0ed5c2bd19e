import WSScaleCore

/// What the systemd backend starts and how it reaches systemd.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `WSSCALE_SYSTEMD_UNIT` | `wsscale-server@` | the template's prefix; instances are `<prefix><pool>:<id>.service` |
/// | `WSSCALE_SYSTEMD_ENV_DIR` | `/run/wsscale` | where the per-instance environment files go (the template reads `%i.env` there) |
/// | `WSSCALE_SYSTEMD_BUS` | (empty: the system bus) | a D-Bus address such as `unix:path=/run/dbus/system_bus_socket` |
/// | `WSSCALE_SYSTEMD_SERVER_HOST` | `127.0.0.1` | the address servers bind (`SERVER_HOST`) and the proxy reaches |
/// | `WSSCALE_POOL` | `wsscale` | the pool's name |
public struct SystemdDriverConfiguration: Sendable, Equatable, EnvironmentSettings {
    /// The template's prefix, up to and including `@`.
    public var unitPrefix: String
    /// The pool; its units are `<unitPrefix><pool>:<id>.service`.
    public var pool: String
    /// Where the per-instance environment files go.
    public var environmentDirectory: String
    /// The D-Bus address of systemd's bus; `nil` is the system bus.
    public var busAddress: String?
    /// The address servers bind and the proxy reaches.
    public var serverHost: String
    /// Environment every instance gets, beneath the launch request's own.
    public var environment: [String: String]
    /// How long one D-Bus call may take.
    public var callTimeout: Duration
    /// How long `stop` waits for the unit to end after SIGKILL.
    public var killTimeout: Duration
    /// How long adoption waits for a running unit's server to answer `/health`.
    public var adoptionProbeTimeout: Duration

    /// Creates a configuration.
    /// - Parameters:
    ///   - unitPrefix: the template's prefix (`wsscale-server@`).
    ///   - pool: the pool's name (letters, digits, `.`, `_`, `-`).
    ///   - environmentDirectory: where the environment files go.
    ///   - busAddress: a D-Bus address, or `nil` for the system bus.
    ///   - serverHost: what the servers bind.
    ///   - environment: extra environment for every instance.
    public init(unitPrefix: String = "wsscale-server@", pool: String = "wsscale",
                environmentDirectory: String = "/run/wsscale", busAddress: String? = nil,
                serverHost: String = "127.0.0.1", environment: [String: String] = [:],
                callTimeout: Duration = .seconds(10), killTimeout: Duration = .seconds(10),
                adoptionProbeTimeout: Duration = .seconds(1)) {
        self.unitPrefix = unitPrefix
        self.pool = pool
        self.environmentDirectory = environmentDirectory
        self.busAddress = busAddress
        self.serverHost = serverHost
        self.environment = environment
        self.callTimeout = callTimeout
        self.killTimeout = killTimeout
        self.adoptionProbeTimeout = adoptionProbeTimeout
    }

    /// How this pool's units are named.
    public var unitNames: SystemdUnitName {
        SystemdUnitName(prefix: unitPrefix, pool: pool)
    }

    /// The problems of this configuration, each naming its variable.
    public var issues: [ConfigurationIssue] {
        var issues: [ConfigurationIssue] = []
        if !SystemdUnitName.isValidPrefix(unitPrefix) {
            issues.append(ConfigurationIssue(variable: "WSSCALE_SYSTEMD_UNIT",
                                             message: "must be a template's prefix ending in '@' (letters, digits, ':', '.', '_', '-'), got \"\(unitPrefix)\""))
        }
        if let problem = SettingRule.poolProblem(pool) {
            issues.append(ConfigurationIssue(variable: "WSSCALE_POOL", message: problem))
        }
        if !environmentDirectory.hasPrefix("/") {
            issues.append(ConfigurationIssue(variable: "WSSCALE_SYSTEMD_ENV_DIR",
                                             message: "must be an absolute path, got \"\(environmentDirectory)\""))
        }
        if let busAddress, !busAddress.contains(":") || !busAddress.contains("=") {
            issues.append(ConfigurationIssue(variable: "WSSCALE_SYSTEMD_BUS",
                                             message: "must be a D-Bus address such as unix:path=/run/dbus/system_bus_socket, got \"\(busAddress)\""))
        }
        if let problem = SettingRule.hostProblem(serverHost) {
            issues.append(ConfigurationIssue(variable: "WSSCALE_SYSTEMD_SERVER_HOST", message: problem))
        }
        return issues
    }

    /// Throws `ConfigurationError` listing the problems, if any.
    public func validate() throws {
        let issues = self.issues
        if !issues.isEmpty { throw ConfigurationError(issues: issues) }
    }

    /// Reads the configuration; problems are reported on `reader`, each naming its variable.
    /// - Parameter reader: the environment (`WSSCALE_SYSTEMD_*`, `WSSCALE_POOL`).
    public static func read(from reader: inout EnvironmentReader) -> SystemdDriverConfiguration {
        var configuration = SystemdDriverConfiguration()
        configuration.unitPrefix = reader.string("WSSCALE_SYSTEMD_UNIT", default: configuration.unitPrefix)
        configuration.pool = reader.string("WSSCALE_POOL", default: configuration.pool)
        configuration.environmentDirectory = reader.string("WSSCALE_SYSTEMD_ENV_DIR", default: configuration.environmentDirectory)
        configuration.busAddress = reader.raw("WSSCALE_SYSTEMD_BUS")
        configuration.serverHost = reader.string("WSSCALE_SYSTEMD_SERVER_HOST", default: configuration.serverHost)
        for issue in configuration.issues {
            reader.report(issue.variable, issue.message)
        }
        return configuration
    }
}
