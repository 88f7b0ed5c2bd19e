import Foundation
import Logging
import ServiceLifecycle
import WSScaleBackends
import WSScaleCore

/// The whole system on one machine, as `wsscale up` runs it: redis-server and HAProxy as child
/// processes on loopback (unless given), the balancer on the process backend, and any extra
/// services (the client simulator). Stopping it stops everything it started, servers included.
public final class LocalStack: Sendable {
    /// The balancer and its parts.
    public let runtime: BalancerRuntime
    /// The balancer's settings as completed by the stack (Redis and HAProxy addresses).
    public let settings: BalancerSettings
    /// The redis-server the stack started, if it started one.
    public let redis: RedisServerProcess?
    /// The HAProxy the stack started, if it started one.
    public let haproxy: HAProxyProcess?
    private let logger: Logger

    private init(runtime: BalancerRuntime, settings: BalancerSettings, redis: RedisServerProcess?,
                 haproxy: HAProxyProcess?, logger: Logger) {
        self.runtime = runtime
        self.settings = settings
        self.redis = redis
        self.haproxy = haproxy
        self.logger = logger
    }

    /// Starts redis-server and HAProxy as needed and assembles the balancer (not yet running).
    /// - Parameters:
    ///   - settings: the balancer's settings; Redis and HAProxy addresses are filled in here.
    ///   - stack: what to start locally.
    ///   - scaling: the scaling knobs.
    ///   - logger: the logger.
    /// - Throws: when redis-server or haproxy is missing (with how to install it) or cannot start;
    ///   whatever was started is stopped first.
    public static func start(settings: BalancerSettings, stack: LocalStackSettings,
                             scaling: ScalingConfiguration, logger: Logger) async throws -> LocalStack {
        var settings = settings
        settings.stateDirectory = URL(fileURLWithPath: settings.stateDirectory).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: settings.stateDirectory, withIntermediateDirectories: true)

        var redis: RedisServerProcess?
        if stack.startsRedis {
            await LocalStackLeftovers.stopLeftover(.redis, stateDirectory: settings.stateDirectory, logger: logger)
            let started = try await RedisServerProcess.start(port: stack.redisPort,
                                                             in: settings.stateDirectory + "/redis", logger: logger)
            LocalStackLeftovers.record(.redis, process: started.process, endpoint: Endpoint(host: "127.0.0.1", port: stack.redisPort),
                                       stateDirectory: settings.stateDirectory, logger: logger)
            redis = started
            settings.redisURL = started.url
        }
        var haproxy: HAProxyProcess?
        do {
            if stack.startsHAProxy {
                let configuration = HAProxyConfiguration(
                    runtimeSocketPath: runtimeSocketPath(stateDirectory: settings.stateDirectory),
                    trafficBind: "\(stack.lbHost):\(stack.lbPort)",
                    statsBind: "\(stack.lbHost):\(stack.statsPort)",
                    backendName: settings.haproxyBackend)
                await LocalStackLeftovers.stopLeftover(.haproxy, stateDirectory: settings.stateDirectory, logger: logger)
                let started = try await HAProxyProcess.start(configuration, in: settings.stateDirectory + "/haproxy", logger: logger)
                LocalStackLeftovers.record(.haproxy, process: started.process, endpoint: Endpoint(host: stack.lbHost, port: stack.lbPort),
                                           stateDirectory: settings.stateDirectory, logger: logger)
                haproxy = started
                settings.haproxyRuntime = .unixSocket(path: configuration.runtimeSocketPath)
            }
            settings.backend = .process
            let runtime = try BalancerRuntime(settings: settings, scaling: scaling, logger: logger)
            return LocalStack(runtime: runtime, settings: settings, redis: redis, haproxy: haproxy, logger: logger)
        } catch {
            await haproxy?.stop()
            await redis?.stop()
            throw error
        }
    }

    /// Runs the balancer and `extraServices` until SIGINT or SIGTERM, then stops everything:
    /// the extra services, the balancer, every server, HAProxy and redis-server.
    public func run(extraServices: [any Service]) async throws {
        let services: [any Service] = runtime.services + extraServices
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            await stopEverything()
            throw error
        }
        await stopEverything()
    }

    /// Stops the servers, HAProxy and redis-server (idempotent).
    public func stopEverything() async {
        if let driver = runtime.driver as? ProcessDriver {
            do { try await driver.stopAll(grace: settings.stopGrace) } catch {
                logger.error("stopping the servers failed", metadata: ["error": "\(error)"])
            }
        }
        await haproxy?.stop()
        await redis?.stop()
        if haproxy != nil { LocalStackLeftovers.forget(.haproxy, stateDirectory: settings.stateDirectory) }
        if redis != nil { LocalStackLeftovers.forget(.redis, stateDirectory: settings.stateDirectory) }
    }

    /// Waits until `count` servers are active, or `timeout` passes.
    /// - Returns: whether they are.
    public func waitUntilActive(count: Int, timeout: Duration) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while clock.now < deadline {
            let status = await runtime.autoscaler.status()
            if status.instances.filter({ $0.state == .active }).count >= count { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// A unix socket path under the state directory, or under /tmp when that would be too long
    /// for a socket address (108 bytes).
    static func runtimeSocketPath(stateDirectory: String) -> String {
        let preferred = stateDirectory + "/haproxy/admin.sock"
        if preferred.utf8.count < 100 { return preferred }
        return "/tmp/wsscale-\(getpid())-haproxy.sock"
    }
}
