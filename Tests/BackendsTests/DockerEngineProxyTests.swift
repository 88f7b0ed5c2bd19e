import Foundation
import Logging
import Testing
import WSScaleCore
import WSScaleCurlHTTP
import WSScaleTestSupport
@testable import WSScaleBackends

/// The engine proxy (`wsscale engine-proxy`'s server, on a free loopback port) in front of
/// the real Docker daemon: the Docker driver works through it, and every call the issue's
/// attacker tried is refused before the daemon sees it. Each refused case prints what it
/// tried and what it got.
@Suite(.serialized, .enabled(if: DockerTestEnvironment.isAvailable, "needs a Docker daemon: scripts/setup-docker.sh could not start one"))
struct DockerEngineProxyTests {
    let logger = Logger(label: "test.engine-proxy")

    func startProxy(for pool: DockerTestPool) async throws -> EngineProxyServer {
        try await EngineProxyServer.start(policy: EngineProxyPolicy(configuration: pool.configuration()), host: "127.0.0.1", port: 0,
                                          upstream: .unixSocket(path: "/var/run/docker.sock"), logger: logger)
    }

    @Test func theDriverWorksThroughTheProxy() async throws {
        var pool = DockerTestPool()
        let proxy = try await startProxy(for: pool)
        pool.daemon = .tcp(host: "127.0.0.1", port: proxy.port)
        defer { pool.removeEverything() }
        let driver = pool.driver()
        try await driver.ping()
        let exits = driver.exits()

        _ = try await driver.launch(LaunchRequest(id: pool.id("a")))
        _ = try await driver.launch(LaunchRequest(id: pool.id("b")))
        #expect(try await driver.instances().map(\.id) == [pool.id("a"), pool.id("b")])
        let endpoint = try await driver.waitUntilRunning(pool.id("a"), timeout: .seconds(30))
        #expect(try await healthStatus(endpoint) == 200)
        _ = try await driver.waitUntilRunning(pool.id("b"), timeout: .seconds(30))

        // The event stream (a long-lived answer) comes through: the kill is reported.
        #expect(DockerTestEnvironment.docker("kill", pool.container("b")).status == 0)
        let exit = try await firstExit(exits, within: .seconds(15))
        #expect(exit?.id == pool.id("b"))
        #expect(exit?.exitCode == 137)

        try await driver.stop(pool.id("a"), grace: .seconds(2))
        try await driver.stop(pool.id("b"), grace: .seconds(1))
        #expect(try await driver.instances().isEmpty)
        try await proxy.close()
    }

