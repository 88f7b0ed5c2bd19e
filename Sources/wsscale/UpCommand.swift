import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import WSScaleBalancer
import WSScaleClient
import WSScaleCore
import WSScaleDashboard
import WSScaleLocalStack

/// `wsscale up`: the whole system on this machine, with no container runtime: redis-server,
/// HAProxy, the balancer on the process backend with its servers, the client simulator and the
/// dashboard.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run the whole stack on this machine (redis, haproxy, balancer, servers, client simulator, dashboard).",
        discussion: """
        Reads the scaling knobs (CONNECTION_LIMIT_PER_HOST, MAX_UTILIZATION_PERCENT, …) and the \
        addresses (LB_HOST, LB_PORT, LB_STATS_PORT, UP_REDIS_PORT, BALANCER_PORT, CLIENT_PORT, \
        DASHBOARD_HOST, DASHBOARD_PORT, DASHBOARD_BALANCER_URL, DASHBOARD_CLIENT_URL, REDIS_URL, \
        HAPROXY_RUNTIME_API, WSSCALE_STATE_DIR, WSSCALE_ADMIN_TOKEN) from the environment and ./.env. \
        Every listener binds 127.0.0.1 unless its *_HOST says otherwise. Without WSSCALE_ADMIN_TOKEN \
        (or WSSCALE_ADMIN_TOKEN_FILE), the admin token is <state dir>/admin-token (made once, 0600); \
        the redis-server it starts has users of its own (<state dir>/redis/users.acl, 0600). \
        One up runs per WSSCALE_STATE_DIR (a second one exits 2 naming the first one's pid), and \
        a port already taken stops it with exit status 2 before anything starts. \
        Ctrl-C or SIGTERM stops everything it started.
        """
    )

    func run() async throws {
        var reader = try CommandEnvironment.reader(command: "up")
        let generatedToken = try Self.ensureAdminToken(&reader)
        let scaling = ScalingConfiguration.read(from: &reader)
        let settings = BalancerSettings.read(from: &reader)
        let stack = LocalStackSettings.read(from: &reader)
        var clientEnvironment = reader.values
        if clientEnvironment["CLIENT_TARGET_URL"] == nil {
            clientEnvironment["CLIENT_TARGET_URL"] = "ws://127.0.0.1:\(stack.lbPort)"
        }
        var client: ClientConfiguration?
        do {
            client = try ClientConfiguration.read(environment: clientEnvironment)
        } catch let error as ConfigurationError {
            error.issues.forEach { reader.report($0.variable, $0.message) }
        }
        var dashboardDefaults = DashboardSettings()
        dashboardDefaults.balancerAddress = .tcp(host: Self.reachable(settings.apiHost), port: settings.apiPort)
        dashboardDefaults.clientAddress = .tcp(host: Self.reachable(client?.listenHost ?? "0.0.0.0"), port: client?.port ?? 8089)
        let dashboard = DashboardSettings.read(from: &reader, defaults: dashboardDefaults)
        let logLevel = LogLevelSetting.read(from: &reader)
        try CommandEnvironment.finish(reader, command: "up")
        guard let client else { throw CommandEnvironment.invalidConfiguration }
        try CommandEnvironment.refuseProcessBackendUnderSystemd(command: "up", backend: .process)

        let logger = CommandEnvironment.logger(label: "wsscale.up", level: logLevel)
        let local: LocalStack
        do {
            local = try await LocalStack.start(settings: settings, stack: stack, scaling: scaling, listeners: [
                PlannedListener(variable: "CLIENT_PORT", host: client.listenHost, port: client.port),
                PlannedListener(variable: "DASHBOARD_PORT", host: dashboard.host, port: dashboard.port),
            ], logger: logger)
        } catch let refusal as LocalStackRefusal {
            CommandEnvironment.printError("wsscale up: \(refusal)")
            throw CommandEnvironment.invalidConfiguration
        } catch {
            CommandEnvironment.printError("wsscale up: \(error)")
            throw ExitCode(1)
        }
        let simulator = ClientSimulator(configuration: client, logger: logger)
        let dashboardApplication = DashboardAPI(settings: dashboard, logger: logger)
            .makeApplication(host: dashboard.host, port: dashboard.port, limits: dashboard.httpLimits, logger: logger)
        let shown = stack.lbHost == "0.0.0.0" ? "127.0.0.1" : stack.lbHost
        print("redis     \(local.settings.redisURL)\(local.redis.map { " (pid \($0.process.pid))" } ?? " (given)")")
        print("haproxy   ws://\(shown):\(stack.lbPort)/api/v1/websocket/{userId}  stats http://\(shown):\(stack.statsPort)/\(local.haproxy.map { " (pid \($0.process.pid))" } ?? " (given)")")
        print("balancer  http://127.0.0.1:\(local.settings.apiPort)/api/topology  (backend process, \(scaling.minInstances)-\(scaling.maxInstances) servers, state in \(local.settings.stateDirectory))")
        print("client    http://127.0.0.1:\(client.port)/route/status  (users connect through ws://\(client.target.host):\(client.target.port))")
        print("dashboard http://127.0.0.1:\(dashboard.port)/  (it asks for the admin token)")
        if let generatedToken {
            print("admin     token in \(generatedToken.path)\(generatedToken.created ? " (new)" : ""); send Authorization: Bearer $(cat \(generatedToken.path))")
        } else {
            print("admin     token from \(reader.raw("WSSCALE_ADMIN_TOKEN") != nil ? "WSSCALE_ADMIN_TOKEN" : "WSSCALE_ADMIN_TOKEN_FILE")")
        }
        fflush(nil)  // every output stream: `stdout` is a C global that Swift 6 will not read outside an actor
        let announcer = Task {
            if await local.waitUntilActive(count: scaling.minInstances, timeout: .seconds(60)) {
                print("ready     \(scaling.minInstances) server(s) in rotation; Ctrl-C stops everything")
            } else {
                print("not ready: no server came into rotation within 60 s; see \(local.settings.stateDirectory)")
            }
            fflush(nil)  // every output stream: `stdout` is a C global that Swift 6 will not read outside an actor
        }
        defer { announcer.cancel() }
        try await local.run(extraServices: [simulator, dashboardApplication])
    }

    /// With neither `WSSCALE_ADMIN_TOKEN` nor `WSSCALE_ADMIN_TOKEN_FILE` set, points
    /// `WSSCALE_ADMIN_TOKEN_FILE` at `<state dir>/admin-token`, made once (``AdminTokenFile``).
    /// - Returns: that file, or `nil` when the user configured a token.
    private static func ensureAdminToken(_ reader: inout EnvironmentReader) throws -> AdminTokenFile.Outcome? {
        guard reader.raw("WSSCALE_ADMIN_TOKEN") == nil, reader.raw("WSSCALE_ADMIN_TOKEN_FILE") == nil else { return nil }
        let stateDirectory = reader.string("WSSCALE_STATE_DIR", default: BalancerSettings().stateDirectory)
        guard SettingRule.stateDirectoryProblem(stateDirectory) == nil else { return nil } // reported by the settings
        do {
            let outcome = try AdminTokenFile.ensure(in: stateDirectory)
            reader.setIfUnset("WSSCALE_ADMIN_TOKEN_FILE", outcome.path)
            return outcome
        } catch {
            CommandEnvironment.printError("wsscale up: WSSCALE_ADMIN_TOKEN_FILE: \(error)")
            throw CommandEnvironment.invalidConfiguration
        }
    }

    /// Where this machine reaches an API listening on `host`: loopback for a wildcard address.
    private static func reachable(_ host: String) -> String {
        ["0.0.0.0", "::", "[::]", "*"].contains(host) ? "127.0.0.1" : host
    }
}
