import Foundation
import Logging
import Testing
import WSScaleCore
import WSScaleCurlHTTP
import WSScaleTestSupport
@testable import WSScaleBackends

/// A Docker driver for a fresh pool of test containers, removed at the end.
struct DockerTestPool {
    let pool = "test-\(UInt32.random(in: 0...UInt32.max))"
    var daemon: ServiceAddress = .unixSocket(path: "/var/run/docker.sock")

    func configuration(image: String = DockerTestEnvironment.testImage,
                       command: [String]? = DockerTestEnvironment.testCommand) -> ContainerDriverConfiguration {
        ContainerDriverConfiguration(image: image, pool: pool, daemon: daemon, stopGrace: .seconds(2),
                                  environment: ["REDIS_URL": "redis://127.0.0.1:6379"], command: command,
                                  retry: RetryBackoff(attempts: 2, initialDelay: .milliseconds(50)))
    }

    func driver(image: String = DockerTestEnvironment.testImage,
                command: [String]? = DockerTestEnvironment.testCommand) -> DockerDriver {
        DockerDriver(configuration: configuration(image: image, command: command), logger: Logger(label: "test.docker"))
    }

    /// An instance id of this pool (its container is `container(suffix)`).
    func id(_ suffix: String) -> InstanceID { suffix }

    /// The container of instance `id(suffix)`: `<pool>-<suffix>`.
    func container(_ suffix: String) -> String { configuration().containerName(id(suffix)) }

    func removeEverything() { DockerTestEnvironment.removeContainers(ofPool: pool) }
}

/// Answers `GET /health` at `endpoint` (the test's own check, independent of the driver's).
func healthStatus(_ endpoint: Endpoint) async throws -> Int {
    let client = CurlHTTPClient(address: .tcp(host: endpoint.host, port: endpoint.port), timeout: .seconds(2), logger: Logger(label: "test.health"))
    return try await client.request("GET", "/health").status
}

/// The Docker driver against the real daemon (Debian's dockerd 20.10, API 1.41).
@Suite(.serialized, .enabled(if: DockerTestEnvironment.isAvailable, "needs a Docker daemon: scripts/setup-docker.sh could not start one"))
struct DockerDriverTests {
    @Test func launchesListsWaitsAndStops() async throws {
        let pool = DockerTestPool()
        defer { pool.removeEverything() }
        let driver = pool.driver()
        try await driver.ping()

        let launched = try await driver.launch(LaunchRequest(id: pool.id("a"), environment: ["WS_KNOB": "7"]))
        #expect(launched.id == pool.id("a"))
        #expect(launched.status == .starting)

        let listed = try await driver.instances()
        #expect(listed.map(\.id) == [pool.id("a")])

        let endpoint = try await driver.waitUntilRunning(pool.id("a"), timeout: .seconds(30))
        #expect(endpoint.host == "127.0.0.1")
        #expect(try await healthStatus(endpoint) == 200)
        #expect(try await driver.instances() == [DriverInstance(id: pool.id("a"), status: .running, endpoint: endpoint)])

        // The container got its identity, port, pool labels and the launch environment.
        let env = DockerTestEnvironment.docker("inspect", "-f", "{{join .Config.Env \",\"}} {{index .Config.Labels \"wsscale.pool\"}} {{.HostConfig.RestartPolicy.Name}}", pool.container("a")).output
        #expect(env.contains("SERVER_ID=\(pool.id("a"))"))
        #expect(env.contains("SERVER_PORT=8088"))
        #expect(env.contains("WS_KNOB=7"))
        #expect(env.contains("REDIS_URL=redis://127.0.0.1:6379"))
        #expect(env.contains(" \(pool.pool) no"))

        try await driver.stop(pool.id("a"), grace: .seconds(2))
        #expect(try await driver.instances().isEmpty)
        #expect(DockerTestEnvironment.docker("ps", "-aq", "--filter", "label=wsscale.pool=\(pool.pool)").output.isEmpty)
        // Stopping what is gone succeeds.
        try await driver.stop(pool.id("a"), grace: .seconds(1))
    }

    @Test func reportsAKillFromOutsideButNotAStop() async throws {
        let pool = DockerTestPool()
        defer { pool.removeEverything() }
        let driver = pool.driver()
        let exits = driver.exits()
        _ = try await driver.launch(LaunchRequest(id: pool.id("stopped")))
        _ = try await driver.launch(LaunchRequest(id: pool.id("killed")))
        _ = try await driver.waitUntilRunning(pool.id("stopped"), timeout: .seconds(30))
        _ = try await driver.waitUntilRunning(pool.id("killed"), timeout: .seconds(30))

        try await driver.stop(pool.id("stopped"), grace: .seconds(2))
        #expect(DockerTestEnvironment.docker("kill", pool.container("killed")).status == 0)

        let first = try await firstExit(exits, within: .seconds(15))
        #expect(first == InstanceExit(id: pool.id("killed"), exitCode: 137, reason: "container killed (SIGKILL, exit code 137)"))
        // Once reported, the dead container is removed by the driver.
        #expect(await TestSupport.eventually(timeout: .seconds(5)) { try await driver.instances().isEmpty })
        try await driver.stop(pool.id("killed"), grace: .seconds(1))
    }

