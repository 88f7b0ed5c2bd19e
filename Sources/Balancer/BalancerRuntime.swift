import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import WSScaleBackends
import WSScaleCore

/// The balancer, assembled: a backend driver, HAProxy, the Redis registry, the control loop
/// and the HTTP API, as services to run in one `ServiceGroup`.
public struct BalancerRuntime: Sendable {
    /// The backend the servers run on (wrapped by `RedisServerUserDriver` when the servers get
    /// Redis users of their own).
    public let driver: any InstanceDriver

    /// The backend itself, unwrapped.
    public var backend: any InstanceDriver {
        (driver as? RedisServerUserDriver)?.backend ?? driver
    }
    /// The session registry.
    public let registry: RedisSessionRegistry
    /// The HAProxy instances, through their runtime APIs, kept identical.
    public let trafficProxy: ProxyFleet
    /// The control loop.
    public let autoscaler: Autoscaler
    /// Whether this balancer leads the pool.
    public let leadership: Leadership
    /// The election that keeps `leadership` (claims the lease in Redis).
    public let election: LeaderElection
    /// The HTTP API.
    public let api: BalancerAPI
    private let settings: BalancerSettings
    private let logger: Logger

    /// Assembles the balancer.
    /// - Parameters:
    ///   - settings: where the parts are.
    ///   - scaling: the scaling knobs.
    ///   - driverSettings: the backend's own settings, read with the others
    ///     (`DriverSettings.read(for:from:)`); `nil` gives the backend's defaults.
    ///   - driver: the backend; `nil` makes the one `settings.backend` names.
    ///   - logger: the logger.
    public init(settings: BalancerSettings, scaling: ScalingConfiguration, driverSettings: DriverSettings? = nil,
                driver: (any InstanceDriver)? = nil, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        let group = MultiThreadedEventLoopGroup.singleton
        let driver = Self.withServerUsers(try driver ?? Self.makeDriver(settings: settings, driverSettings: driverSettings, logger: logger),
                                          settings: settings, eventLoopGroup: group, logger: logger)
        self.driver = driver
        let lease = RedisLeaderLease(url: settings.redisURL, keyPrefix: settings.keyPrefix, eventLoopGroup: group, logger: logger)
        let leadership = Leadership(holder: LeaderIdentity.holder(balancerID: settings.balancerID),
                                    validity: LeaderElection.validity(of: settings.leaderLease), clock: ContinuousClock())
        self.leadership = leadership
        election = LeaderElection(lease: lease, leadership: leadership, duration: settings.leaderLease, logger: logger)
        let fence = LeadershipFence(leadership: leadership, lease: lease)
        registry = RedisSessionRegistry(url: settings.redisURL, keyPrefix: settings.keyPrefix,
                                        eventLoopGroup: group, logger: logger, mayWrite: { leadership.mayAct() != nil })
        let backend = settings.haproxyBackend
        trafficProxy = ProxyFleet(source: HAProxyRuntimeMembers(addresses: settings.haproxyRuntimes, makeProxy: { address in
            HAProxyTrafficProxy(api: HAProxyRuntimeAPI(address: address), backend: backend, logger: logger)
        }, logger: logger))
        autoscaler = Autoscaler(
            configuration: scaling, driver: FencedInstanceDriver(driver, fence: fence),
            trafficProxy: FencedTrafficProxy(trafficProxy, fence: fence),
            registry: FencedSessionRegistry(registry, fence: fence),
            planner: ScalingPolicy(configuration: scaling),
            environment: settings.serverEnvironment(scaling: scaling),
            tunables: .init(launchTimeout: settings.launchTimeout, stopGrace: settings.stopGrace, stallLimit: settings.stallLimit),
            leadership: leadership, logger: logger)
        let autoscaler = self.autoscaler
        api = BalancerAPI(status: { await autoscaler.status() })
    }

    /// `backend`, giving each server a Redis user of its own (`RedisServerUserDriver`) when
    /// the balancer logs in to Redis as a user (`REDIS_URL` with `user:password@`): the
    /// servers' passwords derive from the balancer's. Without a user, `backend` as it is.
    static func withServerUsers(_ backend: any InstanceDriver, settings: BalancerSettings,
                                eventLoopGroup: any EventLoopGroup, logger: Logger) -> any InstanceDriver {
        guard settings.redisURL.username != nil, let password = settings.redisURL.password else { return backend }
        let serverURL = settings.serverRedisURL.flatMap { try? RedisURL(parsing: $0, variable: "SERVER_REDIS_URL") } ?? settings.redisURL
        return RedisServerUserDriver(backend: backend, acl: RedisACL(keyPrefix: settings.keyPrefix, balancerPassword: password),
                                     balancerURL: settings.redisURL, serverURL: serverURL, eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// The driver `settings.backend` names, made from `driverSettings` (the backend's own
    /// settings as the balancer read them); `nil` or settings of another backend give that
    /// backend's defaults. Never reads the environment itself.
    public static func makeDriver(settings: BalancerSettings, driverSettings: DriverSettings? = nil,
                                  logger: Logger) throws -> any InstanceDriver {
        var defaults = EnvironmentReader(environment: [:])
        switch settings.backend {
        case .process:
            return try ProcessDriver(
                configuration: .wsscaleServer(stateDirectory: settings.stateDirectory, pool: settings.pool),
                logger: logger)
        case .docker, .podman:
            let engine: ContainerEngineKind = settings.backend == .docker ? .docker : .podman
            var configuration: ContainerDriverConfiguration
            if case .container(let given)? = driverSettings, given.engine == engine {
                configuration = given
            } else {
                configuration = ContainerDriverConfiguration.read(from: &defaults, engine: engine)
            }
            configuration.pool = settings.pool
            configuration.stopGrace = settings.stopGrace
            switch engine {
            case .docker: return DockerDriver(configuration: configuration, logger: logger)
            case .podman: return PodmanDriver(configuration: configuration, logger: logger)
            }
        case .swarm:
            var configuration: ContainerDriverConfiguration
            var stack: String?
            if case .swarm(let given, let givenStack)? = driverSettings {
                (configuration, stack) = (given, givenStack)
            } else {
                configuration = ContainerDriverConfiguration.read(from: &defaults, engine: .docker)
            }
            configuration.pool = settings.pool
            configuration.stopGrace = settings.stopGrace
            return SwarmDriver(configuration: configuration, stack: stack, logger: logger)
        case .systemd:
            var configuration: SystemdDriverConfiguration
            if case .systemd(let given)? = driverSettings {
                configuration = given
            } else {
                configuration = SystemdDriverConfiguration.read(from: &defaults)
            }
            configuration.pool = settings.pool
            return try SystemdDriver(configuration: configuration, logger: logger)
        }
    }

    /// The services to run, in start order: registry, leader election, control loop, HTTP API.
    public var services: [any Service] {
        [registry, election, autoscaler, api.makeApplication(host: settings.apiHost, port: settings.apiPort, limits: settings.httpLimits, logger: logger)]
    }
}
