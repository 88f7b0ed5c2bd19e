import Foundation
import WSScaleCore

/// The body of `POST /containers/create` (Engine API 1.41), only the fields the driver sets.
struct DockerContainerSpec: Encodable, Equatable {
    struct PortBinding: Encodable, Equatable {
        var HostIp: String
        var HostPort: String
    }
    struct HostSettings: Encodable, Equatable {
        var PortBindings: [String: [PortBinding]]?
        var NetworkMode: String?
        /// Restarting is the scaler's decision, never the daemon's.
        var RestartPolicy: [String: String] = ["Name": "no"]
        /// A tiny init reaps zombies and forwards SIGTERM to the server.
        var Init: Bool = true
    }
    struct Empty: Encodable, Equatable {}

    var Image: String
    var Cmd: [String]?
    var Env: [String]
    var Labels: [String: String]
    var StopTimeout: Int
    var ExposedPorts: [String: Empty]
    var HostConfig: HostSettings
}

extension DockerContainerSpec {
    /// Docker's create body for a container. Pure.
    init(_ container: ContainerSpecification) {
        let portKey = "\(container.port)/tcp"
        var host = HostSettings()
        switch container.reachability {
        case let .publish(address, network):
            host.PortBindings = [portKey: [PortBinding(HostIp: address, HostPort: "")]]
            host.NetworkMode = network
        case let .network(name):
            host.NetworkMode = name
        }
        self.init(Image: container.image, Cmd: container.command, Env: container.environmentLines, Labels: container.labels,
                  StopTimeout: container.stopTimeoutSeconds, ExposedPorts: [portKey: Empty()], HostConfig: host)
    }

    /// The create body for one launch request, and the container port it listens on. Pure.
    static func make(for request: LaunchRequest, configuration: ContainerDriverConfiguration) -> (spec: DockerContainerSpec, port: Int) {
        let container = ContainerSpecification.make(for: request, configuration: configuration)
        return (DockerContainerSpec(container), container.port)
    }
}
