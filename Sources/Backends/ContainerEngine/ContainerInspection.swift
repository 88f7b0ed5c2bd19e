import Foundation
import WSScaleCore

/// `GET …/containers/{id}/json` (the fields the driver reads); Docker and Podman answer
/// with the same shape for these.
struct ContainerInspection: Decodable {
    struct StateInfo: Decodable {
        var Status: String?
        var Running: Bool?
        var ExitCode: Int?
        var OOMKilled: Bool?
        var Error: String?
    }
    struct PortBindingInfo: Decodable {
        var HostIp: String?
        var HostPort: String?
    }
    struct NetworkInfo: Decodable {
        var Ports: [String: [PortBindingInfo]?]?
        var Networks: [String: ContainerNetworkAttachments.Attachment]?
    }
    struct ConfigInfo: Decodable {
        var Labels: [String: String]?
    }
    var Id: String
    var Name: String?
    var State: StateInfo?
    var NetworkSettings: NetworkInfo?
    var Config: ConfigInfo?
    /// The address of the swarm node a task runs on (not the engine's: `SwarmTaskMapping` sets it).
    var NodeAddress: String? = nil
}

/// The networks a container is attached to, with its address in each (`NetworkSettings.Networks`).
struct ContainerNetworkAttachments: Decodable {
    struct Attachment: Decodable {
        var IPAddress: String?
    }
    var Networks: [String: Attachment]?

    /// The container's IPv4 address in `network`, if it is attached and has one.
    func address(in network: String) -> String? {
        guard let address = Networks?[network]?.IPAddress, !address.isEmpty else { return nil }
        return address
    }
}

/// One listed container as the driver reads it, whatever the engine's listing looks like.
struct ContainerListing: Equatable {
    /// The engine's id.
    var id: String
    /// Its name, without Docker's leading `/`.
    var name: String?
    /// The image it was created from, as the engine lists it (`wsscale:local`; an image id
    /// when the tag has since moved to another image).
    var image: String? = nil
    /// Its labels.
    var labels: [String: String]
    /// Its state as the driver reports it.
    var status: DriverInstanceStatus
    /// Whether it has been told to stop and has not yet (Podman's state `stopping`; Docker
    /// shows no such state). The driver counts it as running; the compose warden, as going down.
    var isStopping = false
    /// Published TCP ports: container port → host port.
    var publishedPorts: [Int: Int]
    /// Its address in each network it is attached to, when the listing says.
    var networkAddresses: [String: String]
    /// The address of the swarm node it runs on, for a swarm task; `nil` otherwise.
    var nodeAddress: String? = nil
}