    /// The attack "a fake labelled container": containers carrying the pool's label, made
    /// behind the driver's back, are not adopted (so never put in HAProxy's rotation nor
    /// stopped by the pool) unless named with the pool's prefix and running its image.
    @Test func doesNotAdoptAFakeLabelledContainer() async throws {
        let pool = DockerTestPool()
        defer { pool.removeEverything() }
        let driver = pool.driver()
        _ = try await driver.launch(LaunchRequest(id: pool.id("real")))
        func fake(name: String, instance: String, image: String) throws {
            let made = DockerTestEnvironment.docker("run", "-d", "--name", name, "--label", "wsscale.pool=\(pool.pool)",
                                                    "--label", "wsscale.instance=\(instance)", "--label", "wsscale.port=8088",
                                                    image, "sleep", "600")
            try #require(made.status == 0, "docker run: \(made.output)")
        }
        try fake(name: "fake-\(pool.pool)", instance: "fake", image: DockerTestEnvironment.testImage)
        if DockerTestEnvironment.runsRealServer {
            // The right name, the wrong image.
            try fake(name: pool.container("lookalike"), instance: pool.id("lookalike"), image: DockerTestEnvironment.baseImage)
        }
        let adopted = try await driver.instances().map(\.id)
        print("fake labelled containers: listed \(DockerTestEnvironment.docker("ps", "-aq", "--filter", "label=wsscale.pool=\(pool.pool)").output.split(separator: "\n").count) labelled, adopted \(adopted)")
        #expect(adopted == [pool.id("real")])
    }

    @Test func aNewDriverAdoptsThePoolsContainers() async throws {
        let pool = DockerTestPool()
        defer { pool.removeEverything() }
        let first = pool.driver()
        _ = try await first.launch(LaunchRequest(id: pool.id("old")))
        let endpoint = try await first.waitUntilRunning(pool.id("old"), timeout: .seconds(30))

        let other = DockerTestPool()
        #expect(try await other.driver().instances().isEmpty)

        let restarted = pool.driver()
        #expect(try await restarted.instances() == [DriverInstance(id: pool.id("old"), status: .running, endpoint: endpoint)])
        #expect(try await restarted.waitUntilRunning(pool.id("old"), timeout: .seconds(5)) == endpoint)
        try await restarted.stop(pool.id("old"), grace: .seconds(2))
        #expect(try await first.instances().isEmpty)
    }

    @Test func reportsAMissingImageInTheDaemonsWords() async throws {
        let pool = DockerTestPool()
        defer { pool.removeEverything() }
        let driver = pool.driver(image: "wsscale-no-such-image:0")
        do {
            _ = try await driver.launch(LaunchRequest(id: pool.id("x")))
            Issue.record("launching a missing image succeeded")
        } catch let error as DriverError {
            #expect(error.instance == pool.id("x"))
            #expect(error.message.contains("No such image: wsscale-no-such-image:0"))
        }
        #expect(try await driver.instances().isEmpty)
    }

