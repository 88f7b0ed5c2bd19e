import WSScaleCore

/// Label names that mark the containers of a pool (Docker and Podman alike).
enum ContainerLabel {
    /// `wsscale.pool=<pool>`: the pool a container belongs to (what `instances()` filters on).
    static let pool = "wsscale.pool"
    /// `wsscale.instance=<id>`: the instance's identity.
    static let instance = "wsscale.instance"
    /// `wsscale.port=<port>`: the port the server listens on inside the container.
    static let port = "wsscale.port"

    /// The compose service a launched server belongs to (declared in `docker/compose.yml`
    /// under a profile nobody enables, so `up` never starts it itself).
    static let composeService = "server"

    /// The labels that make a server part of a compose project: docker-compose's (`ps`
    /// lists it; `down` stops and removes it with the project's own containers, then the
    /// network) and podman-compose's (`ps` lists it). Empty without a project.
    static func compose(project: String?) -> [String: String] {
        guard let project else { return [:] }
        return [
            "com.docker.compose.project": project,
            "com.docker.compose.service": composeService,
            "com.docker.compose.oneoff": "False",
            "io.podman.compose.project": project,
            "io.podman.compose.service": composeService,
        ]
    }

    /// The labels every container of the pool carries, whatever its instance: the pool's
    /// and, in a compose project, the project's.
    static func fixed(pool: String, composeProject: String?) -> [String: String] {
        compose(project: composeProject).merging([Self.pool: pool]) { _, own in own }
    }
}

/// One server container as wsscale wants it, whatever the engine: each engine's API
/// writes it as its own create body. Pure.
struct ContainerSpecification: Equatable {
    /// The container's name: `<pool>-<instance>`.
    var name: String
    /// The image it runs.
    var image: String
    /// A command replacing the image's `CMD`, if any.
    var command: [String]?
    /// Its environment: the configured one, the request's, and the server's identity.
    var environment: [String: String]
    /// Pool, instance and port labels (and a compose project's, in one).
    var labels: [String: String]
    /// The port the server listens on inside the container.
    var port: Int
    /// Whole seconds between SIGTERM and SIGKILL when the engine stops it.
    var stopTimeoutSeconds: Int
    /// Published port or network attachment.
    var reachability: ContainerDriverConfiguration.Reachability
    /// Resource limits (soft = hard).
    var resourceLimits: [ContainerResourceLimit]

    /// The environment as `NAME=value` lines, sorted by name.
    var environmentLines: [String] {
        environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    }

    /// The container for one launch request.
    /// - Parameters:
    ///   - request: the instance's identity, port and environment.
    ///   - configuration: image, pool, reachability, stop grace, common environment.
    static func make(for request: LaunchRequest, configuration: ContainerDriverConfiguration) -> ContainerSpecification {
        let port = request.port ?? configuration.containerPort
        var environment = configuration.environment
        environment.merge(request.environment) { _, new in new }
        environment["SERVER_ID"] = request.id
        environment["SERVER_HOST"] = "0.0.0.0"
        environment["SERVER_PORT"] = String(port)
        return ContainerSpecification(
            name: configuration.containerName(request.id), image: configuration.image, command: configuration.command, environment: environment,
            labels: ContainerLabel.fixed(pool: configuration.pool, composeProject: configuration.composeProject)
                .merging([ContainerLabel.instance: request.id, ContainerLabel.port: String(port)]) { _, own in own },
            port: port, stopTimeoutSeconds: wholeSeconds(configuration.stopGrace),
            reachability: configuration.reachability, resourceLimits: configuration.resourceLimits)
    }

    /// A duration in whole seconds, rounded up (engines take seconds).
    static func wholeSeconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(0, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }
}
