import ArgumentParser
import ServiceLifecycle
import WSScaleCore
import WSScaleDashboard

/// `wsscale dashboard`: the web page over the balancer and the client simulator (port 8489).
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve the dashboard: servers, their users, decisions; connect and disconnect users.",
        discussion: """
        GET / is the page, GET /api/state what it shows, POST /api/connect {"count": N, "prefix": "user"} \
        and POST /api/disconnect {"userIds": [...]} drive the client simulator, GET /health. \
        Environment (also read from ./.env): DASHBOARD_HOST (default 127.0.0.1), DASHBOARD_PORT (8489), \
        DASHBOARD_BALANCER_URL (http://127.0.0.1:8488), DASHBOARD_CLIENT_URL (http://127.0.0.1:8089).
        """
    )

    func run() async throws {
        var reader = try CommandEnvironment.reader(command: "dashboard")
        let settings = DashboardSettings.read(from: &reader)
        let logLevel = LogLevelSetting.read(from: &reader)
        try CommandEnvironment.finish(reader, command: "dashboard")
        let logger = CommandEnvironment.logger(label: "wsscale.dashboard", level: logLevel)
        let application = DashboardAPI(settings: settings, logger: logger)
            .makeApplication(host: settings.host, port: settings.port, limits: settings.httpLimits, logger: logger)
        logger.info("dashboard starting", metadata: [
            "listen": "\(settings.host):\(settings.port)", "balancer": "\(settings.balancerAddress)",
            "client": "\(settings.clientAddress)"])
        let group = ServiceGroup(configuration: .init(
            services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
