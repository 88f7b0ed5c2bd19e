import Foundation

/// `GET /containers/json` items (the fields the driver reads).
struct DockerContainerSummary: Decodable {
    struct PortInfo: Decodable {
        var IP: String?
        var PrivatePort: Int
        var PublicPort: Int?
        var `Type`: String?
    }
    var Id: String
    var Names: [String]?
    var Labels: [String: String]?
    var State: String?
    var Status: String?
    var Ports: [PortInfo]?
    var NetworkSettings: DockerNetworkAttachments?
}

/// The networks a container is attached to, with its address in each (`NetworkSettings.Networks`).
struct DockerNetworkAttachments: Decodable {
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

/// `GET /containers/{id}/json` (the fields the driver reads).
struct DockerContainerInspection: Decodable {
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
        var Networks: [String: DockerNetworkAttachments.Attachment]?
    }
    struct ConfigInfo: Decodable {
        var Labels: [String: String]?
    }
    var Id: String
    var Name: String?
    var State: StateInfo?
    var NetworkSettings: NetworkInfo?
    var Config: ConfigInfo?
}

/// One line of `GET /events`.
struct DockerEvent: Decodable {
    struct ActorInfo: Decodable {
        var ID: String?
        var Attributes: [String: String]?
    }
    var `Type`: String?
    var Action: String?
    var Actor: ActorInfo?
    var time: Int64?
    var timeNano: Int64?
}

/// The daemon's error body: `{"message": "..."}`.
struct DockerErrorBody: Decodable {
    var message: String
}

/// `POST /containers/create` answer.
struct DockerCreatedContainer: Decodable {
    var Id: String
    var Warnings: [String]?
}
