/// `GET /libpod/containers/json` items (the fields the driver reads).
struct PodmanContainerSummary: Decodable {
    struct PortInfo: Decodable {
        var host_ip: String?
        var container_port: Int
        var host_port: Int?
        var `protocol`: String?
    }
    var Id: String
    var Names: [String]?
    var Image: String?
    var Labels: [String: String]?
    var State: String?
    var ExitCode: Int32?
    var Exited: Bool?
    var Ports: [PortInfo]?

    /// The listing as the shared driver logic reads it (libpod lists network names, not
    /// addresses: a networked container's endpoint comes from inspection).
    var listing: ContainerListing {
        var published: [Int: Int] = [:]
        for port in Ports ?? [] where (port.protocol ?? "tcp") == "tcp" {
            if let host = port.host_port, host > 0, published[port.container_port] == nil { published[port.container_port] = host }
        }
        return ContainerListing(
            id: Id, name: Names?.first, image: Image, labels: Labels ?? [:],
            status: ContainerInstanceMapping.status(state: State ?? "", exitCode: Exited == true ? ExitCode : nil),
            isStopping: State == "stopping",
            publishedPorts: published, networkAddresses: [:])
    }
}
