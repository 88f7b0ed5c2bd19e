import Foundation
import WSScaleCore

/// Which `POST /libpod/containers/create` bodies (libpod's SpecGenerator) the engine proxy
/// lets through in Podman mode: exactly the fields the Podman driver writes
/// (`PodmanContainerSpec`), each with the values the pool allows. Every other field, at any
/// level, is refused, naming it: an allow-list, not a list of known-bad fields. Reading,
/// re-encoding and the shared value checks are `CreateBodyRule`'s.
///
/// | field | allowed |
/// |---|---|
/// | `name` | one of the pool's names (`<pool>-…`) |
/// | `image` | the configured image, exactly |
/// | `command` | the configured command (absent or `null` when none is configured) |
/// | `env` | up to 256 `NAME: "value"` members |
/// | `labels` | `wsscale.pool` = the pool (and the compose project's), `wsscale.instance`, `wsscale.port`; no other label |
/// | `stop_timeout` | 0…3600 |
/// | `portmappings` | `[{"host_ip": <publish address>, "container_port": <port>, "host_port": 0, "protocol": "tcp"}]`, only when publishing is allowed |
/// | `netns` | `{"nsmode": "bridge"}`, always |
/// | `networks` | `{<configured network>: {}}` (absent when none is configured) |
/// | `r_limits` | `[{"type": "nofile" or "nproc", "hard": n, "soft": n}]`, each type once, soft ≤ hard ≤ 1,048,576 |
/// | `init` | `true` or `false` |
/// | `restart_policy` | `"no"` |
///
/// `netns` is required: without it podman takes the namespace mode from `containers.conf`,
/// which this rule cannot see.
struct LibpodCreateBodyRule: CreateBodyRule {
    let policy: EngineProxyPolicy

    /// The highest `nofile`/`nproc` limit a container may ask for (`1 << 20`, the kernel's
    /// default `fs.nr_open`).
    static let maximumResourceLimit: Int64 = 1 << 20

    func checkFields(_ fields: [String: JSONValue]) throws {
        try onlyFields(fields, ["name", "image", "command", "env", "labels", "stop_timeout", "portmappings",
                                "netns", "networks", "r_limits", "init", "restart_policy"], in: "the body")
        guard let name = fields["name"]?.string else { throw EngineProxyRefusal("name must be one of the pool's names (\(policy.namePrefix)…)") }
        if let problem = policy.poolNameProblem(name) { throw EngineProxyRefusal("name: \(problem)") }
        try checkImage(fields["image"], field: "image")
        try checkCommand(fields["command"], field: "command")
        if let environment = fields["env"] {
            let members = environment.object
            let names = members.flatMap { $0.values.allSatisfy { $0.string != nil } ? Array($0.keys) : nil }
            try checkEnvironmentNames(names, field: "env", form: "NAME: \"value\" members")
        }
        let port = try checkLabels(fields["labels"], field: "labels")
        try checkStopTimeout(fields["stop_timeout"], field: "stop_timeout")
        try checkPortMappings(fields["portmappings"], port: port)
        try checkNamespace(fields["netns"])
        try checkNetworks(fields["networks"])
        try checkResourceLimits(fields["r_limits"])
        try checkFlag(fields["init"], field: "init")
        if let restart = fields["restart_policy"], restart != .string("no") {
            throw EngineProxyRefusal("restart_policy must be \"no\"")
        }
    }

    private func checkPortMappings(_ value: JSONValue?, port: Int) throws {
        guard let value, value != .null else { return }
        guard let address = policy.publishAddress else { throw EngineProxyRefusal("portmappings: this pool publishes no port") }
        let expected = "[{\"host_ip\": \"\(address)\", \"container_port\": \(port), \"host_port\": 0, \"protocol\": \"tcp\"}]"
        guard let mappings = value.array, mappings.count == 1 else { throw EngineProxyRefusal("portmappings must be \(expected)") }
        let mapping = try object(mappings[0], "portmappings[0]")
        try onlyFields(mapping, ["host_ip", "container_port", "host_port", "protocol"], in: "portmappings[0]")
        let allowed: [String: JSONValue] = ["host_ip": .string(address), "container_port": .integer(Int64(port)),
                                            "host_port": .integer(0), "protocol": .string("tcp")]
        guard mapping == allowed else { throw EngineProxyRefusal("portmappings must be \(expected)") }
    }

    private func checkNamespace(_ value: JSONValue?) throws {
        guard let value else { throw EngineProxyRefusal("netns must be {\"nsmode\": \"bridge\"}") }
        let namespace = try object(value, "netns")
        try onlyFields(namespace, ["nsmode"], in: "netns")
        guard namespace["nsmode"] == .string("bridge") else { throw EngineProxyRefusal("netns must be {\"nsmode\": \"bridge\"}") }
    }

    private func checkNetworks(_ value: JSONValue?) throws {
        guard let network = policy.network else {
            guard value == nil || value == .null else { throw EngineProxyRefusal("networks must be absent: this pool joins no network") }
            return
        }
        guard let value else { throw EngineProxyRefusal("networks must be {\"\(network)\": {}}") }
        let networks = try object(value, "networks")
        try onlyFields(networks, [network], in: "networks")
        guard let options = networks[network] else { throw EngineProxyRefusal("networks must be {\"\(network)\": {}}") }
        try onlyFields(try object(options, "networks.\(network)"), [], in: "networks.\(network)")
    }

    private func checkResourceLimits(_ value: JSONValue?) throws {
        guard let value, value != .null else { return }
        let rule = "r_limits must be [{\"type\": \"nofile\" or \"nproc\", \"hard\": n, \"soft\": n}], each type once, soft ≤ hard ≤ \(Self.maximumResourceLimit)"
        guard let limits = value.array else { throw EngineProxyRefusal(rule) }
        var seen = Set<String>()
        for (index, item) in limits.enumerated() {
            let limit = try object(item, "r_limits[\(index)]")
            try onlyFields(limit, ["type", "hard", "soft"], in: "r_limits[\(index)]")
            guard let type = limit["type"]?.string, ["nofile", "nproc"].contains(type), seen.insert(type).inserted,
                  let hard = limit["hard"]?.integer, let soft = limit["soft"]?.integer,
                  (0...Self.maximumResourceLimit).contains(hard), (0...hard).contains(soft) else {
                throw EngineProxyRefusal(rule)
            }
        }
    }
}
