import Foundation
import WSScaleCore

/// The body of `POST /services/create` (Engine API 1.41) for one server: a replicated service
/// of exactly one task that swarm never restarts (the balancer decides), only the fields the
/// driver sets. Pure.
struct SwarmServiceSpec: Encodable, Equatable {
    struct ContainerBody: Encodable, Equatable {
        var Image: String
        /// Replaces the image's `CMD` (swarm's `Command` would replace its entry point).
        var Args: [String]?
        var Env: [String]
        /// The task container's labels: the pool's, so the engine's `die` events name the server.
        var Labels: [String: String]
        /// Nanoseconds between SIGTERM and SIGKILL.
        var StopGracePeriod: Int64
        /// A tiny init reaps zombies and forwards SIGTERM to the server.
        var Init: Bool = true
    }
    struct RestartBody: Encodable, Equatable {
        /// Restarting is the scaler's decision, never the orchestrator's.
        var Condition = "none"
    }
    struct NetworkAttachment: Encodable, Equatable {
        var Target: String
    }
    struct TaskBody: Encodable, Equatable {
        var ContainerSpec: ContainerBody
        var RestartPolicy = RestartBody()
        var Networks: [NetworkAttachment]?
    }
    struct ReplicatedBody: Encodable, Equatable {
        var Replicas = 1
    }
    struct ModeBody: Encodable, Equatable {
        var Replicated = ReplicatedBody()
    }
    struct PortConfig: Encodable, Equatable {
        var `Protocol` = "tcp"
        var TargetPort: Int
        /// The port on the node, one of `publishedPorts`: given, because a port the node picks
        /// is picked for IPv4 and IPv6 apart, and the task's status lists both without saying
        /// which is which (the balancer dialled another server's port through it).
        var PublishedPort: Int
        /// `host`: the task's own port on the node it runs on (no routing mesh: HAProxy must
        /// reach exactly this server).
        var PublishMode = "host"
    }

    /// The ports servers are published on: below Linux's ephemeral range (32768 and up), where
    /// outgoing connections take theirs.
    static let publishedPorts = 30000...32767
    struct EndpointSpecification: Encodable, Equatable {
        var Ports: [PortConfig]?
    }

    var Name: String
    var Labels: [String: String]
    var TaskTemplate: TaskBody
    var Mode = ModeBody()
    var EndpointSpec: EndpointSpecification
}

extension SwarmServiceSpec {
    /// The service for a server container as wsscale wants it (`ContainerSpecification`),
    /// in the swarm stack `stack` when one is given (`com.docker.stack.namespace`, so
    /// `docker stack rm` removes the servers with the stack).
    init(_ container: WSScaleBackends.ContainerSpecification, stack: String?, publishedPort: Int) {
        var labels = container.labels
        if let stack { labels[SwarmLabel.stackNamespace] = stack }
        var networks: [NetworkAttachment]?
        var ports: [PortConfig]?
        switch container.reachability {
        case let .publish(_, network):
            ports = [PortConfig(TargetPort: container.port, PublishedPort: publishedPort)]
            networks = network.map { [NetworkAttachment(Target: $0)] }
        case let .network(name):
            networks = [NetworkAttachment(Target: name)]
        }
        self.init(
            Name: container.name, Labels: labels,
            TaskTemplate: TaskBody(
                ContainerSpec: ContainerBody(
                    Image: container.image, Args: container.command, Env: container.environmentLines, Labels: labels,
                    StopGracePeriod: Int64(container.stopTimeoutSeconds) * 1_000_000_000),
                Networks: networks),
            EndpointSpec: EndpointSpecification(Ports: ports))
    }
}

/// Swarm's own labels.
enum SwarmLabel {
    /// The stack a service belongs to: `docker stack rm <stack>` removes every service with it.
    static let stackNamespace = "com.docker.stack.namespace"
    /// The service a task container runs for (set by swarm on every task container).
    static let serviceName = "com.docker.swarm.service.name"
}
