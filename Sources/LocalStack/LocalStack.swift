import Foundation
import Logging
import ServiceLifecycle
import WSScaleBackends
import WSScaleBalancer
import WSScaleCore

/// The whole system on one machine, as `wsscale up` runs it: redis-server and HAProxy as child
/// processes on loopback (unless given), the balancer on the process backend, and any extra
/// services (the client simulator). While it runs, a `LocalStackSupervisor` restarts
/// redis-server or HAProxy when one of them exits. Stopping it stops everything it started,
/// servers included.
public final class LocalStack: Sendable {
    /// The balancer and its parts.
    public let runtime: BalancerRuntime
    /// The balancer's settings as completed by the stack (Redis and HAProxy addresses).
    public let settings: BalancerSettings
    private let redisProgram: SupervisedProgram<RedisServerProcess>?
    private let haproxyProgram: SupervisedProgram<HAProxyProcess>?
    private let supervisor: LocalStackSupervisor
    private let lock: StateDirectoryLock
    private let logger: Logger

    /// The redis-server the stack started (the current one, after a restart), if it started one.
    public var redis: RedisServerProcess? { redisProgram?.current }
    /// The HAProxy the stack started (the current one, after a restart), if it started one.
    public var haproxy: HAProxyProcess? { haproxyProgram?.current }

    private init(runtime: BalancerRuntime, settings: BalancerSettings, redis: SupervisedProgram<RedisServerProcess>?,
                 haproxy: SupervisedProgram<HAProxyProcess>?, lock: StateDirectoryLock, logger: Logger) {
        self.runtime = runtime
        self.lock = lock
        self.settings = settings
        self.redisProgram = redis
        self.haproxyProgram = haproxy
        self.logger = logger
        var programs: [any RestartableProgram] = []
        if let redis { programs.append(redis) }
        if let haproxy { programs.append(haproxy) }
        let metrics = runtime.api.metrics
        for program in programs { metrics.declareStackProcess(program.program.name) }
        self.supervisor = LocalStackSupervisor(programs: programs, onRestart: { metrics.countStackRestart(process: $0) },
                                               logger: logger)
    }

    /// Starts redis-server and HAProxy as needed and assembles the balancer (not yet running).
    /// - Parameters:
    ///   - settings: the balancer's settings; Redis and HAProxy addresses are filled in here.
    ///   - stack: what to start locally.
    ///   - scaling: the scaling knobs.
    ///   - listeners: the other ports the caller will listen on (client simulator, dashboard),
    ///     checked with the stack's own before anything starts.
    ///   - logger: the logger.
    /// - Throws: `LocalStackRefusal`, having started and stopped nothing, when another `up`
    ///   holds the state directory's lock (`StateDirectoryLock`); `LocalStackRefusal` naming
    ///   the port and its variable when a port is taken (checked after the leftovers of a
    ///   crashed run are stopped, before anything starts); otherwise when redis-server or
    ///   haproxy is missing (with how to install it) or cannot start, whatever was started
    ///   being stopped first.
    public static func start(settings: BalancerSettings, stack: LocalStackSettings,
                             scaling: ScalingConfiguration, listeners: [PlannedListener] = [],
                             logger: Logger) async throws -> LocalStack {
        var settings = settings
        settings.stateDirectory = URL(fileURLWithPath: settings.stateDirectory).standardizedFileURL.path
        let stateDirectory = settings.stateDirectory
        let lock = try StateDirectoryLock.acquire(stateDirectory: stateDirectory)

        // Only now is it known that no `up` runs here: what the pid files name was left by a
        // crashed one.
        var stoppedLeftovers = false
        if stack.startsRedis, await LocalStackLeftovers.stopLeftover(.redis, stateDirectory: stateDirectory, logger: logger) {
            stoppedLeftovers = true
        }
        if stack.startsHAProxy, await LocalStackLeftovers.stopLeftover(.haproxy, stateDirectory: stateDirectory, logger: logger) {
            stoppedLeftovers = true
        }
        var planned = [PlannedListener(variable: "BALANCER_PORT", host: settings.apiHost, port: settings.apiPort)]
        if stack.startsRedis { planned.append(PlannedListener(variable: "UP_REDIS_PORT", host: "127.0.0.1", port: stack.redisPort)) }
        if stack.startsHAProxy {
            planned.append(PlannedListener(variable: "LB_PORT", host: stack.lbHost, port: stack.lbPort))
            planned.append(PlannedListener(variable: "LB_STATS_PORT", host: "127.0.0.1", port: stack.statsPort))
        }
        var problem = PlannedListener.problem(with: planned + listeners)
        // A leftover just stopped may still hold its ports for a moment (its workers exit after
        // it): give them back to the kernel, a bounded wait on that condition.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while stoppedLeftovers, problem != nil, clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
            problem = PlannedListener.problem(with: planned + listeners)
        }
        if let problem { throw LocalStackRefusal(problem) }