    @Test func refusesWhatTheDriverDoesNotDo() async throws {
        var pool = DockerTestPool()
        let proxy = try await startProxy(for: pool)
        pool.daemon = .tcp(host: "127.0.0.1", port: proxy.port)
        let bystander = "bystander-\(pool.pool)"
        defer {
            pool.removeEverything()
            DockerTestEnvironment.docker("rm", "-f", bystander)
        }
        // A container outside the pool, running: the attacker's target for stop and delete.
        let started = DockerTestEnvironment.docker("run", "-d", "--name", bystander, DockerTestEnvironment.baseImage, "sleep", "600")
        try #require(started.status == 0, "docker run: \(started.output)")
        let bystanderID = started.output.trimmingCharacters(in: .whitespacesAndNewlines)
        // One of the pool's own, to aim exec and kill at: the refusal is the proxy's, not a 404.
        let driver = pool.driver()
        _ = try await driver.launch(LaunchRequest(id: pool.id("target")))
        let target = pool.container("target")

        let client = CurlHTTPClient(address: .tcp(host: "127.0.0.1", port: proxy.port), logger: logger)
        let labels = #""Labels":{"wsscale.pool":"\#(pool.pool)","wsscale.instance":"x","wsscale.port":"8088"}"#
        let image = DockerTestEnvironment.testImage
        func body(_ fields: String) -> Data { Data(("{\"Image\":\"\(image)\",\(labels),\(fields)}").utf8) }
        let loopback = #""PortBindings":{"8088/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]}"#
        let create = "/v1.41/containers/create"
        let attempts: [(what: String, method: String, path: String, query: [String: String], body: Data?)] = [
            ("exec in a pool container", "POST", "/v1.41/containers/\(target)/exec", [:], Data(#"{"Cmd":["id"]}"#.utf8)),
            ("kill", "POST", "/v1.41/containers/\(target)/kill", [:], nil),
            ("logs", "GET", "/v1.41/containers/\(target)/logs", ["stdout": "1"], nil),
            ("image pull", "POST", "/v1.41/images/create", ["fromImage": "alpine", "tag": "latest"], nil),
            ("build", "POST", "/v1.41/build", [:], nil),
            ("network create", "POST", "/v1.41/networks/create", [:], Data(#"{"Name":"wsscale-denied"}"#.utf8)),
            ("volume create", "POST", "/v1.41/volumes/create", [:], Data("{}".utf8)),
            ("swarm init", "POST", "/v1.41/swarm/init", [:], Data("{}".utf8)),
            ("API 1.23", "GET", "/v1.23/containers/json", [:], nil),
            ("listing every container", "GET", "/v1.41/containers/json", ["all": "1"], nil),
            ("inspect outside the pool (its environment)", "GET", "/v1.41/containers/\(bystander)/json", [:], nil),
            ("stop outside the pool, by name", "POST", "/v1.41/containers/\(bystander)/stop", [:], nil),
            ("stop outside the pool, by id", "POST", "/v1.41/containers/\(bystanderID)/stop", [:], nil),
            ("delete outside the pool, by name", "DELETE", "/v1.41/containers/\(bystander)", ["force": "1"], nil),
            ("delete outside the pool, by id", "DELETE", "/v1.41/containers/\(String(bystanderID.prefix(12)))", ["force": "1"], nil),
            ("create outside the name prefix", "POST", create, ["name": "intruder-\(pool.pool)"], body("\"HostConfig\":{\(loopback)}")),
            ("privileged", "POST", create, ["name": pool.container("p")], body("\"HostConfig\":{\(loopback),\"Privileged\":true}")),
            ("escaped privileged", "POST", create, ["name": pool.container("e")], body("\"HostConfig\":{\(loopback),\"Privil\\u0065ged\":true}")),
            ("bind mount", "POST", create, ["name": pool.container("b")], body("\"HostConfig\":{\(loopback),\"Binds\":[\"/:/host\"]}")),
            ("unmasked /proc", "POST", create, ["name": pool.container("m")], body("\"HostConfig\":{\(loopback),\"MaskedPaths\":[],\"ReadonlyPaths\":[]}")),
            ("capabilities", "POST", create, ["name": pool.container("c")], body("\"HostConfig\":{\(loopback)},\"Capabilities\":[\"CAP_SYS_ADMIN\"]")),
            ("cgroup parent", "POST", create, ["name": pool.container("g")], body("\"HostConfig\":{\(loopback),\"CgroupParent\":\"/\"}")),
            ("runtime", "POST", create, ["name": pool.container("r")], body("\"HostConfig\":{\(loopback),\"Runtime\":\"runc\"}")),
            ("user 0", "POST", create, ["name": pool.container("u")], body("\"HostConfig\":{\(loopback)},\"User\":\"0\"")),
            ("host network", "POST", create, ["name": pool.container("h")], body("\"HostConfig\":{\(loopback),\"NetworkMode\":\"host\"}")),
            ("another network", "POST", create, ["name": pool.container("n")], body("\"HostConfig\":{\(loopback),\"NetworkMode\":\"bridge\"}")),
            ("published on 0.0.0.0", "POST", create, ["name": pool.container("w")],
             body(#""HostConfig":{"PortBindings":{"8088/tcp":[{"HostIp":"0.0.0.0","HostPort":""}]}}"#)),
            ("another image", "POST", create, ["name": pool.container("i")],
             Data(("{\"Image\":\"wsscale-no-such:0\",\(labels),\"HostConfig\":{\(loopback)}}").utf8)),
        ]
        for attempt in attempts {
            let response = try await client.request(attempt.method, attempt.path, query: attempt.query, body: attempt.body)
            print("engine proxy attack: \(attempt.what): \(attempt.method) \(attempt.path) → \(response.status) \(response.text)")
            #expect(response.status == 403, "\(attempt.what) was let through: \(response.status) \(response.text)")
            #expect(response.text.contains("denied by the wsscale engine proxy"), "\(attempt.what): \(response.text)")
        }
        // Nothing reached the daemon: the bystander runs, and the pool holds only its target.
        #expect(DockerTestEnvironment.docker("inspect", "-f", "{{.State.Running}}", bystander).output.hasPrefix("true"))
        #expect(DockerTestEnvironment.docker("ps", "-aq", "--filter", "label=wsscale.pool=\(pool.pool)").output
            .split(separator: "\n").count == 1)
        #expect(try await driver.instances().map(\.id) == [pool.id("target")])
        // While what the driver needs passes, and the daemon's own errors come through unchanged.
        #expect(try await client.request("GET", "/_ping").status == 200)
        #expect(try await client.request("GET", "/v1.41/containers/\(target)/json").status == 200)
        let missing = try await client.request("GET", "/v1.41/containers/\(pool.container("none"))/json")
        #expect(missing.status == 404)
        try await proxy.close()
    }

    @Test func boundsWhatACallerCanMakeItHold() async throws {
        let pool = DockerTestPool()
        let proxy = try await startProxy(for: pool)
        let client = CurlHTTPClient(address: .tcp(host: "127.0.0.1", port: proxy.port), logger: logger)
        let huge = Data(repeating: 0x20, count: EngineProxyPolicy.maximumBodyBytes + 1)
        let response = try await client.request("POST", "/v1.41/containers/create", query: ["name": pool.container("x")], body: huge)
        #expect(response.status == 413)
        // Not HTTP: a request line of four words.
        let garbage = try await RawHTTPClient.request("GET", "/a b c", port: proxy.port)
        #expect(garbage.status == 400, "\(garbage.body)")
        try await proxy.close()
    }
}
