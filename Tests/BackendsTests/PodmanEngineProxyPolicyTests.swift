import Foundation
import Testing
import WSScaleCore
import WSScaleCurlHTTP
@testable import WSScaleBackends

/// The engine proxy's libpod rules (Podman mode), call by call: what the Podman driver sends
/// passes; every create field outside the allow-list, at any level, and every other image,
/// network, name, namespace or host address is refused with a reason naming it; Docker mode
/// refuses libpod paths and Podman mode refuses Docker's. Pure (the proxy in front of the
/// real service is in `PodmanEngineProxyTests`).
@Suite struct PodmanEngineProxyPolicyTests {
    static let published = ContainerDriverConfiguration(engine: .podman, image: "localhost/wsscale:local", pool: "p1")
    static let networked = ContainerDriverConfiguration(engine: .podman, image: "localhost/wsscale:local", pool: "p1",
                                                        reachability: .network(name: "wsscale_net"))
    static let publishedAndNetworked = ContainerDriverConfiguration(
        engine: .podman, image: "localhost/wsscale:local", pool: "p1", reachability: .publish(hostAddress: "127.0.0.1", network: "wsscale_net"))
    static let composed = ContainerDriverConfiguration(
        engine: .podman, image: "localhost/wsscale:local", pool: "p1", reachability: .network(name: "wsscale_net"),
        environment: ["REDIS_URL": "redis://redis:6379"], command: ["wsscale", "server"], composeProject: "wsscale")
    static let create = "/v4.0.0/libpod/containers/create"

    let policy = EngineProxyPolicy(configuration: published)

