import WSScaleCore

/// How Docker's view of a container becomes the driver's view. Pure.
enum DockerInstanceMapping {
    /// The instance a listed container is, with its status and, when it runs, its endpoint.
    static func instance(_ container: DockerContainerSummary, configuration: DockerDriverConfiguration) -> DriverInstance {
        let id = container.Labels?[DockerLabel.instance]
            ?? container.Names?.first.map { String($0.drop(while: { $0 == "/" })) }
            ?? container.Id
        let port = container.Labels?[DockerLabel.port].flatMap(Int.init) ?? configuration.containerPort
        let status = status(state: container.State ?? "", statusText: container.Status ?? "")
        var endpoint: Endpoint?
        if status == .running {
            switch configuration.reachability {
            case let .publish(address, _):
                let published = (container.Ports ?? []).first { $0.PrivatePort == port && $0.PublicPort != nil && ($0.Type ?? "tcp") == "tcp" }
                endpoint = published.flatMap { $0.PublicPort }.map { Endpoint(host: reachableHost(address), port: $0) }
            case let .network(name):
                endpoint = container.NetworkSettings?.address(in: name).map { Endpoint(host: $0, port: port) }
            }
        }
        return DriverInstance(id: id, status: status, endpoint: endpoint)
    }

    /// A container's state (`created`, `running`, `exited` …) as the driver reports it;
    /// the exit code of an exited container is read from its status text (`Exited (137) 3 seconds ago`).
    static func status(state: String, statusText: String) -> DriverInstanceStatus {
        switch state {
        case "running", "paused": return .running
        case "created", "restarting": return .starting
        default: return .exited(code: exitCode(statusText))
        }
    }

    /// The code in `Exited (137) 3 seconds ago`, if any.
    static func exitCode(_ statusText: String) -> Int32? {
        guard let open = statusText.firstIndex(of: "("),
              let close = statusText[open...].firstIndex(of: ")") else { return nil }
        return Int32(statusText[statusText.index(after: open)..<close])
    }

    /// The published port of a running container found by inspection, if any yet.
    static func publishedEndpoint(_ inspection: DockerContainerInspection, port: Int, hostAddress: String) -> Endpoint? {
        guard let bindings = inspection.NetworkSettings?.Ports?["\(port)/tcp"] ?? nil else { return nil }
        guard let hostPort = bindings.compactMap({ $0.HostPort.flatMap(Int.init) }).first else { return nil }
        return Endpoint(host: reachableHost(hostAddress), port: hostPort)
    }

    /// Where a container attached to `network` is reached: its address there (HAProxy 2.6
    /// does not resolve the names of servers added at run time, so the address, not the name).
    static func networkEndpoint(_ inspection: DockerContainerInspection, port: Int, network: String) -> Endpoint? {
        DockerNetworkAttachments(Networks: inspection.NetworkSettings?.Networks).address(in: network)
            .map { Endpoint(host: $0, port: port) }
    }

    /// The address the balancer dials for a port published on `address` (a wildcard is
    /// reached through loopback).
    static func reachableHost(_ address: String) -> String {
        switch address {
        case "", "0.0.0.0": return "127.0.0.1"
        case "::": return "::1"
        default: return address
        }
    }

    /// Words for an exit code: a code above 128 is a signal (137 = SIGKILL).
    static func exitReason(code: Int32?, oomKilled: Bool) -> String {
        var words: String
        switch code {
        case nil: words = "container died"
        case 137?: words = "container killed (SIGKILL, exit code 137)"
        case 143?: words = "container terminated (SIGTERM, exit code 143)"
        case let code? where code > 128: words = "container killed by signal \(code - 128) (exit code \(code))"
        case let code?: words = "container exited with code \(code)"
        }
        if oomKilled { words += ", out of memory" }
        return words
    }
}
