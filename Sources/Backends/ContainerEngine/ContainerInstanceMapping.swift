import WSScaleCore

/// How an engine's view of a container becomes the driver's view. Pure.
enum ContainerInstanceMapping {
    /// The instance a listed container is, with its status and, when it runs, its endpoint.
    static func instance(_ container: ContainerListing, configuration: ContainerDriverConfiguration) -> DriverInstance {
        let id = container.labels[ContainerLabel.instance] ?? container.name ?? container.id
        let port = container.labels[ContainerLabel.port].flatMap(Int.init) ?? configuration.containerPort
        var endpoint: Endpoint?
        if container.status == .running {
            switch configuration.reachability {
            case let .publish(address, _):
                endpoint = container.publishedPorts[port].map { Endpoint(host: reachableHost(address), port: $0) }
            case let .network(name):
                endpoint = container.networkAddresses[name].map { Endpoint(host: $0, port: port) }
            }
        }
        return DriverInstance(id: id, status: container.status, endpoint: endpoint)
    }

    /// A container's state (`created`, `running`, `exited` …) as the driver reports it.
    /// - Parameters:
    ///   - state: the engine's state word.
    ///   - exitCode: the exit code, when the container has exited and the engine says.
    static func status(state: String, exitCode: Int32?) -> DriverInstanceStatus {
        switch state {
        case "running", "paused", "stopping": return .running
        case "created", "configured", "initialized", "restarting": return .starting
        default: return .exited(code: exitCode)
        }
    }

    /// The code in Docker's status text `Exited (137) 3 seconds ago`, if any.
    static func exitCode(_ statusText: String) -> Int32? {
        guard let open = statusText.firstIndex(of: "("),
              let close = statusText[open...].firstIndex(of: ")") else { return nil }
        return Int32(statusText[statusText.index(after: open)..<close])
    }

    /// Where the balancer reaches an inspected container, once the engine has published its
    /// port or given it an address; `nil` until then.
    static func endpoint(_ inspection: ContainerInspection, configuration: ContainerDriverConfiguration) -> Endpoint? {
        let port = inspection.Config?.Labels?[ContainerLabel.port].flatMap(Int.init) ?? configuration.containerPort
        switch configuration.reachability {
        case let .publish(address, _):
            return publishedEndpoint(inspection, port: port, hostAddress: address)
        case let .network(name):
            return networkEndpoint(inspection, port: port, network: name)
        }
    }

    /// The published port of a running container found by inspection, if any yet.
    static func publishedEndpoint(_ inspection: ContainerInspection, port: Int, hostAddress: String) -> Endpoint? {
        guard let bindings = inspection.NetworkSettings?.Ports?["\(port)/tcp"] ?? nil else { return nil }
        guard let hostPort = bindings.compactMap({ $0.HostPort.flatMap(Int.init) }).first else { return nil }
        return Endpoint(host: reachableHost(hostAddress), port: hostPort)
    }

    /// Where a container attached to `network` is reached: its address there (HAProxy 2.6
    /// does not resolve the names of servers added at run time, so the address, not the name).
    static func networkEndpoint(_ inspection: ContainerInspection, port: Int, network: String) -> Endpoint? {
        ContainerNetworkAttachments(Networks: inspection.NetworkSettings?.Networks).address(in: network)
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