    /// The body the Podman driver sends for instance `ws-1`, as its HTTP client encodes it.
    static func driverBody(_ configuration: ContainerDriverConfiguration, id: String = "ws-1") throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(PodmanContainerSpec(ContainerSpecification.make(for: LaunchRequest(id: id), configuration: configuration)))
    }

    /// The driver's body for `configuration`, changed by `change`.
    static func changedBody(_ configuration: ContainerDriverConfiguration = published, _ change: (inout [String: JSONValue]) -> Void) throws -> Data {
        var fields = try JSONDecoder().decode(JSONValue.self, from: driverBody(configuration)).object ?? [:]
        change(&fields)
        return try JSONEncoder().encode(JSONValue.object(fields))
    }

    func decide(_ method: String, _ uri: String, body: Data = Data(), policy: EngineProxyPolicy? = nil) -> EngineProxyDecision {
        (policy ?? self.policy).decide(EngineProxyRequest(method: method, uri: uri, body: body))
    }

    func reason(_ decision: EngineProxyDecision) -> String? {
        if case let .refuse(status, reason) = decision, status == 403 { return reason }
        return nil
    }

    @Test(arguments: [published, networked, publishedAndNetworked, composed])
    func letsTheDriversCreateThrough(configuration: ContainerDriverConfiguration) throws {
        let body = try Self.driverBody(configuration)
        let decision = decide("POST", Self.create, body: body, policy: EngineProxyPolicy(configuration: configuration))
        guard case let .forward(method, uri, forwarded?) = decision else { Issue.record("refused: \(decision)"); return }
        #expect(method == "POST")
        #expect(uri == Self.create)
        // What goes on is the checked value encoded again: the same JSON, byte for byte (both sorted).
        #expect(forwarded == body)
    }

    @Test func theDriversBodiesCarryWhatTheRulesExpect() throws {
        // The rules are written against these bodies: if the driver changes them, this says so.
        let published = try JSONDecoder().decode(JSONValue.self, from: Self.driverBody(Self.published)).object ?? [:]
        #expect(Set(published.keys) == ["name", "image", "env", "labels", "stop_timeout", "portmappings", "netns", "r_limits", "init", "restart_policy"])
        let composed = try JSONDecoder().decode(JSONValue.self, from: Self.driverBody(Self.composed)).object ?? [:]
        #expect(Set(composed.keys) == ["name", "image", "command", "env", "labels", "stop_timeout", "netns", "networks", "r_limits", "init", "restart_policy"])
        #expect(composed["labels"]?.object?["io.podman.compose.project"] == .string("wsscale"))
    }

    /// Each field or value outside the rule, at the top or nested, and the name it is refused with.
    @Test(arguments: [
        ("privileged", JSONValue.bool(true), "\"privileged\""),
        ("mounts", .array([.object(["destination": .string("/host"), "source": .string("/"), "type": .string("bind")])]), "\"mounts\""),
        ("volumes", .array([.object(["Dest": .string("/v"), "Name": .string("x")])]), "\"volumes\""),
        ("devices", .array([.object(["path": .string("/dev/sda")])]), "\"devices\""),
        ("cap_add", .array([.string("SYS_ADMIN")]), "\"cap_add\""),
        ("seccomp_policy", .string("unconfined"), "\"seccomp_policy\""),
        ("seccomp_profile_path", .string("unconfined"), "\"seccomp_profile_path\""),
        ("selinux_opts", .array([.string("disable")]), "\"selinux_opts\""),
        ("user", .string("0"), "\"user\""),
        ("userns", .object(["nsmode": .string("host")]), "\"userns\""),
        ("pidns", .object(["nsmode": .string("host")]), "\"pidns\""),
        ("ipcns", .object(["nsmode": .string("host")]), "\"ipcns\""),
        ("utsns", .object(["nsmode": .string("host")]), "\"utsns\""),
        ("cgroupns", .object(["nsmode": .string("host")]), "\"cgroupns\""),
        ("cgroup_parent", .string("/"), "\"cgroup_parent\""),
        ("oci_runtime", .string("runc"), "\"oci_runtime\""),
        ("sysctl", .object(["kernel.core_pattern": .string("|/x")]), "\"sysctl\""),
        ("unmask", .array([.string("ALL")]), "\"unmask\""),
        ("mask", .array([]), "\"mask\""),
        ("hostadd", .array([.string("x:1.2.3.4")]), "\"hostadd\""),
        ("entrypoint", .array([.string("/bin/sh")]), "\"entrypoint\""),
        ("work_dir", .string("/"), "\"work_dir\""),
        ("Name", .string("p1-ws-1"), "\"Name\""),
        ("Privileged", .bool(true), "\"Privileged\""),
        ("image", .string("docker.io/library/alpine"), "image must be \"localhost/wsscale:local\""),
        ("command", .array([.string("sh"), .string("-c"), .string("id")]), "command must be absent"),
        ("name", .string("redis"), "must start with \"p1-\""),
        ("name", .string("p1-"), "must start with \"p1-\""),
        ("name", .string("p1-../x"), "must start with \"p1-\""),
        ("stop_timeout", .integer(99999), "stop_timeout must be whole seconds"),
        ("env", .object(["A": .integer(1)]), "env must be"),
        ("env", .object(["A=B": .string("c")]), "env must be"),
        ("env", .array([.string("A=b")]), "env must be"),
        ("netns", .object(["nsmode": .string("host")]), "netns must be {\"nsmode\": \"bridge\"}"),
        ("netns", .object(["nsmode": .string("ns"), "path": .string("/proc/1/ns/net")]), "\"path\""),
        ("netns", .object(["nsmode": .string("container"), "value": .string("abc")]), "\"value\""),
        ("networks", .object(["podman": .object([:])]), "networks must be absent"),
        ("portmappings", .array([.object(["host_ip": .string("0.0.0.0"), "container_port": .integer(8088), "host_port": .integer(0), "protocol": .string("tcp")])]), "portmappings must be"),
        ("portmappings", .array([.object(["host_ip": .string("127.0.0.1"), "container_port": .integer(8088), "host_port": .integer(22), "protocol": .string("tcp")])]), "portmappings must be"),
        ("portmappings", .array([.object(["container_port": .integer(8088), "host_port": .integer(0), "protocol": .string("tcp")])]), "portmappings must be"),
        ("portmappings", .array([.object(["host_ip": .string("127.0.0.1"), "container_port": .integer(8088), "host_port": .integer(0), "protocol": .string("tcp"), "range": .integer(100)])]), "\"range\""),
        ("r_limits", .array([.object(["type": .string("core"), "hard": .integer(1), "soft": .integer(1)])]), "r_limits must be"),
        ("r_limits", .array([.object(["type": .string("nofile"), "hard": .integer(2_000_000), "soft": .integer(1)])]), "r_limits must be"),
        ("r_limits", .array([.object(["type": .string("nofile"), "hard": .integer(1), "soft": .integer(1), "x": .integer(1)])]), "\"x\""),
        ("restart_policy", .string("always"), "restart_policy must be \"no\""),
        ("init", .string("yes"), "init must be true or false"),
        ("labels", .object(["wsscale.pool": .string("p2"), "wsscale.instance": .string("ws-1"), "wsscale.port": .string("8088")]), "wsscale.pool must be \"p1\""),
        ("labels", .object(["wsscale.pool": .string("p1"), "wsscale.instance": .string("ws-1"), "wsscale.port": .string("8088"), "x": .string("y")]), "\"x\""),
    ])
    func refusesAFieldOrValueOutsideTheAllowList(field: String, value: JSONValue, named: String) throws {
        let body = try Self.changedBody { $0[field] = value }
        let refusal = reason(decide("POST", Self.create, body: body))
        #expect(refusal?.contains(named) == true, "\(field)=\(value): \(String(describing: refusal))")
    }

    @Test func refusesWhatTheNetworkedPoolDoesNotSend() throws {
        let policy = EngineProxyPolicy(configuration: Self.networked)
        func refusal(_ change: (inout [String: JSONValue]) -> Void) throws -> String? {
            reason(decide("POST", Self.create, body: try Self.changedBody(Self.networked, change), policy: policy))
        }
        #expect(try refusal { $0["networks"] = .object(["other_net": .object([:])]) }?.contains("\"other_net\"") == true)
        #expect(try refusal { $0["networks"] = .object(["wsscale_net": .object(["aliases": .array([.string("redis")])])]) }?.contains("\"aliases\"") == true)
        #expect(try refusal { $0["networks"] = .object(["wsscale_net": .object(["static_ips": .array([.string("10.0.0.2")])])]) }?.contains("\"static_ips\"") == true)
        #expect(try refusal { $0["networks"] = nil }?.contains("networks must be {\"wsscale_net\": {}}") == true)
        #expect(try refusal { $0["netns"] = nil }?.contains("netns must be") == true)
        // A pool that joins a network without publishing publishes nothing.
        let mapping = JSONValue.array([.object(["host_ip": .string("127.0.0.1"), "container_port": .integer(8088), "host_port": .integer(0), "protocol": .string("tcp")])])
        #expect(try refusal { $0["portmappings"] = mapping }?.contains("publishes no port") == true)
    }

    @Test func readsTheKeysTheServiceWouldRead() throws {
        let body = String(decoding: try Self.driverBody(Self.published), as: UTF8.self)
        // A JSON escape is read as the key it spells; a key written twice is read once, as the
        // last (what goes on is encoded again from the checked value).
        let escaped = String(body.dropLast()) + #","privil\u0065ged":true}"#
        #expect(reason(decide("POST", Self.create, body: Data(escaped.utf8)))?.contains("\"privileged\"") == true)
        let twice = String(body.dropLast()) + #","image":"docker.io/library/alpine"}"#
        switch decide("POST", Self.create, body: Data(twice.utf8)) {
        case let .forward(_, _, forwarded?):
            let sent = try JSONDecoder().decode(JSONValue.self, from: forwarded).object
            #expect(sent?["image"] == .string("localhost/wsscale:local"), "the service would read another image")
        case let decision: #expect(reason(decision) != nil)
        }
        #expect(reason(decide("POST", Self.create, body: Data("[1]".utf8))) == "the create body: is not a JSON object")
        #expect(reason(decide("POST", Self.create + "?name=p1-ws-1", body: Data(body.utf8)))?.contains("no query") == true)
        #expect(reason(policy.decide(EngineProxyRequest(method: "POST", uri: Self.create, body: Data(body.utf8), isEncoded: true))) != nil)
        let huge = Data(repeating: 0x20, count: EngineProxyPolicy.maximumBodyBytes + 1)
        #expect(reason(decide("POST", Self.create, body: huge))?.contains("at most") == true)
    }

    @Test func touchesOnlyThePoolsContainersByName() {
        let base = "/v4.0.0/libpod/containers"
        #expect(decide("POST", "\(base)/p1-ws-1/start") == .forward(method: "POST", uri: "\(base)/p1-ws-1/start", body: nil))
        #expect(decide("POST", "\(base)/p1-ws-1/stop?timeout=3") == .forward(method: "POST", uri: "\(base)/p1-ws-1/stop?timeout=3", body: nil))
        #expect(decide("DELETE", "\(base)/p1-ws-1?force=false&v=true") == .forward(method: "DELETE", uri: "\(base)/p1-ws-1?force=false&v=true", body: nil))
        #expect(decide("GET", "\(base)/p1-ws-1/json") == .forward(method: "GET", uri: "\(base)/p1-ws-1/json", body: nil))
        #expect(decide("GET", "/v4.0.0/libpod/_ping") == .forward(method: "GET", uri: "/v4.0.0/libpod/_ping", body: nil))
        #expect(decide("GET", "/v5.1.2/libpod/_ping") == .forward(method: "GET", uri: "/v5.1.2/libpod/_ping", body: nil))
        for (method, uri) in [("POST", "\(base)/redis/stop"), ("DELETE", "\(base)/0123abcd"), ("POST", "\(base)/0123abcd/start"),
                              ("GET", "\(base)/balancer/json"), ("POST", "\(base)/p1-ws-1/stop?timeout=99999"),
                              ("POST", "\(base)/p1-ws-1/stop?t=1"), ("POST", "\(base)/p1-ws-1/stop?timeout=1&timeout=2"),
                              ("DELETE", "\(base)/p1-ws-1?depend=true"), ("DELETE", "\(base)/p1-ws-1?force=yes"),
                              ("POST", "\(base)/p1-ws-1/kill"), ("POST", "\(base)/p1-ws-1/exec"), ("GET", "\(base)/p1-ws-1/logs"),
                              ("POST", "\(base)/p1-ws-1/start?detachKeys=x"), ("GET", "\(base)/p1-ws-1/json?size=true"),
                              ("POST", "/v4.0.0/libpod/images/pull?reference=alpine"), ("POST", "/v4.0.0/libpod/play/kube"),
                              ("GET", "/v4.0.0/libpod/info"), ("GET", "/v4.0.0/libpod/version"), ("GET", "\(base)/json?all=true"),
                              ("POST", "/v4.0.0/libpod/pods/create"), ("POST", "/v4.0.0/libpod/networks/create")] {
            #expect(reason(decide(method, uri)) != nil, "\(method) \(uri) was let through")
        }
    }

    @Test func takesOnlyVersionedLibpodPaths() {
        for uri in ["/libpod/_ping", "/_ping", "/v4.0.0/_ping", "/v1.41/containers/json", "/v4.0.0/containers/p1-ws-1/json",
                    "/v1.41/libpod/_ping", "/v3.4.0/libpod/_ping", "/v6.0.0/libpod/_ping", "/v4.0.0.0/libpod/_ping", "/v4.x/libpod/_ping"] {
            #expect(reason(decide("GET", uri)) != nil, "GET \(uri) was let through in podman mode")
        }
        #expect(reason(decide("POST", "/v4.0.0/containers/create?name=p1-ws-1", body: Data("{}".utf8)))?.contains("Docker-compatible") == true)
    }

    @Test func dockerModeRefusesLibpodPaths() throws {
        let docker = EngineProxyPolicy(configuration: ContainerDriverConfiguration(image: "wsscale:local", pool: "p1"))
        let body = try Self.driverBody(Self.published)
        for (method, uri) in [("GET", "/v4.0.0/libpod/_ping"), ("GET", "/libpod/_ping"), ("GET", "/v1.41/libpod/_ping"),
                              ("POST", "/v1.41/libpod/containers/create"), ("POST", "/v4.0.0/libpod/containers/create"),
                              ("POST", "/v1.41/libpod/containers/p1-ws-1/start")] {
            #expect(reason(decide(method, uri, body: method == "POST" && uri.hasSuffix("create") ? body : Data(), policy: docker)) != nil,
                    "\(method) \(uri) was let through in docker mode")
        }
        #expect(reason(decide("GET", "/v1.41/libpod/_ping", policy: docker))?.contains("libpod") == true)
        // And Docker's own calls still pass there.
        #expect(decide("GET", "/v1.41/containers/p1-ws-1/json", policy: docker) == .forward(method: "GET", uri: "/v1.41/containers/p1-ws-1/json", body: nil))
    }

    @Test func listsAndWatchesOnlyThroughThePoolsLabelAlone() {
        // As the driver sends them (`ContainerEngineHTTP.filters`: a JSON object of arrays).
        let list = HTTPQuery.escape(ContainerEngineHTTP.filters(["label": ["wsscale.pool=p1"]]))
        let uri = "/v4.0.0/libpod/containers/json?all=true&filters=\(list)"
        #expect(decide("GET", uri) == .forward(method: "GET", uri: uri, body: nil))
        let events = HTTPQuery.escape(ContainerEngineHTTP.filters(["type": ["container"], "event": ["died"], "label": ["wsscale.pool=p1"]]))
        if case .forward = decide("GET", "/v4.0.0/libpod/events?filters=\(events)&since=1712345678.5&stream=true") {} else {
            Issue.record("the driver's event stream was refused")
        }
        let refused: [[String: [String]]] = [
            ["label": ["wsscale.pool=p2"]],
            ["label": ["wsscale.pool=p1", "com.example=x"]],  // libpod ORs a filter's values
            ["label": ["wsscale.pool=p1"], "name": ["redis"]],
            [:],
        ]
        for filters in refused {
            let text = HTTPQuery.escape(ContainerEngineHTTP.filters(filters))
            #expect(reason(decide("GET", "/v4.0.0/libpod/containers/json?all=true&filters=\(text)")) != nil, "\(filters)")
            #expect(reason(decide("GET", "/v4.0.0/libpod/events?filters=\(text)")) != nil, "\(filters)")
        }
        #expect(reason(decide("GET", "/v4.0.0/libpod/events")) != nil)
        #expect(reason(decide("GET", "/v4.0.0/libpod/containers/json?all=true&size=true&filters=\(list)")) != nil)
    }
}
