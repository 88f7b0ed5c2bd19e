import WSScaleCore

/// What `wsscale engine-proxy` reads from the environment: where it listens, which engine
/// it fronts (`WSSCALE_ENGINE_PROXY_ENGINE`), and that engine's driver configuration (the
/// pool it allows, and the engine's address it forwards to).
///
/// | variable | default |
/// |---|---|
/// | `WSSCALE_ENGINE_PROXY_HOST` | `127.0.0.1` |
/// | `WSSCALE_ENGINE_PROXY_PORT` | `2375` |
/// | `WSSCALE_ENGINE_PROXY_MAX_CONNECTIONS` | `64` (1–4096) |
/// | `WSSCALE_ENGINE_PROXY_ENGINE` | `docker`, or `podman` |
/// | `WSSCALE_ENGINE_PROXY_SWARM` | `false`; `true`: the pool's servers are swarm services (Docker only, `EngineProxyPolicy.decideSwarm`) |
/// | `WSSCALE_SWARM_STACK` | empty: the stack whose namespace label the services carry, in swarm mode |
/// | the engine's driver variables | as `ContainerDriverConfiguration.read(from:engine:)` |
public struct EngineProxySettings: Sendable, Equatable, EnvironmentSettings {
    /// The variable naming the engine.
    public static let engineVariable = "WSSCALE_ENGINE_PROXY_ENGINE"

    /// The address it listens on.
    public var host: String
    /// Its port.
    public var port: Int
    /// Connections served at once.
    public var maximumConnections: Int
    /// The engine's driver configuration: the pool's rules (`engine` picks Docker's or
    /// libpod's) and, as `daemon`, where allowed calls go.
    public var driver: ContainerDriverConfiguration
    /// Swarm mode: services instead of containers.
    public var swarm = false
    /// In swarm mode, the stack the services join.
    public var swarmStack: String?

    /// The rules these settings describe.
    public var policy: EngineProxyPolicy {
        var policy = EngineProxyPolicy(configuration: driver)
        policy.swarm = swarm
        policy.swarmStack = swarmStack
        return policy
    }

    /// Reads the settings; problems are reported on `reader`, each naming its variable.
    public static func read(from reader: inout EnvironmentReader) -> EngineProxySettings {
        let host = reader.string("WSSCALE_ENGINE_PROXY_HOST", default: "127.0.0.1", rule: SettingRule.hostProblem)
        let port = reader.int("WSSCALE_ENGINE_PROXY_PORT", default: 2375, in: 1...65535)
        let connections = reader.int("WSSCALE_ENGINE_PROXY_MAX_CONNECTIONS", default: 64, in: 1...4096)
        let engine = reader.choice(engineVariable, default: ContainerEngineKind.docker)
        let driver = ContainerDriverConfiguration.read(from: &reader, engine: engine)
        let swarm = reader.bool("WSSCALE_ENGINE_PROXY_SWARM", default: false)
        if swarm && engine != .docker {
            reader.report("WSSCALE_ENGINE_PROXY_SWARM", "swarm mode fronts Docker's Engine API: set \(engineVariable)=docker, or leave swarm mode off")
        }
        let stack = reader.string("WSSCALE_SWARM_STACK", default: "", rule: SwarmDriver.stackProblem)
        return EngineProxySettings(host: host, port: port, maximumConnections: connections, driver: driver,
                                   swarm: swarm, swarmStack: stack.isEmpty ? nil : stack)
    }
}
