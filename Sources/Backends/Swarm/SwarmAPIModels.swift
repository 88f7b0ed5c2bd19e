import Foundation
import WSScaleCore

/// `GET /services` items and `GET /services/{id}` (the fields the driver reads).
struct SwarmService: Decodable {
    struct ContainerInfo: Decodable {
        var Image: String?
    }
    struct TaskTemplateInfo: Decodable {
        var ContainerSpec: ContainerInfo?
    }
    struct SpecInfo: Decodable {
        var Name: String?
        var Labels: [String: String]?
        var TaskTemplate: TaskTemplateInfo?
    }
    var ID: String
    var Spec: SpecInfo?
}

/// `GET /tasks` items (the fields the driver reads).
struct SwarmTask: Decodable {
    struct VersionInfo: Decodable {
        var Index: Int?
    }
    struct ContainerStatusInfo: Decodable {
        var ExitCode: Int?
    }
    struct PortInfo: Decodable {
        var `Protocol`: String?
        var TargetPort: Int?
        var PublishedPort: Int?
    }
    struct PortStatusInfo: Decodable {
        var Ports: [PortInfo]?
    }
    struct StatusInfo: Decodable {
        var State: String?
        var Err: String?
        var ContainerStatus: ContainerStatusInfo?
        var PortStatus: PortStatusInfo?
    }
    struct NetworkSpecInfo: Decodable {
        var Name: String?
    }
    struct NetworkInfo: Decodable {
        var Spec: NetworkSpecInfo?
    }
    struct AttachmentInfo: Decodable {
        var Network: NetworkInfo?
        var Addresses: [String]?
    }
    var ID: String
    var ServiceID: String?
    var NodeID: String?
    var Version: VersionInfo?
    var Status: StatusInfo?
    var NetworksAttachments: [AttachmentInfo]?
}

/// `GET /nodes` items (the fields the driver reads): where a task's published port is reached,
/// and whether the node is still there.
struct SwarmNode: Decodable {
    struct StatusInfo: Decodable {
        var State: String?
        var Addr: String?
    }
    var ID: String
    var Status: StatusInfo?

    /// Whether the manager has lost this node (`down`: it missed its heartbeats, or left;
    /// `disconnected`): its tasks are gone with it, though their last reported state stays
    /// `running`, because nobody is left to report another. `unknown` (a manager that has just
    /// started, before the node's first heartbeat) is not lost.
    var isLost: Bool { ["down", "disconnected"].contains(Status?.State ?? "") }
}

/// How swarm's services and tasks become the container views `ContainerDriver` reads: one
/// service is one server, and its task (one replica, never restarted) says how it runs. Pure.
enum SwarmTaskMapping {
    /// A task's state (`pending`, `running`, `failed` …) as the driver reports it; no task yet
    /// is `starting`. A task on a node the manager has lost (`nodes`) has ended, whatever it
    /// last reported, and so has one on a node no longer in the swarm.
    static func status(_ task: SwarmTask?, nodes: [SwarmNode] = []) -> DriverInstanceStatus {
        guard let task else { return .starting }
        if lostNode(of: task, in: nodes) != nil { return .exited(code: nil) }
        switch task.Status?.State ?? "" {
        case "new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting": return .starting
        case "running": return .running
        default: return .exited(code: task.Status?.ContainerStatus?.ExitCode.map(Int32.init))
        }
    }

    /// The service's current task: of those listed for it, the one changed last.
    static func currentTask(of serviceID: String, in tasks: [SwarmTask]) -> SwarmTask? {
        tasks.filter { $0.ServiceID == serviceID }.max { ($0.Version?.Index ?? 0) < ($1.Version?.Index ?? 0) }
    }

    /// Published TCP ports of a task: target port → the ports on its node. Docker publishes a
    /// host-mode port on IPv4 and on IPv6, and the two may differ (each family's free port);
    /// the task's status lists both without saying which is which.
    static func publishedPortCandidates(_ task: SwarmTask?) -> [Int: [Int]] {
        var ports: [Int: Set<Int>] = [:]
        for port in task?.Status?.PortStatus?.Ports ?? [] where (port.Protocol ?? "tcp") == "tcp" {
            if let target = port.TargetPort, let published = port.PublishedPort, published > 0 { ports[target, default: []].insert(published) }
        }
        return ports.mapValues { $0.sorted() }
    }

