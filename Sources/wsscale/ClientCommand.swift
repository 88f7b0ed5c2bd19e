import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import WSScaleClient
import WSScaleCore

/// `wsscale client`: the client simulator (simulated users behind an HTTP API, port 8089).
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Run the client simulator: users that connect through the proxy and reconnect with backoff.",
        discussion: """
        HTTP API: POST /route/kickstart/ws/batch/connect and .../disconnect with {"userIds": [...]}, \
        GET /route/status, GET /health. Environment: CLIENT_HOST, CLIENT_PORT, CLIENT_TARGET_URL, \
        CLIENT_BACKOFF_BASE_MS, CLIENT_BACKOFF_CAP_MS, CLIENT_BACKOFF_MAX_ATTEMPTS, \
        CLIENT_CONNECT_CONCURRENCY, CLIENT_CONNECT_TIMEOUT_MS (also read from ./.env).
        """
    )

    @Option(help: "Port of the HTTP API (overrides CLIENT_PORT; 0 picks a free port).")
    var port: Int?

    @Option(help: "Address the HTTP API listens on (overrides CLIENT_HOST).")
    var host: String?

    @Option(help: "Proxy users connect through, ws://HOST:PORT (overrides CLIENT_TARGET_URL).")
    var target: String?

    func run() async throws {
        let configuration: ClientConfiguration
        do {
            configuration = try effectiveConfiguration()
        } catch let error as ConfigurationError {
            CommandEnvironment.report(error, command: "client")
            throw CommandEnvironment.invalidConfiguration
        }
        let logger = CommandEnvironment.logger(label: "wsscale.client", level: configuration.logLevel)
        let simulator = ClientSimulator(configuration: configuration, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [simulator], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The environment (and `.env`) with the command-line flags on top.
    private func effectiveConfiguration() throws -> ClientConfiguration {
        var environment = ProcessInfo.processInfo.environment
        var fromFlags: [String: String] = [:]
        if let port { fromFlags["CLIENT_PORT"] = String(port) }
        if let host { fromFlags["CLIENT_HOST"] = host }
        if let target { fromFlags["CLIENT_TARGET_URL"] = target }
        environment.merge(fromFlags) { _, flag in flag }
        let dotEnv = try CommandEnvironment.dotEnv(command: "client")
        do {
            return try ClientConfiguration.read(environment: environment, dotEnv: dotEnv)
        } catch let error as ConfigurationError {
            // Name the flag when the bad value came from one.
            let flagNames = ["CLIENT_PORT": "--port", "CLIENT_HOST": "--host", "CLIENT_TARGET_URL": "--target"]
            throw ConfigurationError(issues: error.issues.map { issue in
                guard fromFlags[issue.variable] != nil, let flag = flagNames[issue.variable] else { return issue }
                return ConfigurationIssue(variable: "\(flag) (\(issue.variable))", message: issue.message)
            })
        }
    }
}
