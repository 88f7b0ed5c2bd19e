import Foundation
import Logging
import Testing
import WSScaleCore
import WSScaleCurlHTTP
import WSScaleTestSupport
@testable import WSScaleBackends

/// The engine proxy in Podman mode (`wsscale engine-proxy`'s server, on a free loopback
/// port) in front of the real `podman system service`: the Podman driver works through it,
/// and every other call an attacker holding the proxy's address might try is refused before
/// the service sees it. Each refused case prints what it tried and what it got. Each test has
/// a pool of its own, removed at the end.
@Suite(.serialized, .enabled(if: PodmanTestEnvironment.isAvailable, "needs podman's REST API and the image (a SKIPPING line says why)"))
struct PodmanEngineProxyTests {
    let pool = "test-\(UInt32.random(in: 0...UInt32.max))"
    let logger = Logger(label: "test.podman-engine-proxy")

    func configuration(daemon: ServiceAddress = PodmanTestEnvironment.address,
                       reachability: ContainerDriverConfiguration.Reachability = .publish(hostAddress: "127.0.0.1"),
                       composeProject: String? = nil) -> ContainerDriverConfiguration {
        ContainerDriverConfiguration(engine: .podman, image: PodmanTestEnvironment.testImage, pool: pool, daemon: daemon,
                                     reachability: reachability, stopGrace: .seconds(2),
                                     environment: ["REDIS_URL": "redis://127.0.0.1:6379"],
                                     retry: RetryBackoff(attempts: 2, initialDelay: .milliseconds(50)), composeProject: composeProject)
    }

    /// The container of instance `suffix`: `<pool>-<suffix>`.
    func container(_ suffix: String) -> String { configuration().containerName(suffix) }

    /// The proxy for `configuration` (its pool's rules), forwarding to the real service.
    func startProxy(for configuration: ContainerDriverConfiguration) async throws -> EngineProxyServer {
        try await EngineProxyServer.start(policy: EngineProxyPolicy(configuration: configuration), host: "127.0.0.1", port: 0,
                                          upstream: PodmanTestEnvironment.address, logger: logger)
    }

    /// The Podman driver of `configuration`, reaching the service only through `proxy`.
    func driver(_ configuration: ContainerDriverConfiguration, through proxy: EngineProxyServer) -> PodmanDriver {
        var throughProxy = configuration
        throughProxy.daemon = .tcp(host: "127.0.0.1", port: proxy.port)
        return PodmanDriver(configuration: throughProxy, logger: logger)
    }

    @Test func theDriverWorksThroughTheProxy() async throws {
        defer { PodmanTestEnvironment.removeContainers(ofPool: pool) }
        let proxy = try await startProxy(for: configuration())
        let driver = driver(configuration(), through: proxy)
        try await driver.ping()
        let exits = driver.exits()

        _ = try await driver.launch(LaunchRequest(id: "a"))
        _ = try await driver.launch(LaunchRequest(id: "b"))
        #expect(try await driver.instances().map(\.id).sorted() == ["a", "b"])
        let endpoint = try await driver.waitUntilRunning("a", timeout: .seconds(30))
        #expect(endpoint.host == "127.0.0.1")
        #expect(try await healthStatus(endpoint) == 200)
        _ = try await driver.waitUntilRunning("b", timeout: .seconds(30))

        // The event stream (a long-lived answer) comes through: the kill is reported.
        let killed = PodmanTestEnvironment.podman("kill", container("b"))
        #expect(killed.status == 0, "\(killed.output)")
        let exit = try await firstExit(exits, within: .seconds(15))
        #expect(exit?.id == "b")
        #expect(exit?.exitCode == 137)

        try await driver.stop("a", grace: .seconds(2))
        try await driver.stop("b", grace: .seconds(1))
        #expect(try await driver.instances().isEmpty)
        #expect(PodmanTestEnvironment.podman("container", "exists", container("a")).status != 0)
        try await proxy.close()
    }

