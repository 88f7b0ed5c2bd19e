import ArgumentParser
import Foundation
import ServiceLifecycle
import WSScaleBackends
import WSScaleBalancer
import WSScaleCore

/// `wsscale balancer`: scales the pool of WebSocket servers by their connections.
///
/// Its configuration comes from the environment and from `.env` in the working directory
/// (the environment wins). `--check-config` prints the effective configuration and exits.
struct BalancerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "balancer",
        abstract: "Scale the pool of WebSocket servers by their number of connections.",
        discussion: """
        Configuration is read from the environment and from .env in the working directory \
        (the environment wins): \(ScalingConfiguration.Variable.allCases.map(\.rawValue).joined(separator: ", ")); \
        WSSCALE_BACKEND, BALANCER_HOST, BALANCER_PORT, REDIS_URL, SERVER_REDIS_URL, REDIS_KEY_PREFIX, \
        LEASE_SECONDS, HAPROXY_RUNTIME_API, HAPROXY_BACKEND, WSSCALE_STATE_DIR, WSSCALE_POOL, \
        LAUNCH_TIMEOUT_SECONDS, STOP_GRACE_SECONDS; with --backend docker or podman: X_HOST, \
        X_API_VERSION, WSSCALE_X_IMAGE, WSSCALE_X_CONTAINER_PORT, WSSCALE_X_NETWORK, \
        WSSCALE_X_PUBLISH_ADDRESS, WSSCALE_X_STOP_GRACE (X: DOCKER or PODMAN); with --backend \
        systemd: WSSCALE_SYSTEMD_UNIT, WSSCALE_SYSTEMD_ENV_DIR, WSSCALE_SYSTEMD_BUS, WSSCALE_SYSTEMD_SERVER_HOST.
        """
    )

    @Flag(name: .customLong("check-config"),
          help: "Print the effective configuration (NAME=value per line) and exit 0, or the errors and exit 2.")
    var checkConfig = false

    @Option(name: .long, help: "The backend servers run on: process, docker, podman, systemd or swarm (default: WSSCALE_BACKEND or process).")
    var backend: String?

    func run() async throws {
        var reader = try CommandEnvironment.reader(command: "balancer")
        let scaling = ScalingConfiguration.read(from: &reader)
        var settings = BalancerSettings.read(from: &reader)
        if let backend {
            settings.backend = EnvironmentReader.choice(backend, named: "--backend", default: settings.backend, reporting: &reader)
        }
        // The backend's own settings are read here with the others, so a bad one exits 2.
        let driverSettings = DriverSettings.read(for: settings.backend, from: &reader)
        let logLevel = LogLevelSetting.read(from: &reader)
        try CommandEnvironment.finish(reader, command: "balancer")
        if checkConfig {
            for (name, value) in scaling.describe() { print("\(name)=\(value)") }
            print("WSSCALE_BACKEND=\(settings.backend.rawValue)")
            for (name, value) in driverSettings.describe() { print("\(name)=\(value)") }
            print("\(LogLevelSetting.variable)=\(logLevel.rawValue)")
            return
        }
        try CommandEnvironment.refuseProcessBackendUnderSystemd(command: "balancer", backend: settings.backend)
        let logger = CommandEnvironment.logger(label: "wsscale.balancer", level: logLevel)
        let runtime = try BalancerRuntime(settings: settings, scaling: scaling, driverSettings: driverSettings, logger: logger)
        logger.info("balancer starting", metadata: [
            "backend": "\(settings.backend.rawValue)", "api": "\(settings.apiHost):\(settings.apiPort)",
            "redis": "\(settings.redisURL)", "haproxy": "\(settings.haproxyRuntimes.map(\.description).joined(separator: ","))"])
        let group = ServiceGroup(configuration: .init(
            services: runtime.services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}