        var redis: SupervisedProgram<RedisServerProcess>?
        if stack.startsRedis {
            let port = stack.redisPort
            // The balancer's user, which makes one for each server (their passwords derive from
            // its own); the default user is off. The password of an earlier `up` in this state
            // directory is kept: the servers it left running (adopted below) still log in.
            let aclPath = stateDirectory + "/redis/users.acl"
            let acl = (try? String(contentsOfFile: aclPath, encoding: .utf8)).flatMap {
                RedisACL.parse($0, keyPrefix: settings.keyPrefix)
            } ?? RedisACL.generate(keyPrefix: settings.keyPrefix)
            let program = try await SupervisedProgram.start(.redis, endpoint: Endpoint(host: "127.0.0.1", port: port),
                                                            stateDirectory: stateDirectory, logger: logger) {
                try await RedisServerProcess.start(port: port, in: stateDirectory + "/redis", acl: acl, logger: logger)
            }
            redis = program
            settings.redisURL = program.current.url
        }
        var haproxy: SupervisedProgram<HAProxyProcess>?
        do {
            if stack.startsHAProxy {
                let configuration = HAProxyConfiguration(
                    runtimeSocketPath: runtimeSocketPath(stateDirectory: stateDirectory),
                    trafficBind: "\(stack.lbHost):\(stack.lbPort)",
                    statsBind: "127.0.0.1:\(stack.statsPort)",
                    backendName: settings.haproxyBackend,
                    sourceLimits: stack.sourceLimits)
                let socket = configuration.runtimeSocketPath
                haproxy = try await SupervisedProgram.start(.haproxy, endpoint: Endpoint(host: stack.lbHost, port: stack.lbPort),
                                                            stateDirectory: stateDirectory, logger: logger,
                                                            check: { _ in Self.unixSocketProblem(at: socket) }) {
                    try await HAProxyProcess.start(configuration, in: stateDirectory + "/haproxy", logger: logger)
                }
                settings.haproxyRuntimes = [.unixSocket(path: configuration.runtimeSocketPath)]
            }
            settings.backend = .process
            let runtime = try BalancerRuntime(settings: settings, scaling: scaling, logger: logger)
            return LocalStack(runtime: runtime, settings: settings, redis: redis, haproxy: haproxy, lock: lock, logger: logger)
        } catch {
            await haproxy?.stop()
            await redis?.stop()
            throw error
        }
    }

    /// Runs the balancer, the supervisor of redis-server and HAProxy, and `extraServices` until
    /// SIGINT or SIGTERM, then stops everything: the extra services, the balancer, every server,
    /// HAProxy and redis-server.
    public func run(extraServices: [any Service]) async throws {
        // Last, so that it is the first to stop on SIGTERM: nothing is restarted during shutdown
        // (a service manager may send the signal to redis-server and HAProxy too).
        let services: [any Service] = runtime.services + extraServices + [supervisor]
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
        if let driver = runtime.backend as? ProcessDriver {
            do { try await driver.stopAll(grace: settings.stopGrace) } catch {
                logger.error("stopping the servers failed", metadata: ["error": "\(error)"])
            }
        }
        await haproxyProgram?.stop()
        await redisProgram?.stop()
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

    /// Why `path` is not a unix socket (gone, or something else in its place), or `nil`.
    static func unixSocketProblem(at path: String) -> String? {
        var status = stat()
        guard lstat(path, &status) == 0 else { return "its runtime API socket \(path) is gone" }
        guard status.st_mode & S_IFMT == S_IFSOCK else { return "its runtime API socket \(path) is not a socket any more" }
        return nil
    }

    /// A unix socket path under the state directory, or under /tmp when that would be too long
    /// for a socket address (108 bytes).
    static func runtimeSocketPath(stateDirectory: String) -> String {
        let preferred = stateDirectory + "/haproxy/admin.sock"
        if preferred.utf8.count < 100 { return preferred }
        return "/tmp/wsscale-\(getpid())-haproxy.sock"
    }
}
