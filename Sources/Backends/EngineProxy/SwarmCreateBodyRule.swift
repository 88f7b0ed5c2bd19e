import Foundation
import WSScaleCore

/// Which `POST /services/create` bodies the engine proxy lets through in swarm mode: exactly
/// the fields the swarm driver writes (`SwarmServiceSpec`), each with the values the pool
/// allows; every other field, at any level, is refused (no mounts, no privileges, no secrets,
/// no placement, no other network or port). Reading, re-encoding and the shared value checks
/// are `CreateBodyRule`'s.
///
/// | field | allowed |
/// |---|---|
/// | `Name` | `<pool>-…`, a container name |
/// | `Labels` | as a container's (`CreateBodyRule.checkLabels`), plus `com.docker.stack.namespace` = the configured stack when there is one |
/// | `TaskTemplate.ContainerSpec.Image`, `.Args` | the configured image and command |
/// | `TaskTemplate.ContainerSpec.Env` | up to 256 `NAME=value` strings |
/// | `TaskTemplate.ContainerSpec.Labels` | the same as `Labels` |
/// | `TaskTemplate.ContainerSpec.StopGracePeriod` | 0…3600 s, in nanoseconds |
/// | `TaskTemplate.ContainerSpec.Init` | `true` or `false` |
/// | `TaskTemplate.RestartPolicy` | `{"Condition": "none"}` |
/// | `TaskTemplate.Networks` | `[{"Target": <network>}]` when a network is configured, else absent |
/// | `Mode` | `{"Replicated": {"Replicas": 1}}` |
/// | `EndpointSpec.Ports` | `[{"Protocol": "tcp", "TargetPort": <port>, "PublishedPort": 30000…32767, "PublishMode": "host"}]` when publishing is allowed, else absent |
struct SwarmCreateBodyRule: CreateBodyRule {
    let policy: EngineProxyPolicy

    func checkFields(_ fields: [String: JSONValue]) throws {
        try onlyFields(fields, ["Name", "Labels", "TaskTemplate", "Mode", "EndpointSpec"], in: "the body")
        guard let name = fields["Name"]?.string, policy.poolNameProblem(name) == nil else {
            throw EngineProxyRefusal("Name must start with \"\(policy.namePrefix)\"")
        }
        let port = try checkServiceLabels(fields["Labels"], field: "Labels")
        guard let template = fields["TaskTemplate"] else { throw EngineProxyRefusal("TaskTemplate is missing") }
        let task = try object(template, "TaskTemplate")
        try onlyFields(task, ["ContainerSpec", "RestartPolicy", "Networks"], in: "TaskTemplate")
        guard let containerValue = task["ContainerSpec"] else { throw EngineProxyRefusal("TaskTemplate.ContainerSpec is missing") }
        let container = try object(containerValue, "TaskTemplate.ContainerSpec")
        try onlyFields(container, ["Image", "Args", "Env", "Labels", "StopGracePeriod", "Init"], in: "TaskTemplate.ContainerSpec")
        try checkImage(container["Image"], field: "TaskTemplate.ContainerSpec.Image")
        try checkCommand(container["Args"], field: "TaskTemplate.ContainerSpec.Args")
        if let environment = container["Env"] {
            let names = environment.strings?.map { line in line.contains("=") ? String(line.prefix { $0 != "=" }) : "" }
            try checkEnvironmentNames(names, field: "TaskTemplate.ContainerSpec.Env", form: "NAME=value strings")
        }
        guard container["Labels"] == fields["Labels"] else {
            throw EngineProxyRefusal("TaskTemplate.ContainerSpec.Labels must be the service's Labels")
        }
        if let grace = container["StopGracePeriod"] {
            guard let nanoseconds = grace.integer, (0...3600 * 1_000_000_000).contains(nanoseconds) else {
                throw EngineProxyRefusal("TaskTemplate.ContainerSpec.StopGracePeriod must be 0…3600 s in nanoseconds")
            }
        }
        try checkFlag(container["Init"], field: "TaskTemplate.ContainerSpec.Init")
        if let restart = task["RestartPolicy"], restart != .object(["Condition": .string("none")]) {
            throw EngineProxyRefusal("TaskTemplate.RestartPolicy must be {\"Condition\": \"none\"}")
        }
        switch (task["Networks"], policy.network) {
        case (nil, nil), (.null?, nil): break
        case let (networks?, network?) where networks == .array([.object(["Target": .string(network)])]): break
        default: throw EngineProxyRefusal("TaskTemplate.Networks must be \(policy.network.map { "[{\"Target\": \"\($0)\"}]" } ?? "absent")")
        }
        if let mode = fields["Mode"], mode != .object(["Replicated": .object(["Replicas": .integer(1)])]) {
            throw EngineProxyRefusal("Mode must be {\"Replicated\": {\"Replicas\": 1}}")
        }
        if let endpoint = fields["EndpointSpec"] {
            let members = try object(endpoint, "EndpointSpec")
            try onlyFields(members, ["Ports"], in: "EndpointSpec")
            if let ports = members["Ports"], ports != .null {
                guard policy.publishAddress != nil else { throw EngineProxyRefusal("EndpointSpec.Ports: this pool publishes no port") }
                let range = SwarmServiceSpec.publishedPorts
                let published = ports.array?.first?.object?["PublishedPort"]?.integer.map(Int.init) ?? 0
                let allowed = JSONValue.array([.object(["Protocol": .string("tcp"), "TargetPort": .integer(Int64(port)),
                                                        "PublishedPort": .integer(Int64(published)), "PublishMode": .string("host")])])
                guard range.contains(published), ports == allowed else {
                    throw EngineProxyRefusal("EndpointSpec.Ports must be [{\"Protocol\": \"tcp\", \"TargetPort\": \(port), \"PublishedPort\": \(range.lowerBound)…\(range.upperBound), \"PublishMode\": \"host\"}]")
                }
            }
        }
    }

    /// The service's labels: a container's, and the stack's namespace when a stack is
    /// configured (exactly it); returns the port they name.
    private func checkServiceLabels(_ value: JSONValue?, field: String) throws -> Int {
        guard var labels = value?.object else { return try checkLabels(value, field: field) }
        let stack = labels.removeValue(forKey: SwarmLabel.stackNamespace)
        if stack != policy.swarmStack.map(JSONValue.string) {
            throw EngineProxyRefusal("the label \(SwarmLabel.stackNamespace) must be \(policy.swarmStack.map { "\"\($0)\"" } ?? "absent")")
        }
        return try checkLabels(.object(labels), field: field)
    }
}