    @Test func reportsANameConflict() async throws {
        let pool = DockerTestPool()
        defer { pool.removeEverything() }
        let driver = pool.driver()
        _ = try await driver.launch(LaunchRequest(id: pool.id("same")))
        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.launch(LaunchRequest(id: pool.id("same")))
        }
        #expect(error?.message.contains("is already in use") == true)
        #expect(try await driver.instances().count == 1)
    }

    @Test func removesAContainerThatDoesNotStart() async throws {
        let pool = DockerTestPool()
        defer { pool.removeEverything() }
        // Publishing on an address this machine does not have (TEST-NET-1; nothing is sent
        // there) makes the start fail after the create succeeded.
        var configuration = pool.configuration()
        configuration.reachability = .publish(hostAddress: "192.0.2.1")
        let driver = DockerDriver(configuration: configuration, logger: Logger(label: "test.docker"))
        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.launch(LaunchRequest(id: pool.id("broken")))
        }
        #expect(error?.message.contains("/start: HTTP ") == true)
        #expect(error?.message.contains("192.0.2.1") == true)
        #expect(try await driver.instances().isEmpty)
    }

    @Test func waitingForAContainerThatExitsFailsWithItsCode() async throws {
        let pool = DockerTestPool()
        defer { pool.removeEverything() }
        // The base image (no entrypoint, busybox) makes a container that exits with code 3.
        let driver = pool.driver(image: DockerTestEnvironment.baseImage, command: ["/bin/busybox", "sh", "-c", "exit 3"])
        _ = try await driver.launch(LaunchRequest(id: pool.id("quits")))
        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.waitUntilRunning(pool.id("quits"), timeout: .seconds(30))
        }
        #expect(error?.message.contains("exited with code 3") == true)
        // Nobody follows exits(): the dead container stays, listed as exited (a restarted
        // balancer retires it).
        #expect(try await driver.instances() == [DriverInstance(id: pool.id("quits"), status: .exited(code: 3))])
    }

    @Test func joinsANamedNetworkWithoutPublishing() async throws {
        let pool = DockerTestPool()
        let network = "\(pool.pool)-net"
        #expect(DockerTestEnvironment.docker("network", "create", network).status == 0)
        defer {
            pool.removeEverything()
            DockerTestEnvironment.docker("network", "rm", network)
        }
        var configuration = pool.configuration()
        configuration.reachability = .network(name: network)
        let driver = DockerDriver(configuration: configuration, logger: Logger(label: "test.docker"))
        _ = try await driver.launch(LaunchRequest(id: pool.id("n")))
        let seen = DockerTestEnvironment.docker("inspect", "-f", "{{.HostConfig.NetworkMode}} {{len .HostConfig.PortBindings}}", pool.container("n")).output
        #expect(seen.trimmingCharacters(in: .whitespacesAndNewlines) == "\(network) 0")
        // Reached at its address in that network (by a balancer there; the test sends it nothing).
        let address = DockerTestEnvironment.docker("inspect", "-f", "{{(index .NetworkSettings.Networks \"\(network)\").IPAddress}}", pool.container("n"))
            .output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!address.isEmpty)
        #expect(try await driver.instances().map(\.endpoint) == [Endpoint(host: address, port: 8088)])
        try await driver.stop(pool.id("n"), grace: .seconds(1))
        #expect(try await driver.instances().isEmpty)
    }

    @Test func joinsANetworkAndPublishesOnLoopback() async throws {
        let pool = DockerTestPool()
        let network = "\(pool.pool)-net"
        #expect(DockerTestEnvironment.docker("network", "create", network).status == 0)
        defer {
            pool.removeEverything()
            DockerTestEnvironment.docker("network", "rm", network)
        }
        var configuration = pool.configuration()
        configuration.reachability = .publish(hostAddress: "127.0.0.1", network: network)
        let driver = DockerDriver(configuration: configuration, logger: Logger(label: "test.docker"))
        _ = try await driver.launch(LaunchRequest(id: pool.id("np")))
        let endpoint = try await driver.waitUntilRunning(pool.id("np"), timeout: .seconds(30))
        #expect(endpoint.host == "127.0.0.1")
        #expect(try await healthStatus(endpoint) == 200)
        let seen = DockerTestEnvironment.docker("inspect", "-f", "{{.HostConfig.NetworkMode}}", pool.container("np")).output
        #expect(seen.trimmingCharacters(in: .whitespacesAndNewlines) == network)
        try await driver.stop(pool.id("np"), grace: .seconds(1))
    }

    @Test func reportsADaemonThatIsNotThere() async throws {
        var pool = DockerTestPool()
        pool.daemon = .unixSocket(path: "/nonexistent/docker.sock")
        let error = await #expect(throws: DriverError.self) {
            _ = try await pool.driver().instances()
        }
        #expect(error?.message.hasPrefix("docker daemon unreachable at unix:///nonexistent/docker.sock") == true)
    }

    /// Launch → `/health` answering, five times; prints the median (the README's figure).
    @Test func measuresLaunchToHealth() async throws {
        let pool = DockerTestPool()
        defer { pool.removeEverything() }
        let driver = pool.driver()
        let clock = ContinuousClock()
        var times: [Duration] = []
        for index in 0..<5 {
            let start = clock.now
            _ = try await driver.launch(LaunchRequest(id: pool.id("t\(index)")))
            let endpoint = try await driver.waitUntilRunning(pool.id("t\(index)"), timeout: .seconds(30))
            times.append(clock.now - start)
            #expect(try await healthStatus(endpoint) == 200)
            try await driver.stop(pool.id("t\(index)"), grace: .seconds(1))
        }
        let median = times.sorted()[2]
        print("docker launch → /health answering (image \(DockerTestEnvironment.testImage)): median of 5 = \(median), all = \(times)")
        #expect(median < .seconds(10))
    }
}

/// The first exit `exits` yields, or a failure after `limit`.
func firstExit(_ exits: AsyncStream<InstanceExit>, within limit: Duration) async throws -> InstanceExit? {
    try await withThrowingTaskGroup(of: InstanceExit?.self) { group in
        group.addTask {
            for await exit in exits { return exit }
            return nil
        }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
