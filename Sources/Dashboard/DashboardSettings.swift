import WSScaleCore
import WSScaleCurlHTTP

/// Where the dashboard listens and where it finds the APIs it shows, read from the environment.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `DASHBOARD_HOST` | `127.0.0.1` | address of the web page and its API |
/// | `DASHBOARD_PORT` | `8489` | port of the web page and its API |
/// | `DASHBOARD_BALANCER_URL` | `http://127.0.0.1:8488` | the balancer's HTTP API (`/api/topology`) |
/// | `DASHBOARD_CLIENT_URL` | `http://127.0.0.1:8089` | the client simulator's HTTP API (`/route/...`) |
/// | `WSSCALE_ADMIN_TOKEN` (or `WSSCALE_ADMIN_TOKEN_FILE`) | none | the admin credential: asked of the page's API calls, sent to the client simulator |
/// | `HTTP_REQUEST_TIMEOUT_SECONDS`, `MAX_HTTP_CONNECTIONS` | `10`, `1024` | the listener's bounds (`HTTPListenerLimits`) |
public struct DashboardSettings: Sendable, Equatable {
    /// Address the page listens on.
    public var host = "127.0.0.1"
    /// Port the page listens on.
    public var port = 8489
    /// The balancer's HTTP API.
    public var balancerAddress: ServiceAddress = .tcp(host: "127.0.0.1", port: 8488)
    /// The client simulator's HTTP API.
    public var clientAddress: ServiceAddress = .tcp(host: "127.0.0.1", port: 8089)
    /// Limit for one call to the balancer or the client simulator.
    public var upstreamTimeout: Duration = .seconds(2)
    /// The admin credential: the page's API asks for it, and it goes to the client simulator.
    public var adminToken: AdminToken?
    /// The bounds of the page's listener.
    public var httpLimits = HTTPListenerLimits()

    /// The defaults.
    public init() {}

    /// Reads the settings; problems are reported on `reader`, each naming its variable.
    /// - Parameters:
    ///   - reader: the environment (and `.env`).
    ///   - defaults: the values of unset variables (`wsscale up` points them at what it starts).
    public static func read(from reader: inout EnvironmentReader, defaults: DashboardSettings = DashboardSettings()) -> DashboardSettings {
        var settings = defaults
        settings.host = reader.string("DASHBOARD_HOST", default: defaults.host, rule: SettingRule.hostProblem)
        settings.port = reader.int("DASHBOARD_PORT", default: defaults.port, in: 1...65535)
        settings.balancerAddress = address("DASHBOARD_BALANCER_URL", default: defaults.balancerAddress, from: &reader)
        settings.clientAddress = address("DASHBOARD_CLIENT_URL", default: defaults.clientAddress, from: &reader)
        settings.adminToken = AdminToken.read(from: &reader) ?? defaults.adminToken
        settings.httpLimits = HTTPListenerLimits.read(from: &reader)
        return settings
    }

    private static func address(_ variable: String, default defaultValue: ServiceAddress,
                                from reader: inout EnvironmentReader) -> ServiceAddress {
        guard let text = reader.raw(variable) else { return defaultValue }
        do {
            return try ServiceAddress(parsing: text, variable: variable)
        } catch let error as ServiceAddressError {
            reader.report(variable, "\(error.value): \(error.reason)")
        } catch {
            reader.report(variable, "\(error)")
        }
        return defaultValue
    }
}
