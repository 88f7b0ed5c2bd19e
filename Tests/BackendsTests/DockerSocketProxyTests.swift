import Foundation
import Logging
import Testing
import WSScaleCore
import WSScaleTestSupport
@testable import WSScaleBackends

/// The Docker driver through the restricted API (docker/socket-proxy/haproxy.cfg, real
/// haproxy on a free loopback port in front of the real daemon), and what the proxy refuses.
@Suite(.serialized, .enabled(if: DockerTestEnvironment.isAvailable, "needs a Docker daemon: scripts/setup-docker.sh could not start one"))
struct DockerSocketProxyTests {
    @Test func theDriverWorksThroughTheProxy() async throws {
        let proxy = try DockerTestEnvironment.startSocketProxy()
        defer { proxy.stop() }
        var pool = DockerTestPool()
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

        #expect(DockerTestEnvironment.docker("kill", pool.id("b")).status == 0)
        let exit = try await firstExit(exits, within: .seconds(15))
        #expect(exit?.id == pool.id("b"))
        #expect(exit?.exitCode == 137)

        try await driver.stop(pool.id("a"), grace: .seconds(2))
        try await driver.stop(pool.id("b"), grace: .seconds(1))
        #expect(try await driver.instances().isEmpty)

        // The daemon's own errors come through the proxy unchanged.
        let missing = DockerDriver(configuration: pool.configuration(image: "wsscale-no-such-image:0"), logger: Logger(label: "test"))
        let error = await #expect(throws: DriverError.self) { _ = try await missing.launch(LaunchRequest(id: pool.id("c"))) }
        #expect(error?.message.contains("No such image: wsscale-no-such-image:0") == true)
    }

    @Test func refusesWhatTheDriverDoesNotNeed() async throws {
        let proxy = try DockerTestEnvironment.startSocketProxy()
        defer { proxy.stop() }
        let pool = DockerTestPool()
        defer { pool.removeEverything() }
        let client = CurlHTTPClient(address: .tcp(host: "127.0.0.1", port: proxy.port), logger: Logger(label: "test.proxy"))

        // A real container to aim exec at: the refusal is the proxy's, not a 404.
        let driver = pool.driver()
        _ = try await driver.launch(LaunchRequest(id: pool.id("target")))
        let exec = Data(#"{"Cmd":["id"],"AttachStdout":true}"#.utf8)
        let denied: [(String, String, [String: String], Data?)] = [
            ("POST", "/v1.41/containers/\(pool.id("target"))/exec", [:], exec),
            ("POST", "/containers/\(pool.id("target"))/exec", [:], exec),
            ("POST", "/v1.41/images/create", ["fromImage": "alpine", "tag": "latest"], nil),
            ("POST", "/v1.41/build", [:], nil),
            ("POST", "/v1.41/networks/create", [:], Data(#"{"Name":"wsscale-denied"}"#.utf8)),
            ("POST", "/v1.41/volumes/create", [:], Data("{}".utf8)),
            ("POST", "/v1.41/containers/\(pool.id("target"))/kill", [:], nil),
            ("GET", "/v1.41/containers/\(pool.id("target"))/logs", ["stdout": "1"], nil),
            ("POST", "/v1.41/swarm/init", [:], Data("{}".utf8)),
            ("GET", "/v1.23/containers/json", [:], nil),
            ("POST", "/v1.41/containers/create", ["name": pool.id("priv")],
             Data(#"{"Image":"wsscale-base:bookworm","HostConfig":{"Privileged":true}}"#.utf8)),
            ("POST", "/v1.41/containers/create", ["name": pool.id("bind")],
             Data(#"{"Image":"wsscale-base:bookworm","HostConfig":{"Binds":["/:/host"]}}"#.utf8)),
            ("POST", "/v1.41/containers/create", ["name": pool.id("mount")],
             Data(#"{"Image":"wsscale-base:bookworm","HostConfig":{"Mounts":[{"Type":"bind","Source":"/","Target":"/host"}]}}"#.utf8)),
            ("POST", "/v1.41/containers/create", ["name": pool.id("escaped")],
             Data(#"{"Image":"wsscale-base:bookworm","HostConfig":{"Privil\u0065ged":true}}"#.utf8)),
            ("POST", "/v1.41/containers/create", ["name": pool.id("hostnet")],
             Data(#"{"Image":"wsscale-base:bookworm","HostConfig":{"networkmode":"host"}}"#.utf8)),
        ]
        for (method, path, query, body) in denied {
            let response = try await client.request(method, path, query: query, body: body)
            #expect(response.status == 403, "\(method) \(path) was let through: \(response.status) \(response.text)")
            #expect(response.text.contains("denied by the wsscale socket proxy"))
        }
        // None of the refused creates reached the daemon.
        #expect(try await driver.instances().map(\.id) == [pool.id("target")])
        // While what the driver needs passes.
        #expect(try await client.request("GET", "/_ping").status == 200)
        #expect(try await client.request("GET", "/v1.41/containers/\(pool.id("target"))/json").status == 200)
    }
}
