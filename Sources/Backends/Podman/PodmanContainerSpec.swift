/// The body of `POST /libpod/containers/create` (libpod's SpecGenerator, API v4), only the
/// fields the driver sets.
struct PodmanContainerSpec: Encodable, Equatable {
    struct PortMapping: Encodable, Equatable {
        var host_ip: String
        var container_port: Int
        /// 0: an ephemeral host port.
        var host_port: Int = 0
        var `protocol` = "tcp"
    }
    struct Namespace: Encodable, Equatable {
        /// `bridge`: the default network (podman's own, or the ones in `networks`).
        var nsmode: String
    }
    struct NetworkOptions: Encodable, Equatable {}
    struct ResourceLimit: Encodable, Equatable {
        /// Without `RLIMIT_` (`nofile`).
        var type: String
        var hard: Int
        var soft: Int
    }

    var name: String
    var image: String
    var command: [String]?
    var env: [String: String]
    var labels: [String: String]
    var stop_timeout: Int
    var portmappings: [PortMapping]?
    var netns: Namespace
    var networks: [String: NetworkOptions]?
    var r_limits: [ResourceLimit]?
    /// A tiny init (catatonit) reaps zombies and forwards SIGTERM to the server.
    var `init` = true
    /// Restarting is the scaler's decision, never the engine's.
    var restart_policy = "no"
}

extension PodmanContainerSpec {
    /// Podman's create body for a container. Pure.
    init(_ container: ContainerSpecification) {
        var ports: [PortMapping]?
        var network: String?
        switch container.reachability {
        case let .publish(address, joined):
            ports = [PortMapping(host_ip: address, container_port: container.port)]
            network = joined
        case let .network(name):
            network = name
        }
        self.init(name: container.name, image: container.image, command: container.command,
                  env: container.environment, labels: container.labels, stop_timeout: container.stopTimeoutSeconds,
                  portmappings: ports, netns: Namespace(nsmode: "bridge"),
                  networks: network.map { [$0: NetworkOptions()] },
                  r_limits: container.resourceLimits.isEmpty ? nil
                      : container.resourceLimits.map { ResourceLimit(type: $0.name, hard: $0.value, soft: $0.value) })
    }
}
