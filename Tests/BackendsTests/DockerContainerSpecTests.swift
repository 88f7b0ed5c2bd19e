import Foundation
import Testing
import WSScaleCore
@testable import WSScaleBackends

/// The Docker driver's pure parts: the create body, reading listings, configuration.
@Suite struct DockerContainerSpecTests {
    let configuration = ContainerDriverConfiguration(image: "wsscale:local", pool: "p1", stopGrace: .milliseconds(2500),
                                                  environment: ["REDIS_URL": "redis://redis:6379", "SERVER_ID": "overridden"])

    @Test func publishesTheServerPortOnLoopbackWithItsIdentity() throws {
        let (spec, port) = DockerContainerSpec.make(for: LaunchRequest(id: "ws-1", environment: ["KNOB": "1"]), configuration: configuration)
        #expect(port == 8088)
        #expect(spec.Image == "wsscale:local")
        #expect(spec.Cmd == nil)
        #expect(spec.Env == ["KNOB=1", "REDIS_URL=redis://redis:6379", "SERVER_HOST=0.0.0.0", "SERVER_ID=ws-1", "SERVER_PORT=8088"])
        #expect(spec.Labels == ["wsscale.pool": "p1", "wsscale.instance": "ws-1", "wsscale.port": "8088"])
        #expect(spec.StopTimeout == 3)
        #expect(spec.HostConfig.PortBindings == ["8088/tcp": [.init(HostIp: "127.0.0.1", HostPort: "")]])
        #expect(spec.HostConfig.NetworkMode == nil)
        let json = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        #expect(json.contains(#""ExposedPorts":{"8088\/tcp":{}}"#))
        #expect(json.contains(#""RestartPolicy":{"Name":"no"}"#))
    }

    @Test func joinsANetworkInsteadOfPublishing() {
        var configuration = configuration
        configuration.reachability = .network(name: "wsscale_default")
        let (spec, port) = DockerContainerSpec.make(for: LaunchRequest(id: "ws-2", port: 9000), configuration: configuration)
        #expect(port == 9000)
        #expect(spec.HostConfig.PortBindings == nil)
        #expect(spec.HostConfig.NetworkMode == "wsscale_default")
        #expect(spec.Env.contains("SERVER_PORT=9000"))
    }

    @Test func joinsANetworkAndPublishes() {
        var configuration = configuration
        configuration.reachability = .publish(hostAddress: "127.0.0.1", network: "wsscale_exp")
        let (spec, _) = DockerContainerSpec.make(for: LaunchRequest(id: "ws-3"), configuration: configuration)
        #expect(spec.HostConfig.NetworkMode == "wsscale_exp")
        #expect(spec.HostConfig.PortBindings?["8088/tcp"]?.first?.HostIp == "127.0.0.1")
    }