    @Test func aComposePoolOnANetworkWorksThroughTheProxy() async throws {
        let network = "\(pool)-net"
        #expect(PodmanTestEnvironment.podman("network", "create", network).status == 0)
        defer {
            PodmanTestEnvironment.removeContainers(ofPool: pool)
            PodmanTestEnvironment.podman("network", "rm", "-f", network)
        }
        let joined = configuration(reachability: .publish(hostAddress: "127.0.0.1", network: network), composeProject: "wsscale-proxy-test")
        let proxy = try await startProxy(for: joined)
        let driver = driver(joined, through: proxy)
        _ = try await driver.launch(LaunchRequest(id: "np"))
        let endpoint = try await driver.waitUntilRunning("np", timeout: .seconds(30))
        #expect(try await healthStatus(endpoint) == 200)
        let seen = PodmanTestEnvironment.podman(
            "inspect", "-f", "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}{{index .Config.Labels \"io.podman.compose.project\"}}",
            container("np")).output
        #expect(seen.trimmingCharacters(in: .whitespacesAndNewlines) == "\(network) wsscale-proxy-test")
        try await driver.stop("np", grace: .seconds(1))
        #expect(try await driver.instances().isEmpty)
        try await proxy.close()
    }

    /// The driver's own create body for `id`, with `change` applied (what an attacker would
    /// start from: everything else right).
    func createBody(_ id: String, _ change: (inout [String: JSONValue]) -> Void = { _ in }) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let spec = PodmanContainerSpec(ContainerSpecification.make(for: LaunchRequest(id: id), configuration: configuration()))
        var fields = try JSONDecoder().decode(JSONValue.self, from: encoder.encode(spec)).object ?? [:]
        change(&fields)
        return try encoder.encode(JSONValue.object(fields))
    }

    @Test func refusesWhatTheDriverDoesNotDo() async throws {
        let bystander = "bystander-\(pool)"
        defer {
            PodmanTestEnvironment.removeContainers(ofPool: pool)
            PodmanTestEnvironment.podman("rm", "-f", "-t", "0", bystander)
        }
        // A container outside the pool, running: the attacker's target for stop, delete and inspect.
        let started = PodmanTestEnvironment.podman("run", "-d", "--name", bystander, "--entrypoint", "sleep",
                                                   PodmanTestEnvironment.testImage, "600")
        try #require(started.status == 0, "podman run: \(started.output)")
        let bystanderID = started.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? ""
        let proxy = try await startProxy(for: configuration())
        // One of the pool's own, to aim exec and kill at: the refusal is the proxy's, not a 404.
        let driver = driver(configuration(), through: proxy)
        _ = try await driver.launch(LaunchRequest(id: "target"))
        let target = container("target")

        let client = CurlHTTPClient(address: .tcp(host: "127.0.0.1", port: proxy.port), logger: logger)
        let libpod = "/v4.0.0/libpod"
        let create = "\(libpod)/containers/create"
        func namespace(_ mode: String) -> JSONValue { .object(["nsmode": .string(mode)]) }
        let attempts: [(what: String, method: String, path: String, query: [String: String], body: Data?)] = [
            ("exec in a pool container", "POST", "\(libpod)/containers/\(target)/exec", [:], Data(#"{"Cmd":["id"]}"#.utf8)),
            ("kill", "POST", "\(libpod)/containers/\(target)/kill", [:], nil),
            ("logs", "GET", "\(libpod)/containers/\(target)/logs", ["stdout": "true"], nil),
            ("image pull", "POST", "\(libpod)/images/pull", ["reference": "docker.io/library/alpine:latest"], nil),
            ("build", "POST", "\(libpod)/build", [:], nil),
            ("play kube", "POST", "\(libpod)/play/kube", [:], Data("apiVersion: v1".utf8)),
            ("network create", "POST", "\(libpod)/networks/create", [:], Data(#"{"name":"wsscale-denied"}"#.utf8)),
            ("volume create", "POST", "\(libpod)/volumes/create", [:], Data("{}".utf8)),
            ("unversioned libpod", "GET", "/libpod/containers/json", ["all": "true"], nil),
            ("Docker-compatible create", "POST", "/v4.0.0/containers/create", ["name": container("compat")],
             Data(#"{"Image":"\#(PodmanTestEnvironment.testImage)","HostConfig":{"Privileged":true}}"#.utf8)),
            ("Docker-compatible stop outside the pool", "POST", "/v1.41/containers/\(bystander)/stop", [:], nil),
            ("listing every container", "GET", "\(libpod)/containers/json", ["all": "true"], nil),
            ("inspect outside the pool (its environment)", "GET", "\(libpod)/containers/\(bystander)/json", [:], nil),
            ("stop outside the pool, by name", "POST", "\(libpod)/containers/\(bystander)/stop", [:], nil),
            ("stop outside the pool, by id", "POST", "\(libpod)/containers/\(bystanderID)/stop", [:], nil),
            ("delete outside the pool, by name", "DELETE", "\(libpod)/containers/\(bystander)", ["force": "true"], nil),
            ("delete outside the pool, by id", "DELETE", "\(libpod)/containers/\(String(bystanderID.prefix(12)))", ["force": "true"], nil),
            ("delete with its dependents", "DELETE", "\(libpod)/containers/\(target)", ["depend": "true"], nil),
            ("create outside the name prefix", "POST", create, [:], try createBody("x") { $0["name"] = .string("intruder-\(pool)") }),
            ("privileged", "POST", create, [:], try createBody("p") { $0["privileged"] = .bool(true) }),
            ("escaped privileged", "POST", create, [:],
             Data((String(decoding: try createBody("e"), as: UTF8.self).dropLast() + #","privil\u0065ged":true}"#).utf8)),
            ("case-variant privileged", "POST", create, [:], try createBody("v") { $0["Privileged"] = .bool(true) }),
            ("bind mount of /", "POST", create, [:], try createBody("b") {
                $0["mounts"] = .array([.object(["destination": .string("/host"), "source": .string("/"), "type": .string("bind"), "options": .array([.string("rbind")])])])
            }),
            ("named volume", "POST", create, [:], try createBody("o") { $0["volumes"] = .array([.object(["Name": .string("x"), "Dest": .string("/x")])]) }),
            ("device", "POST", create, [:], try createBody("d") { $0["devices"] = .array([.object(["path": .string("/dev/mem")])]) }),
            ("capabilities", "POST", create, [:], try createBody("c") { $0["cap_add"] = .array([.string("SYS_ADMIN")]) }),
            ("no seccomp", "POST", create, [:], try createBody("s") { $0["seccomp_policy"] = .string("unconfined") }),
            ("unmasked /proc", "POST", create, [:], try createBody("m") { $0["unmask"] = .array([.string("ALL")]) }),
            ("cgroup parent", "POST", create, [:], try createBody("g") { $0["cgroup_parent"] = .string("/") }),
            ("runtime", "POST", create, [:], try createBody("r") { $0["oci_runtime"] = .string("runc") }),
            ("user 0", "POST", create, [:], try createBody("u") { $0["user"] = .string("0") }),
            ("host pid namespace", "POST", create, [:], try createBody("i") { $0["pidns"] = namespace("host") }),
            ("host network", "POST", create, [:], try createBody("h") { $0["netns"] = namespace("host") }),
            ("another network", "POST", create, [:], try createBody("n") { $0["networks"] = .object(["podman": .object([:])]) }),
            ("published on 0.0.0.0", "POST", create, [:], try createBody("w") {
                $0["portmappings"] = .array([.object(["host_ip": .string("0.0.0.0"), "container_port": .integer(8088), "host_port": .integer(0), "protocol": .string("tcp")])])
            }),
            ("another image", "POST", create, [:], try createBody("a") { $0["image"] = .string("docker.io/library/alpine:latest") }),
        ]
        for attempt in attempts {
            let response = try await client.request(attempt.method, attempt.path, query: attempt.query, body: attempt.body)
            print("engine proxy (podman) attack: \(attempt.what): \(attempt.method) \(attempt.path) → \(response.status) \(response.text)")
            #expect(response.status == 403, "\(attempt.what) was let through: \(response.status) \(response.text)")
            #expect(response.text.contains("denied by the wsscale engine proxy"), "\(attempt.what): \(response.text)")
        }
        // Nothing reached the service: the bystander runs, no container of the attempts exists,
        // and the pool holds only its target.
        #expect(PodmanTestEnvironment.podman("inspect", "-f", "{{.State.Running}}", bystander).output.hasPrefix("true"))
        #expect(PodmanTestEnvironment.podman("container", "exists", "intruder-\(pool)").status != 0)
        #expect(ContainerCLI.podman.containers(ofPool: pool).count == 1)
        #expect(try await driver.instances().map(\.id) == ["target"])
        #expect(PodmanTestEnvironment.podman("network", "exists", "wsscale-denied").status != 0)
        // While what the driver needs passes, and the service's own errors come through unchanged.
        #expect(try await client.request("GET", "\(libpod)/_ping").status == 200)
        #expect(try await client.request("GET", "\(libpod)/containers/\(target)/json").status == 200)
        #expect(try await client.request("GET", "\(libpod)/containers/\(container("none"))/json").status == 404)
        try await proxy.close()
    }
}