    /// Published TCP ports of a task: target port → port on its node, where there is one port
    /// (the driver gives it, so IPv4 and IPv6 share it); a target with several is left out
    /// rather than guessed.
    static func publishedPorts(_ task: SwarmTask?) -> [Int: Int] {
        publishedPortCandidates(task).compactMapValues { $0.count == 1 ? $0[0] : nil }
    }

    /// A task's address in each network it is attached to (`10.0.1.5/24` → `10.0.1.5`).
    static func networkAddresses(_ task: SwarmTask?) -> [String: String] {
        var addresses: [String: String] = [:]
        for attachment in task?.NetworksAttachments ?? [] {
            guard let name = attachment.Network?.Spec?.Name,
                  let address = attachment.Addresses?.first?.split(separator: "/").first, !address.isEmpty else { continue }
            addresses[name] = String(address)
        }
        return addresses
    }

    /// The image of a service as the driver compares it: without the digest swarm may pin (`@sha256:…`).
    static func image(_ service: SwarmService) -> String? {
        service.Spec?.TaskTemplate?.ContainerSpec?.Image.map { image in
            image.split(separator: "@", maxSplits: 1).first.map(String.init) ?? image
        }
    }

    /// The node `task` was placed on, when the manager has lost it (or it left the swarm); `nil`
    /// when it is there, when the task is on no node yet, or when `nodes` is empty (not read).
    static func lostNode(of task: SwarmTask?, in nodes: [SwarmNode]) -> String? {
        guard !nodes.isEmpty, let id = task?.NodeID, !id.isEmpty else { return nil }
        guard let node = nodes.first(where: { $0.ID == id }) else { return id }
        return node.isLost ? id : nil
    }

    /// The address of the node `task` runs on, among `nodes`.
    static func nodeAddress(of task: SwarmTask?, in nodes: [SwarmNode]) -> String? {
        guard let id = task?.NodeID else { return nil }
        return nodes.first { $0.ID == id }?.Status?.Addr
    }

    /// A service and its current task (on the node at `nodeAddress`, among `nodes`) as a listed container.
    static func listing(_ service: SwarmService, task: SwarmTask?, nodes: [SwarmNode] = [], nodeAddress: String? = nil) -> ContainerListing {
        ContainerListing(id: service.ID, name: service.Spec?.Name, image: image(service), labels: service.Spec?.Labels ?? [:],
                         status: status(task, nodes: nodes), publishedPorts: publishedPorts(task), networkAddresses: networkAddresses(task),
                         nodeAddress: nodeAddress)
    }

    /// A service and its current task (on the node at `nodeAddress`, among `nodes`) as an inspected container.
    static func inspection(_ service: SwarmService, task: SwarmTask?, nodes: [SwarmNode] = [], nodeAddress: String? = nil) -> ContainerInspection {
        let state: String
        var exitCode: Int?
        switch status(task, nodes: nodes) {
        case .starting: state = "created"
        case .running: state = "running"
        case .exited(let code): state = "exited"; exitCode = code.map(Int.init)
        }
        let ports = publishedPorts(task).reduce(into: [String: [ContainerInspection.PortBindingInfo]?]()) { ports, port in
            ports["\(port.key)/tcp"] = [ContainerInspection.PortBindingInfo(HostIp: "0.0.0.0", HostPort: String(port.value))]
        }
        let networks = networkAddresses(task).mapValues { ContainerNetworkAttachments.Attachment(IPAddress: $0) }
        return ContainerInspection(
            Id: service.ID, Name: service.Spec?.Name,
            State: ContainerInspection.StateInfo(Status: state, Running: state == "running", ExitCode: exitCode, OOMKilled: false,
                                                 Error: lostNode(of: task, in: nodes).map { "its node \($0) is down" } ?? task?.Status?.Err),
            NetworkSettings: ContainerInspection.NetworkInfo(Ports: ports, Networks: networks),
            Config: ContainerInspection.ConfigInfo(Labels: service.Spec?.Labels), NodeAddress: nodeAddress)
    }
}
