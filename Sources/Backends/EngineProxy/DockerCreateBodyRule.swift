import Foundation
import WSScaleCore

/// Which `POST /containers/create` bodies the engine proxy lets through in Docker mode:
/// exactly the fields the Docker driver writes (`DockerContainerSpec`), each with the values
/// the pool allows. Every other field, at any level, is refused: an allow-list, not a list
/// of known-bad fields. Reading, re-encoding and the shared value checks are
/// `CreateBodyRule`'s.
///
/// | field | allowed |
/// |---|---|
/// | `Image` | the configured image, exactly |
/// | `Cmd` | the configured command (absent or `null` when none is configured) |
/// | `Env` | up to 256 `NAME=value` strings |
/// | `Labels` | `wsscale.pool` = the pool, `wsscale.instance`, `wsscale.port`, and in a compose project its labels with their fixed values (`ContainerLabel.fixed`); no other label |
/// | `StopTimeout` | 0…3600 |
/// | `ExposedPorts` | `{"<port>/tcp": {}}`, one port |
/// | `HostConfig.PortBindings` | `{"<port>/tcp": [{"HostIp": <publish address>, "HostPort": ""}]}`, only when publishing is allowed |
/// | `HostConfig.NetworkMode` | the configured network (absent when none is configured) |
/// | `HostConfig.RestartPolicy` | `{"Name": "no"}` |
/// | `HostConfig.Init` | `true` or `false` |
struct DockerCreateBodyRule: CreateBodyRule {
    let policy: EngineProxyPolicy

    func checkFields(_ fields: [String: JSONValue]) throws {
        try onlyFields(fields, ["Image", "Cmd", "Env", "Labels", "StopTimeout", "ExposedPorts", "HostConfig"], in: "the body")
        try checkImage(fields["Image"], field: "Image")
        try checkCommand(fields["Cmd"], field: "Cmd")
        if let environment = fields["Env"] {
            let names = environment.strings?.map { line in line.contains("=") ? String(line.prefix { $0 != "=" }) : "" }
            try checkEnvironmentNames(names, field: "Env", form: "NAME=value strings")
        }
        let port = try checkLabels(fields["Labels"], field: "Labels")
        try checkStopTimeout(fields["StopTimeout"], field: "StopTimeout")
        if let exposed = fields["ExposedPorts"] {
            guard let ports = exposed.object, ports.count == 1, ports["\(port)/tcp"] == .object([:]) else {
                throw EngineProxyRefusal("ExposedPorts must be {\"\(port)/tcp\": {}}")
            }
        }
        if let host = fields["HostConfig"] {
            try checkHostConfig(try object(host, "HostConfig"), port: port)
        } else if policy.network != nil {
            throw EngineProxyRefusal("HostConfig.NetworkMode must be \"\(policy.network ?? "")\"")
        }
    }

    private func checkHostConfig(_ fields: [String: JSONValue], port: Int) throws {
        try onlyFields(fields, ["PortBindings", "NetworkMode", "RestartPolicy", "Init"], in: "HostConfig")
        switch (fields["NetworkMode"], policy.network) {
        case (nil, nil): break
        case let (mode?, network?) where mode.string == network: break
        default: throw EngineProxyRefusal("HostConfig.NetworkMode must be \(policy.network.map { "\"\($0)\"" } ?? "absent")")
        }
        if let bindings = fields["PortBindings"], bindings != .null {
            guard let address = policy.publishAddress else {
                throw EngineProxyRefusal("HostConfig.PortBindings: this pool publishes no port")
            }
            let allowed = JSONValue.object(["\(port)/tcp": .array([.object(["HostIp": .string(address), "HostPort": .string("")])])])
            guard bindings == allowed else {
                throw EngineProxyRefusal("HostConfig.PortBindings must be {\"\(port)/tcp\": [{\"HostIp\": \"\(address)\", \"HostPort\": \"\"}]}")
            }
        }
        if let restart = fields["RestartPolicy"], restart != .object(["Name": .string("no")]) {
            throw EngineProxyRefusal("HostConfig.RestartPolicy must be {\"Name\": \"no\"}")
        }
        try checkFlag(fields["Init"], field: "HostConfig.Init")
    }
}
