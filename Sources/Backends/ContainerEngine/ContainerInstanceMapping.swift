import WSScaleCore

/// How an engine's view of a container becomes the driver's view. Pure.
enum ContainerInstanceMapping {
    /// The instance a listed container is, with its status and, when it runs, its endpoint.
    static func instance(_ container: ContainerListing, configuration: ContainerDriverConfiguration) -> DriverInstance {
        let name = container.name ?? container.id
        let id = container.labels[ContainerLabel.instance]
            ?? (name.hasPrefix(configuration.namePrefix) ? String(name.dropFirst(configuration.namePrefix.count)) : name)
        let port = container.labels[ContainerLabel.port].flatMap(Int.init) ?? configuration.containerPort
        var endpoint: Endpoint?
        if container.status == .running {
            switch configuration.reachability {
            case let .publish(address, _):
                endpoint = container.publishedPorts[port].map { Endpoint(host: reachableHost(address, node: container.nodeAddress), port: $0) }
            case let .network(name):
                endpoint = container.networkAddresses[name].map { Endpoint(host: $0, port: port) }
            }
        }
        return DriverInstance(id: id, status: container.status, endpoint: endpoint)
    }

    /// Why a container labelled with the pool is not one of its instances, or `nil` when it
    /// is: the label alone is not enough (anyone who can create a container can set it), so
    /// its name must carry the pool's prefix and it must run the configured image.
    static func adoptionProblem(_ container: ContainerListing, configuration: ContainerDriverConfiguration) -> String? {
        guard let name = container.name, name.hasPrefix(configuration.namePrefix) else {
            return "its name \"\(container.name ?? "")\" does not start with \"\(configuration.namePrefix)\""
        }
        guard let instance = container.labels[ContainerLabel.instance], configuration.containerName(instance) == name else {
            return "its label \(ContainerLabel.instance) does not match its name \"\(name)\""
        }
        guard let image = container.image, ContainerImageReference.same(image, configuration.image) else {
            return "it runs the image \"\(container.image ?? "")\", not \"\(configuration.image)\""
        }
        return nil
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
            return publishedEndpoint(inspection, port: port, hostAddress: address).map { endpoint in
                Endpoint(host: reachableHost(address, node: inspection.NodeAddress), port: endpoint.port)
            }
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

    /// The address the balancer dials for a port published on `address` by a container on the
    /// node at `node` (a swarm task's node; `nil` for the engine's own machine): a wildcard is
    /// reached at the node's address, or through loopback on the engine's own machine.
    static func reachableHost(_ address: String, node: String?) -> String {
        if let node, !node.isEmpty, isWildcard(address) { return node }
        return reachableHost(address)
    }

    /// Whether a publish address means every address of the machine (`0.0.0.0`, `::`, or none).
    static func isWildcard(_ address: String) -> Bool {
        ["", "0.0.0.0", "::"].contains(address)
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

/// Image references compared the way engines write them. Pure.
enum ContainerImageReference {
    /// Whether two references name the same image: equal once the default registry
    /// (`docker.io/library/`, `docker.io/`, podman's `localhost/`) and the `:latest` tag are
    /// written out the same way.
    static func same(_ first: String, _ second: String) -> Bool {
        normalized(first) == normalized(second)
    }

    /// The reference without a default registry prefix and with a tag (`:latest` when none).
    static func normalized(_ reference: String) -> String {
        var text = Substring(reference)
        for prefix in ["docker.io/library/", "docker.io/", "localhost/"] where text.hasPrefix(prefix) {
            text = text.dropFirst(prefix.count)
            break
        }
        let lastComponent = text.split(separator: "/").last ?? text
        if !lastComponent.contains(":") && !lastComponent.contains("@") { return text + ":latest" }
        return String(text)
    }
}