    @Test func readsWhetherToPublishAndWhichNetworkToJoin() throws {
        func reachability(_ environment: [String: String]) throws -> ContainerDriverConfiguration.Reachability {
            var reader = EnvironmentReader(environment: environment)
            let read = ContainerDriverConfiguration.read(from: &reader, engine: .docker)
            try reader.finish()
            return read.reachability
        }
        #expect(try reachability([:]) == .publish(hostAddress: "127.0.0.1"))
        #expect(try reachability(["WSSCALE_DOCKER_PUBLISH_ADDRESS": "0.0.0.0"]) == .publish(hostAddress: "0.0.0.0"))
        #expect(try reachability(["WSSCALE_DOCKER_NETWORK": "n"]) == .network(name: "n"))
        #expect(try reachability(["WSSCALE_DOCKER_NETWORK": "n", "WSSCALE_DOCKER_PUBLISH_ADDRESS": "127.0.0.1"])
            == .publish(hostAddress: "127.0.0.1", network: "n"))
    }

    @Test func readsListedContainers() throws {
        let listing = Data(#"""
        [{"Id":"abc","Names":["/ws-1"],"Labels":{"wsscale.pool":"p1","wsscale.instance":"ws-1","wsscale.port":"8088"},
          "State":"running","Status":"Up 3 seconds","Ports":[{"IP":"127.0.0.1","PrivatePort":8088,"PublicPort":49153,"Type":"tcp"}]},
         {"Id":"def","Names":["/ws-2"],"Labels":{"wsscale.pool":"p1"},"State":"exited","Status":"Exited (137) 2 seconds ago","Ports":[]},
         {"Id":"ghi","Names":["/ws-3"],"Labels":{"wsscale.pool":"p1","wsscale.instance":"ws-3"},"State":"created","Status":"Created"}]
        """#.utf8)
        let containers = try JSONDecoder().decode([DockerContainerSummary].self, from: listing)
        #expect(containers.map { ContainerInstanceMapping.instance($0.listing, configuration: configuration) } == [
            DriverInstance(id: "ws-1", status: .running, endpoint: Endpoint(host: "127.0.0.1", port: 49153)),
            DriverInstance(id: "ws-2", status: .exited(code: 137)),
            DriverInstance(id: "ws-3", status: .starting),
        ])
    }

    @Test func reachesNetworkAttachedContainersAtTheirAddressThere() throws {
        var networked = configuration
        networked.reachability = .network(name: "wsscale_net")
        let listing = Data(#"""
        [{"Id":"abc","Names":["/ws-1"],"Labels":{"wsscale.pool":"p1","wsscale.instance":"ws-1","wsscale.port":"8088"},"State":"running",
          "Status":"Up 1 second","Ports":[],"NetworkSettings":{"Networks":{"wsscale_net":{"IPAddress":"10.9.0.5"}}}},
         {"Id":"def","Names":["/ws-2"],"Labels":{"wsscale.pool":"p1","wsscale.instance":"ws-2"},"State":"running",
          "Status":"Up 1 second","Ports":[],"NetworkSettings":{"Networks":{"other":{"IPAddress":"10.8.0.2"}}}}]
        """#.utf8)
        let containers = try JSONDecoder().decode([DockerContainerSummary].self, from: listing)
        #expect(containers.map { ContainerInstanceMapping.instance($0.listing, configuration: networked) } == [
            DriverInstance(id: "ws-1", status: .running, endpoint: Endpoint(host: "10.9.0.5", port: 8088)),
            DriverInstance(id: "ws-2", status: .running, endpoint: nil),
        ])
        let inspection = try JSONDecoder().decode(ContainerInspection.self, from: Data(#"""
        {"Id":"abc","NetworkSettings":{"Ports":{},"Networks":{"wsscale_net":{"IPAddress":"10.9.0.5"},"bridge":{"IPAddress":""}}}}
        """#.utf8))
        #expect(ContainerInstanceMapping.networkEndpoint(inspection, port: 8088, network: "wsscale_net") == Endpoint(host: "10.9.0.5", port: 8088))
        #expect(ContainerInstanceMapping.networkEndpoint(inspection, port: 8088, network: "bridge") == nil)
    }

    @Test func namesExitCodes() {
        #expect(ContainerInstanceMapping.exitReason(code: 137, oomKilled: true) == "container killed (SIGKILL, exit code 137), out of memory")
        #expect(ContainerInstanceMapping.exitReason(code: 134, oomKilled: false) == "container killed by signal 6 (exit code 134)")
        #expect(ContainerInstanceMapping.exitReason(code: 1, oomKilled: false) == "container exited with code 1")
        #expect(ContainerInstanceMapping.exitCode("Exited (0) 1 second ago") == 0)
        #expect(ContainerInstanceMapping.exitCode("Dead") == nil)
        #expect(ContainerInstanceMapping.reachableHost("0.0.0.0") == "127.0.0.1")
    }

    @Test func formatsEventTimestampsWithNanoseconds() {
        #expect(ContainerEventTime.timestamp(nanoseconds: 1_700_000_000_000_000_042) == "1700000000.000000042")
    }

    @Test func refusesInvalidContainerNames() {
        #expect(DockerDriver.isValidName("ws-1_a.b"))
        #expect(!DockerDriver.isValidName("-ws"))
        #expect(!DockerDriver.isValidName("ws/1"))
        #expect(!DockerDriver.isValidName(""))
    }

    @Test func readsItsEnvironmentAndNamesBadVariables() throws {
        var reader = EnvironmentReader(environment: [
            "DOCKER_HOST": "tcp://127.0.0.1:2375", "WSSCALE_DOCKER_NETWORK": "wsscale_default",
            "WSSCALE_POOL": "blue", "WSSCALE_DOCKER_STOP_GRACE": "4",
        ])
        let read = ContainerDriverConfiguration.read(from: &reader, engine: .docker)
        try reader.finish()
        #expect(read.daemon == .tcp(host: "127.0.0.1", port: 2375))
        #expect(read.reachability == .network(name: "wsscale_default"))
        #expect(read.pool == "blue")
        #expect(read.stopGrace == .seconds(4))
        #expect(read.apiVersion == "v1.41")

        var bad = EnvironmentReader(environment: ["DOCKER_HOST": "tcp://nowhere", "WSSCALE_POOL": "a b", "WSSCALE_DOCKER_CONTAINER_PORT": "0"])
        _ = ContainerDriverConfiguration.read(from: &bad, engine: .docker)
        #expect(bad.issues.map(\.variable) == ["DOCKER_HOST", "WSSCALE_POOL", "WSSCALE_DOCKER_CONTAINER_PORT"])
    }
}
