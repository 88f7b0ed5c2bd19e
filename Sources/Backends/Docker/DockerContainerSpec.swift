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

/// Label names that mark the containers of a pool.
enum DockerLabel {
    /// `wsscale.pool=<pool>`: the pool a container belongs to (what `instances()` filters on).
    static let pool = "wsscale.pool"
    /// `wsscale.instance=<id>`: the instance's identity.
    static let instance = "wsscale.instance"
    /// `wsscale.port=<port>`: the port the server listens on inside the container.
    static let port = "wsscale.port"
}

extension DockerContainerSpec {
    /// The container for one launch request. Pure.
    /// - Parameters:
    ///   - request: the instance's identity, port and environment.
    ///   - configuration: image, pool, reachability, stop grace, common environment.
    /// - Returns: the create body, and the container port it listens on.
    static func make(for request: LaunchRequest, configuration: DockerDriverConfiguration) -> (spec: DockerContainerSpec, port: Int) {
        let port = request.port ?? configuration.containerPort
        var environment = configuration.environment
        environment.merge(request.environment) { _, new in new }
        environment["SERVER_ID"] = request.id
        environment["SERVER_HOST"] = "0.0.0.0"
        environment["SERVER_PORT"] = String(port)
        let portKey = "\(port)/tcp"
        var host = HostSettings()
        switch configuration.reachability {
        case let .publish(address, network):
            host.PortBindings = [portKey: [PortBinding(HostIp: address, HostPort: "")]]
            host.NetworkMode = network
        case let .network(name):
            host.NetworkMode = name
        }
        let grace = configuration.stopGrace.components
        let spec = DockerContainerSpec(
            Image: configuration.image,
            Cmd: configuration.command,
            Env: environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" },
            Labels: [DockerLabel.pool: configuration.pool, DockerLabel.instance: request.id, DockerLabel.port: String(port)],
            StopTimeout: Int(grace.seconds) + (grace.attoseconds > 0 ? 1 : 0),
            ExposedPorts: [portKey: Empty()],
            HostConfig: host)
        return (spec, port)
    }
}
