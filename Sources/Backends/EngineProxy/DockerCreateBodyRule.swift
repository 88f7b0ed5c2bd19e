import Foundation
import WSScaleCore

/// Why a create body was refused.
struct CreateBodyProblem: Error, Equatable {
    /// Names the field and what was wrong with it.
    var reason: String
}

/// Which `POST /containers/create` bodies the engine proxy lets through: exactly the fields
/// the Docker driver writes (`DockerContainerSpec`), each with the values the pool allows.
/// Every other field, at any level, is refused: an allow-list, not a list of known-bad fields.
///
/// | field | allowed |
/// |---|---|
/// | `Image` | the configured image, exactly |
/// | `Cmd` | the configured command (absent or `null` when none is configured) |
/// | `Env` | up to 256 `NAME=value` strings |
/// | `Labels` | `wsscale.pool` = the pool, `wsscale.instance`, `wsscale.port`; no other label |
/// | `StopTimeout` | 0…3600 |
/// | `ExposedPorts` | `{"<port>/tcp": {}}`, one port |
/// | `HostConfig.PortBindings` | `{"<port>/tcp": [{"HostIp": <publish address>, "HostPort": ""}]}`, only when publishing is allowed |
/// | `HostConfig.NetworkMode` | the configured network (absent when none is configured) |
/// | `HostConfig.RestartPolicy` | `{"Name": "no"}` |
/// | `HostConfig.Init` | `true` or `false` |
///
/// The body the engine gets is this one encoded again from the checked value, so the
/// engine never reads a field this rule did not see (no JSON escapes, duplicate keys or
/// case-folded key spellings get past it). Pure.
struct DockerCreateBodyRule {
    let policy: EngineProxyPolicy

    /// The body to send on, or why not.
    func check(_ body: Data) -> Result<Data, CreateBodyProblem> {
        guard !body.isEmpty, body.count <= EngineProxyPolicy.maximumBodyBytes else {
            return .failure(CreateBodyProblem(reason: "must be a JSON object of at most \(EngineProxyPolicy.maximumBodyBytes) bytes"))
        }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: body), let fields = value.object else {
            return .failure(CreateBodyProblem(reason: "is not a JSON object"))
        }
        do {
            try checkTopLevel(fields)
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return .success(try encoder.encode(value))
        } catch let problem as CreateBodyProblem {
            return .failure(problem)
        } catch {
            return .failure(CreateBodyProblem(reason: "cannot be encoded again: \(error)"))
        }
    }

    private func checkTopLevel(_ fields: [String: JSONValue]) throws {
        try onlyFields(fields, ["Image", "Cmd", "Env", "Labels", "StopTimeout", "ExposedPorts", "HostConfig"], in: "the body")
        guard fields["Image"]?.string == policy.image else {
            throw CreateBodyProblem(reason: "Image must be \"\(policy.image)\"")
        }
        switch (fields["Cmd"], policy.command) {
        case (nil, nil), (.null?, nil): break
        case let (command?, expected?) where command.strings == expected: break
        default: throw CreateBodyProblem(reason: "Cmd must be \(policy.command.map { "\($0)" } ?? "absent (the image's own)")")
        }
        if let environment = fields["Env"] {
            guard let lines = environment.strings, lines.count <= 256,
                  lines.allSatisfy({ $0.contains("=") && !$0.hasPrefix("=") }) else {
                throw CreateBodyProblem(reason: "Env must be at most 256 NAME=value strings")
            }
        }
        let port = try checkLabels(fields["Labels"])
        if let timeout = fields["StopTimeout"] {
            guard let seconds = timeout.integer, (0...3600).contains(seconds) else {
                throw CreateBodyProblem(reason: "StopTimeout must be whole seconds in 0…3600")
            }
        }
        if let exposed = fields["ExposedPorts"] {
            guard let ports = exposed.object, ports.count == 1, ports["\(port)/tcp"] == .object([:]) else {
                throw CreateBodyProblem(reason: "ExposedPorts must be {\"\(port)/tcp\": {}}")
            }
        }
        if let host = fields["HostConfig"] {
            guard let hostFields = host.object else { throw CreateBodyProblem(reason: "HostConfig must be an object") }
            try checkHostConfig(hostFields, port: port)
        } else if policy.network != nil {
            throw CreateBodyProblem(reason: "HostConfig.NetworkMode must be \"\(policy.network ?? "")\"")
        }
    }

    /// The labels, and the port they name.
    private func checkLabels(_ labels: JSONValue?) throws -> String {
        guard let labels = labels?.object else {
            throw CreateBodyProblem(reason: "Labels must name the pool (\(ContainerLabel.pool)=\(policy.pool)), the instance and its port")
        }
        let fixed = ContainerLabel.fixed(pool: policy.pool, composeProject: policy.composeProject)
        try onlyFields(labels, Set(fixed.keys).union([ContainerLabel.instance, ContainerLabel.port]), in: "Labels")
        for (name, value) in fixed.sorted(by: { $0.key < $1.key }) where labels[name]?.string != value {
            throw CreateBodyProblem(reason: "the label \(name) must be \"\(value)\"")
        }
        guard let instance = labels[ContainerLabel.instance]?.string, ContainerDriver.isValidName(instance) else {
            throw CreateBodyProblem(reason: "the label \(ContainerLabel.instance) must be an instance id")
        }
        guard let port = labels[ContainerLabel.port]?.string, let number = Int(port), (1...65535).contains(number), String(number) == port else {
            throw CreateBodyProblem(reason: "the label \(ContainerLabel.port) must be a port number")
        }
        return port
    }

    private func checkHostConfig(_ fields: [String: JSONValue], port: String) throws {
        try onlyFields(fields, ["PortBindings", "NetworkMode", "RestartPolicy", "Init"], in: "HostConfig")
        switch (fields["NetworkMode"], policy.network) {
        case (nil, nil): break
        case let (mode?, network?) where mode.string == network: break
        default: throw CreateBodyProblem(reason: "HostConfig.NetworkMode must be \(policy.network.map { "\"\($0)\"" } ?? "absent")")
        }
        if let bindings = fields["PortBindings"], bindings != .null {
            guard let address = policy.publishAddress else {
                throw CreateBodyProblem(reason: "HostConfig.PortBindings: this pool publishes no port")
            }
            let allowed = JSONValue.object(["\(port)/tcp": .array([.object(["HostIp": .string(address), "HostPort": .string("")])])])
            guard bindings == allowed else {
                throw CreateBodyProblem(reason: "HostConfig.PortBindings must be {\"\(port)/tcp\": [{\"HostIp\": \"\(address)\", \"HostPort\": \"\"}]}")
            }
        }
        if let restart = fields["RestartPolicy"], restart != .object(["Name": .string("no")]) {
            throw CreateBodyProblem(reason: "HostConfig.RestartPolicy must be {\"Name\": \"no\"}")
        }
        if let initProcess = fields["Init"], case .bool = initProcess {} else if fields["Init"] != nil {
            throw CreateBodyProblem(reason: "HostConfig.Init must be true or false")
        }
    }

    /// Refuses the first field of `fields` outside `allowed`.
    private func onlyFields(_ fields: [String: JSONValue], _ allowed: Set<String>, in place: String) throws {
        if let extra = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw CreateBodyProblem(reason: "\(place) may not set \"\(extra)\" (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }
}
