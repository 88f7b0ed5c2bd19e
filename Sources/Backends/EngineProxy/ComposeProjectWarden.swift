import Foundation
import Logging
import WSScaleCore

/// What the engine proxy does for a compose project when it is told to stop: if the whole
/// project is going down, it stops and removes the pool's servers that still run.
///
/// Why: the servers are the balancer's, not compose's. docker-compose knows them by their
/// labels (the `server` service of `docker/compose.yml`) and stops them itself before the
/// proxy, but podman-compose's `down` stops and removes only the containers it created, then
/// fails to remove the network the servers are still attached to. The proxy is the one part
/// of the project that holds the engine's socket, so it finishes the job, after everything
/// else and before `down` removes the network.
///
/// "Going down" means: within `window` of the proxy's SIGTERM, every other container of the
/// project (the pool's servers aside) has stopped or is stopping (podman-compose stops them all
/// at once, each with its own grace, which can outlast the window). A restart of the proxy alone, or of the
/// balancer, leaves the others running: the servers stay, and the balancer adopts them.
public struct ComposeProjectWarden: Sendable {
    /// The compose project (`WSSCALE_COMPOSE_PROJECT`).
    public let project: String
    /// The pool whose servers are removed (`WSSCALE_POOL`).
    public let pool: String
    /// How long the others may take to stop before the proxy decides that only it stops.
    public let window: Duration
    /// The servers' stop grace (SIGTERM → SIGKILL), as the balancer stops them.
    public let stopGrace: Duration
    private let engine: DockerEngineAPI
    private let ownID: String
    private let logger: Logger

    /// Creates the warden of `configuration`'s compose project, which must be set.
    /// - Parameters:
    ///   - configuration: the proxy's pool; its `daemon` is the engine's own socket. The
    ///     warden speaks the Docker-compatible API, which Podman's service answers too.
    ///   - ownID: the proxy's container id or its prefix (its hostname in a container).
    public init?(configuration: ContainerDriverConfiguration, ownID: String, window: Duration = .seconds(8), logger: Logger) {
        guard let project = configuration.composeProject else { return nil }
        var docker = configuration
        docker.apiVersion = "v" + ContainerEngineKind.docker.defaultAPIVersion
        self.project = project
        self.pool = configuration.pool
        self.window = window
        self.stopGrace = configuration.stopGrace
        self.ownID = ownID
        self.logger = logger
        engine = DockerEngineAPI(configuration: docker, logger: logger)
    }

    /// Waits up to `window` for the project to go down; if it does, stops and removes the
    /// pool's servers of this project that still run. Returns how many it removed.
    @discardableResult
    public func finishIfProjectGoesDown() async -> Int {
        let clock = ContinuousClock()
        let deadline = clock.now + window
        do {
            while true {
                let containers = try await engine.list(label: "com.docker.compose.project=\(project)")
                if Self.projectIsDown(containers, pool: pool, ownID: ownID) { break }
                guard clock.now < deadline else {
                    logger.info("the rest of the compose project keeps running; its servers stay", metadata: ["project": "\(project)"])
                    return 0
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            let servers = try await engine.list(label: "\(ContainerLabel.pool)=\(pool)")
                .filter { Self.isRunningServer($0, project: project) }
            guard !servers.isEmpty else { return 0 }
            let grace = ContainerSpecification.wholeSeconds(stopGrace)
            logger.notice("the compose project is going down: removing the servers it still runs",
                          metadata: ["project": "\(project)", "servers": "\(servers.count)"])
            await withTaskGroup(of: Void.self) { group in
                for server in servers {
                    group.addTask {
                        do {
                            try await engine.stop(server.id, graceSeconds: grace)
                            try await engine.remove(server.id, force: true)
                        } catch {
                            logger.warning("could not remove a server", metadata: ["id": "\(server.id)", "error": "\(error)"])
                        }
                    }
                }
            }
            return servers.count
        } catch {
            logger.warning("could not look at the compose project; its servers stay", metadata: ["project": "\(project)", "error": "\(error)"])
            return 0
        }
    }

    /// Whether every container of the project, other than the pool's servers and the proxy
    /// itself, has stopped or is stopping. Pure.
    static func projectIsDown(_ containers: [ContainerListing], pool: String, ownID: String) -> Bool {
        containers.allSatisfy { container in
            if container.labels[ContainerLabel.pool] == pool { return true }
            if !ownID.isEmpty, container.id.hasPrefix(ownID) { return true }
            if container.isStopping { return true }
            if case .exited = container.status { return true }
            return false
        }
    }

    /// A server of this pool, in this project, that has not stopped. Pure.
    static func isRunningServer(_ container: ContainerListing, project: String) -> Bool {
        guard container.labels["com.docker.compose.project"] == project else { return false }
        if case .exited = container.status { return false }
        return true
    }
}
