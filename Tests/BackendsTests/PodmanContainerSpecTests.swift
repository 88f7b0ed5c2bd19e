import Foundation
import Testing
import WSScaleCore
@testable import WSScaleBackends

/// The Podman driver's pure parts: the libpod create body, reading libpod's listing, the
/// configuration's variables.
@Suite struct PodmanContainerSpecTests {
    let configuration = ContainerDriverConfiguration(
        engine: .podman, image: "localhost/wsscale:local", pool: "p1", stopGrace: .milliseconds(2500),
        environment: ["REDIS_URL": "redis://127.0.0.1:6379"], resourceLimits: [ContainerResourceLimit(name: "nofile", value: 1024)])

    @Test func publishesOnLoopbackWithLimitsLabelsAndIdentity() throws {
        let body = PodmanContainerSpec(ContainerSpecification.make(for: LaunchRequest(id: "ws-1"), configuration: configuration))
        #expect(body.name == "p1-ws-1")
        #expect(body.env["SERVER_ID"] == "ws-1" && body.env["SERVER_PORT"] == "8088" && body.env["SERVER_HOST"] == "0.0.0.0")
        #expect(body.labels == ["wsscale.pool": "p1", "wsscale.instance": "ws-1", "wsscale.port": "8088"])
        #expect(body.stop_timeout == 3)
        #expect(body.portmappings == [.init(host_ip: "127.0.0.1", container_port: 8088)])
        #expect(body.networks == nil)
        #expect(body.r_limits == [.init(type: "nofile", hard: 1024, soft: 1024)])
        let json = String(decoding: try JSONEncoder().encode(body), as: UTF8.self)
        #expect(json.contains(#""netns":{"nsmode":"bridge"}"#))
        #expect(json.contains(#""init":true"#))
    }

    @Test func joinsANetworkInsteadOfPublishing() {
        var networked = configuration
        networked.reachability = .network(name: "wsscale_net")
        let body = PodmanContainerSpec(ContainerSpecification.make(for: LaunchRequest(id: "ws-2", port: 9000), configuration: networked))
        #expect(body.portmappings == nil)
        #expect(body.networks == ["wsscale_net": .init()])
        #expect(body.env["SERVER_PORT"] == "9000")
    }

    @Test func readsLibpodListings() throws {
        let listing = Data(#"""
        [{"Id":"abc","Names":["ws-1"],"Labels":{"wsscale.pool":"p1","wsscale.instance":"ws-1","wsscale.port":"8088"},"State":"running",
          "ExitCode":0,"Exited":false,"Ports":[{"host_ip":"127.0.0.1","container_port":8088,"host_port":41921,"range":1,"protocol":"tcp"}]},
         {"Id":"def","Names":["ws-2"],"Labels":{"wsscale.pool":"p1"},"State":"exited","ExitCode":137,"Exited":true,"Ports":null},
         {"Id":"ghi","Names":["ws-3"],"Labels":{"wsscale.pool":"p1","wsscale.instance":"ws-3"},"State":"created","ExitCode":0,"Exited":false}]
        """#.utf8)
        let containers = try JSONDecoder().decode([PodmanContainerSummary].self, from: listing)
        #expect(containers.map { ContainerInstanceMapping.instance($0.listing, configuration: configuration) } == [
            DriverInstance(id: "ws-1", status: .running, endpoint: Endpoint(host: "127.0.0.1", port: 41921)),
            DriverInstance(id: "ws-2", status: .exited(code: 137)),
            DriverInstance(id: "ws-3", status: .starting),
        ])
    }

    @Test func readsPodmanVariablesAndNamesBadOnes() throws {
        var reader = EnvironmentReader(environment: [
            "PODMAN_HOST": "tcp://127.0.0.1:8085", "WSSCALE_PODMAN_NETWORK": "n", "WSSCALE_PODMAN_PUBLISH_ADDRESS": "127.0.0.1",
            "WSSCALE_PODMAN_STOP_GRACE": "4", "DOCKER_HOST": "unix:///elsewhere", "WSSCALE_DOCKER_IMAGE": "not-this",
        ])
        let read = ContainerDriverConfiguration.read(from: &reader, engine: .podman)
        try reader.finish()
        #expect(read.daemon == .tcp(host: "127.0.0.1", port: 8085))
        #expect(read.image == "localhost/wsscale:local")
        #expect(read.apiVersion == "v4.0.0")
        #expect(read.reachability == .publish(hostAddress: "127.0.0.1", network: "n"))
        #expect(read.stopGrace == .seconds(4))
        #expect(read.resourceLimits.map(\.name) == ["nofile", "nproc"])

        var defaults = EnvironmentReader(environment: [:])
        let plain = ContainerDriverConfiguration.read(from: &defaults, engine: .podman)
        #expect(plain.daemon == .unixSocket(path: "/run/podman/podman.sock"))
        #expect(plain.reachability == .publish(hostAddress: "127.0.0.1"))

        var bad = EnvironmentReader(environment: ["PODMAN_HOST": "ftp://x", "WSSCALE_PODMAN_CONTAINER_PORT": "70000"])
        _ = ContainerDriverConfiguration.read(from: &bad, engine: .podman)
        #expect(bad.issues.map(\.variable) == ["PODMAN_HOST", "WSSCALE_PODMAN_CONTAINER_PORT"])
    }

    @Test func keepsContainerLimitsWithinTheHardLimits() {
        let limits = ContainerResourceLimit.withinHardLimits()
        #expect(limits.count == 2)
        #expect(limits.allSatisfy { $0.value > 0 })
        #expect(limits.first { $0.name == "nproc" }.map { $0.value <= 4096 } == true)
    }
}
