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
    var Image: String?
    var Labels: [String: String]?
    var State: String?
    var Status: String?
    var Ports: [PortInfo]?
    var NetworkSettings: ContainerNetworkAttachments?

    /// The listing as the shared driver logic reads it.
    var listing: ContainerListing {
        var published: [Int: Int] = [:]
        for port in Ports ?? [] where (port.Type ?? "tcp") == "tcp" {
            if let host = port.PublicPort, published[port.PrivatePort] == nil { published[port.PrivatePort] = host }
        }
        let addresses = (NetworkSettings?.Networks ?? [:]).compactMapValues { attachment in
            attachment.IPAddress.flatMap { $0.isEmpty ? nil : $0 }
        }
        return ContainerListing(
            id: Id, name: Names?.first.map { String($0.drop(while: { $0 == "/" })) }, image: Image, labels: Labels ?? [:],
            status: ContainerInstanceMapping.status(state: State ?? "", exitCode: ContainerInstanceMapping.exitCode(Status ?? "")),
            isStopping: State == "stopping",
            publishedPorts: published, networkAddresses: addresses)
    }
}
