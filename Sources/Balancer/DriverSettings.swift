import Foundation
import WSScaleBackends
import WSScaleCore

/// The chosen backend's own settings (`DOCKER_*`/`WSSCALE_DOCKER_*`, `PODMAN_*`/`WSSCALE_PODMAN_*`,
/// `WSSCALE_SYSTEMD_*`), read with the balancer's other settings through the same
/// `EnvironmentReader`: over the process environment with `.env` underneath, checked by
/// `wsscale balancer --check-config`, and a bad one stops startup with exit status 2 naming it.
public enum DriverSettings: Sendable, Equatable {
    /// The process backend: nothing of its own beyond `BalancerSettings`.
    case process
    /// Docker or Podman.
    case container(ContainerDriverConfiguration)
    /// systemd.
    case systemd(SystemdDriverConfiguration)
    /// Docker Swarm: Docker's settings (the Engine API is the same), and the stack the
    /// servers join (`WSSCALE_SWARM_STACK`), if any.
    case swarm(ContainerDriverConfiguration, stack: String?)

    /// Reads the settings of `backend`; problems are reported on `reader`, each naming its variable.
    public static func read(for backend: BackendKind, from reader: inout EnvironmentReader) -> DriverSettings {
        switch backend {
        case .process: return .process
        case .docker: return .container(ContainerDriverConfiguration.read(from: &reader, engine: .docker))
        case .podman: return .container(ContainerDriverConfiguration.read(from: &reader, engine: .podman))
        case .systemd: return .systemd(SystemdDriverConfiguration.read(from: &reader))
        case .swarm:
            let configuration = ContainerDriverConfiguration.read(from: &reader, engine: .docker)
            let stack = reader.string("WSSCALE_SWARM_STACK", default: "", rule: SwarmDriver.stackProblem)
            return .swarm(configuration, stack: stack.isEmpty ? nil : stack)
        }
    }

    /// The effective settings as `(variable, value)` pairs, for `--check-config`.
    public func describe() -> [(name: String, value: String)] {
        switch self {
        case .process:
            return []
        case .swarm(let configuration, let stack):
            return DriverSettings.container(configuration).describe() + [("WSSCALE_SWARM_STACK", stack ?? "")]
        case .container(let configuration):
            let engine = configuration.engine
            let prefix = engine.variablePrefix
            let network: String
            let publish: String
            switch configuration.reachability {
            case .publish(let address, let joined): network = joined ?? ""; publish = address
            case .network(let name): network = name; publish = ""
            }
            return [
                (engine.hostVariable, configuration.daemon.description),
                (engine.apiVersionVariable, String(configuration.apiVersion.dropFirst())),
                (prefix + "IMAGE", configuration.image),
                (prefix + "CONTAINER_PORT", String(configuration.containerPort)),
                (prefix + "NETWORK", network),
                (prefix + "PUBLISH_ADDRESS", publish),
                (prefix + "STOP_GRACE", configuration.stopGrace.secondsText),
            ]
        case .systemd(let configuration):
            return [
                ("WSSCALE_SYSTEMD_UNIT", configuration.unitPrefix),
                ("WSSCALE_SYSTEMD_ENV_DIR", configuration.environmentDirectory),
                ("WSSCALE_SYSTEMD_BUS", configuration.busAddress ?? ""),
                ("WSSCALE_SYSTEMD_SERVER_HOST", configuration.serverHost),
            ]
        }
    }
}
