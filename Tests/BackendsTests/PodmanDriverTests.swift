import Foundation
import Logging
import Testing
import WSScaleCore
import WSScaleCurlHTTP
import WSScaleTestSupport
@testable import WSScaleBackends

/// The Podman driver against the real `podman system service` (podman 4.3, libpod API v4):
/// what the conformance suite does not check. Each test has a pool of its own, removed at the end.
@Suite(.serialized, .enabled(if: PodmanTestEnvironment.isAvailable, "needs podman's REST API and the image (a SKIPPING line says why)"))
struct PodmanDriverTests {
    let pool = "test-\(UInt32.random(in: 0...UInt32.max))"
    let logger = Logger(label: "test.podman")

    func configuration(image: String = PodmanTestEnvironment.testImage,
                       daemon: ServiceAddress = PodmanTestEnvironment.address) -> ContainerDriverConfiguration {
        ContainerDriverConfiguration(engine: .podman, image: image, pool: pool, daemon: daemon, stopGrace: .seconds(2),
                                     environment: ["REDIS_URL": "redis://127.0.0.1:6379"],
                                     retry: RetryBackoff(attempts: 2, initialDelay: .milliseconds(50)))
    }

    /// An instance id of this pool (its container is `container(suffix)`).
    func id(_ suffix: String) -> InstanceID { suffix }

    /// The container of instance `id(suffix)`: `<pool>-<suffix>`.
    func container(_ suffix: String) -> String { configuration().containerName(id(suffix)) }

    @Test func reportsAMissingImageInPodmansWordsAndLeavesNoContainer() async throws {
        defer { PodmanTestEnvironment.removeContainers(ofPool: pool) }
        let driver = PodmanDriver(configuration: configuration(image: "localhost/wsscale-no-such-image:0"), logger: logger)
        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.launch(LaunchRequest(id: id("x")))
        }
        #expect(error?.instance == id("x"))
        #expect(error?.message.contains("image not known") == true, "\(String(describing: error))")
        #expect(try await driver.instances().isEmpty)
    }

    @Test func reportsANameConflict() async throws {
        defer { PodmanTestEnvironment.removeContainers(ofPool: pool) }
        let driver = PodmanDriver(configuration: configuration(), logger: logger)
        _ = try await driver.launch(LaunchRequest(id: id("same")))
        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.launch(LaunchRequest(id: id("same")))
        }
        #expect(error?.message.contains("already in use") == true, "\(String(describing: error))")
        #expect(try await driver.instances().count == 1)
    }

    @Test func removesAContainerThatDoesNotStart() async throws {
        defer { PodmanTestEnvironment.removeContainers(ofPool: pool) }
        // Publishing on an address this machine does not have (TEST-NET-1; nothing is sent
        // there) makes the start fail after the create succeeded.
        var broken = configuration()
        broken.reachability = .publish(hostAddress: "192.0.2.1")
        let driver = PodmanDriver(configuration: broken, logger: logger)
        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.launch(LaunchRequest(id: id("broken")))
        }
        #expect(error?.message.contains("/start: HTTP ") == true, "\(String(describing: error))")
        #expect(try await driver.instances().isEmpty)
    }

    @Test func setsTheConfiguredLimitsAndStopTimeout() async throws {
        defer { PodmanTestEnvironment.removeContainers(ofPool: pool) }
        var limited = configuration()
        limited.resourceLimits = [ContainerResourceLimit(name: "nofile", value: 4321), ContainerResourceLimit(name: "nproc", value: 321)]
        let driver = PodmanDriver(configuration: limited, logger: logger)
        _ = try await driver.launch(LaunchRequest(id: id("limits")))
        let endpoint = try await driver.waitUntilRunning(id("limits"), timeout: .seconds(30))
        #expect(endpoint.host == "127.0.0.1")
        let seen = PodmanTestEnvironment.podman("inspect", "-f", "{{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}:{{.Hard}} {{end}}{{.Config.StopTimeout}}", container("limits"))
        #expect(seen.output.contains("RLIMIT_NOFILE=4321:4321"), "\(seen.output)")
        #expect(seen.output.contains("RLIMIT_NPROC=321:321"), "\(seen.output)")
        #expect(seen.output.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix(" 2"), "\(seen.output)")
        try await driver.stop(id("limits"), grace: .seconds(1))
        #expect(try await driver.instances().isEmpty)
    }

    @Test func joinsANetworkAndPublishesOnLoopback() async throws {
        let network = "\(pool)-net"
        #expect(PodmanTestEnvironment.podman("network", "create", network).status == 0)
        defer {
            PodmanTestEnvironment.removeContainers(ofPool: pool)
            PodmanTestEnvironment.podman("network", "rm", "-f", network)
        }
        var joined = configuration()
        joined.reachability = .publish(hostAddress: "127.0.0.1", network: network)
        let driver = PodmanDriver(configuration: joined, logger: logger)
        _ = try await driver.launch(LaunchRequest(id: id("np")))
        let endpoint = try await driver.waitUntilRunning(id("np"), timeout: .seconds(30))
        #expect(endpoint.host == "127.0.0.1")
        #expect(try await healthStatus(endpoint) == 200)
        let networks = PodmanTestEnvironment.podman("inspect", "-f", "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}", container("np")).output
        #expect(networks.trimmingCharacters(in: .whitespacesAndNewlines) == network)
        try await driver.stop(id("np"), grace: .seconds(1))
    }

    @Test func reportsAServiceThatIsNotThere() async throws {
        let driver = PodmanDriver(configuration: configuration(daemon: .unixSocket(path: "/nonexistent/podman.sock")), logger: logger)
        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.instances()
        }
        #expect(error?.message.hasPrefix("podman service unreachable at unix:///nonexistent/podman.sock") == true)
    }
}
