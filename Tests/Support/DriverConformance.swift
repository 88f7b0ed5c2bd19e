import WSScaleBackends
import WSScaleCore

/// The driver protocol's contract as runnable checks, for every backend.
///
/// A backend's test builds a `DriverConformance` from a factory of `Fixture`s (one fresh
/// pool state per check) and calls each check from its own `@Test`, or `runAll()`.
/// A check throws `DriverConformance.Failure` saying which rule was broken.
/// Every check stops what it launched, also when it fails.
public struct DriverConformance: Sendable {
    /// One pool's state for one check (a fresh state directory, pool name, label …).
    public struct Fixture: Sendable {
        /// Makes a driver over this fixture's pool state. Called again to model a balancer
        /// restart: the new driver must find the instances of the earlier one.
        public var makeDriver: @Sendable () async throws -> any InstanceDriver
        /// Makes a driver for the same kind of backend whose program / image cannot start.
        public var makeDriverWithBadProgram: @Sendable () async throws -> any InstanceDriver
        /// Kills an instance from outside the driver, the way a crash would (`kill -9`,
        /// `docker kill`, …).
        public var killFromOutside: @Sendable (InstanceID) async throws -> Void
        /// Removes what the fixture left (state directory …); called at the end of each check.
        public var cleanUp: @Sendable () async -> Void

        /// Creates a fixture.
        public init(makeDriver: @escaping @Sendable () async throws -> any InstanceDriver,
                    makeDriverWithBadProgram: @escaping @Sendable () async throws -> any InstanceDriver,
                    killFromOutside: @escaping @Sendable (InstanceID) async throws -> Void,
                    cleanUp: @escaping @Sendable () async -> Void = {}) {
            self.makeDriver = makeDriver
            self.makeDriverWithBadProgram = makeDriverWithBadProgram
            self.killFromOutside = killFromOutside
            self.cleanUp = cleanUp
        }
    }

    /// A broken rule of the contract.
    public struct Failure: Error, CustomStringConvertible {
        /// Which rule, and what happened instead.
        public var description: String
    }

    /// Makes a fresh fixture for each check.
    public var makeFixture: @Sendable () async throws -> Fixture
    /// How long an instance may take to answer `/health`.
    public var startTimeout: Duration
    /// The grace period given to `stop`.
    public var grace: Duration
    /// How long the suite waits for `exits()` to report a kill.
    public var exitReportTimeout: Duration

    /// Creates the suite.
    /// - Parameters:
    ///   - startTimeout: how long an instance may take to answer `/health`.
    ///   - grace: the grace period given to `stop`.
    ///   - exitReportTimeout: how long to wait for `exits()` after a kill.
    ///   - makeFixture: a fresh pool state per check.
    public init(startTimeout: Duration = .seconds(10), grace: Duration = .seconds(2),
                exitReportTimeout: Duration = .seconds(5),
                makeFixture: @escaping @Sendable () async throws -> Fixture) {
        self.makeFixture = makeFixture
        self.startTimeout = startTimeout
        self.grace = grace
        self.exitReportTimeout = exitReportTimeout
    }

    /// The rules of the driver contract, one check each; backends run them as the arguments
    /// of one parameterized `@Test`.
    public enum Check: String, CaseIterable, Sendable, CustomStringConvertible {
        case launchedInstanceIsListedAndAnswers
        case stoppedInstanceIsGoneAndNotReportedAsExit
        case instanceKilledFromOutsideIsReportedOnce
        case restartedDriverFindsTheSameInstances
        case badProgramThrowsDriverError
        case stoppingAnUnknownInstanceSucceeds

        public var description: String { rawValue }
    }

    /// Runs one check.
    public func run(_ check: Check) async throws {
        switch check {
        case .launchedInstanceIsListedAndAnswers: try await launchedInstanceIsListedAndAnswers()
        case .stoppedInstanceIsGoneAndNotReportedAsExit: try await stoppedInstanceIsGoneAndNotReportedAsExit()
        case .instanceKilledFromOutsideIsReportedOnce: try await instanceKilledFromOutsideIsReportedOnce()
        case .restartedDriverFindsTheSameInstances: try await restartedDriverFindsTheSameInstances()
        case .badProgramThrowsDriverError: try await badProgramThrowsDriverError()
        case .stoppingAnUnknownInstanceSucceeds: try await stoppingAnUnknownInstanceSucceeds()
        }
    }

    /// Runs every check, one after the other.
    public func runAll() async throws {
        for check in Check.allCases { try await run(check) }
    }

    /// launch → listed; `waitUntilRunning` returns an endpoint that answers `GET /health`
    /// with 200 or 503, and the instance is then listed as running.
    public func launchedInstanceIsListedAndAnswers() async throws {
        try await withFixture { fixture, driver in
            let id = Self.newID()
            let launched = try await driver.launch(LaunchRequest(id: id))
            try expect(launched.id == id, "launch returns the requested id, got \(launched.id)")
            try expect(launched.status != .exited(code: nil), "launch returns a live instance")
            let listed = try await driver.instances().map(\.id)
            try expect(listed.contains(id), "a launched instance is listed, got \(listed)")
            let endpoint = try await driver.waitUntilRunning(id, timeout: startTimeout)
            let status = try await RawHTTPClient.status(endpoint, path: "/health")
            try expect(status == 200 || status == 503, "the endpoint answers /health with 200 or 503, got \(status)")
            let running = try await driver.instances().first { $0.id == id }
            try expect(running?.status == .running, "after waitUntilRunning it is listed as running, got \(String(describing: running))")
            try expect(running?.endpoint == endpoint, "it is listed with the endpoint waitUntilRunning returned")
        }
    }

    /// stop → no longer listed, no longer answering, and not reported by `exits()`.
    public func stoppedInstanceIsGoneAndNotReportedAsExit() async throws {
        try await withFixture { fixture, driver in
            let exits = ExitRecorder(driver.exits())
            defer { exits.cancel() }
            let id = Self.newID()
            _ = try await driver.launch(LaunchRequest(id: id))
            let endpoint = try await driver.waitUntilRunning(id, timeout: startTimeout)
            try await driver.stop(id, grace: grace)
            let listed = try await driver.instances().map(\.id)
            try expect(!listed.contains(id), "a stopped instance is not listed, got \(listed)")
            let answered = try? await RawHTTPClient.status(endpoint, timeout: .milliseconds(500))
            try expect(answered == nil, "a stopped instance no longer answers on \(endpoint)")
            try await Task.sleep(for: .seconds(1))
            let reported = await exits.recorded
            try expect(!reported.contains { $0.id == id }, "a stopped instance is not reported by exits(), got \(reported)")
        }
    }

    /// kill from outside → reported once by `exits()`, and no longer listed.
    public func instanceKilledFromOutsideIsReportedOnce() async throws {
        try await withFixture { fixture, driver in
            let exits = ExitRecorder(driver.exits())
            defer { exits.cancel() }
            let id = Self.newID()
            _ = try await driver.launch(LaunchRequest(id: id))
            _ = try await driver.waitUntilRunning(id, timeout: startTimeout)
            try await fixture.killFromOutside(id)
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: exitReportTimeout)
            while await exits.recorded.isEmpty, clock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let first = await exits.recorded
            try expect(first.map(\.id) == [id],
                       "a killed instance is reported by exits() within \(exitReportTimeout), got \(first)")
            try await Task.sleep(for: .milliseconds(500))
            let later = await exits.recorded
            try expect(later.count == 1, "a killed instance is reported once, got \(later)")
            let listed = try await driver.instances().map(\.id)
            try expect(!listed.contains(id), "a killed instance is not listed, got \(listed)")
        }
    }

    /// A new driver over the same pool state (a balancer restart) lists the same instances,
    /// running, and can stop them.
    public func restartedDriverFindsTheSameInstances() async throws {
        try await withFixture { fixture, first in
            let ids = [Self.newID(), Self.newID()].sorted()
            var endpoints: [InstanceID: Endpoint] = [:]
            for id in ids {
                _ = try await first.launch(LaunchRequest(id: id))
                endpoints[id] = try await first.waitUntilRunning(id, timeout: startTimeout)
            }
            let second = try await fixture.makeDriver()
            let found = try await second.instances()
            try expect(found.map(\.id).sorted() == ids, "a restarted driver lists the same instances, got \(found.map(\.id))")
            for instance in found {
                try expect(instance.endpoint == endpoints[instance.id],
                           "a restarted driver lists \(instance.id) at \(String(describing: endpoints[instance.id])), got \(String(describing: instance.endpoint))")
                let endpoint = try await second.waitUntilRunning(instance.id, timeout: startTimeout)
                try expect(endpoint == endpoints[instance.id], "waitUntilRunning on an adopted instance returns its endpoint")
            }
            for id in ids { try await second.stop(id, grace: grace) }
            let left = try await second.instances()
            try expect(left.isEmpty, "a restarted driver stops adopted instances, left \(left)")
            let third = try await fixture.makeDriver()
            let afterStop = try await third.instances()
            try expect(afterStop.isEmpty, "stopped instances are not found again after another restart, got \(afterStop)")
        }
    }

    /// A program / image that cannot start makes `launch` (or `waitUntilRunning`) throw
    /// `DriverError`, and leaves nothing listed.
    public func badProgramThrowsDriverError() async throws {
        let fixture = try await makeFixture()
        do {
            try await launchFailsWithDriverError(fixture)
        } catch {
            await fixture.cleanUp()
            throw error
        }
        await fixture.cleanUp()
    }

    private func launchFailsWithDriverError(_ fixture: Fixture) async throws {
        let driver = try await fixture.makeDriverWithBadProgram()
        let id = Self.newID()
        do {
            _ = try await driver.launch(LaunchRequest(id: id))
            _ = try await driver.waitUntilRunning(id, timeout: startTimeout)
            try? await driver.stop(id, grace: .zero)
            throw Failure(description: "launching a bad program throws DriverError, but it started")
        } catch is DriverError {
            // expected
        } catch let failure as Failure {
            throw failure
        } catch {
            try? await driver.stop(id, grace: .zero)
            throw Failure(description: "launching a bad program throws DriverError, got \(type(of: error)): \(error)")
        }
        try? await driver.stop(id, grace: .zero)
        let left = try await driver.instances().filter { $0.id == id && ($0.status == .starting || $0.status == .running) }
        try expect(left.isEmpty, "a bad launch leaves nothing starting or running, got \(left)")
    }

    /// Stopping an id the driver never launched succeeds.
    public func stoppingAnUnknownInstanceSucceeds() async throws {
        try await withFixture { _, driver in
            try await driver.stop("ws-never-launched", grace: .milliseconds(100))
        }
    }

    // MARK: - Plumbing

    private func withFixture(_ body: (Fixture, any InstanceDriver) async throws -> Void) async throws {
        let fixture = try await makeFixture()
        do {
            let driver = try await fixture.makeDriver()
            try await body(fixture, driver)
        } catch {
            await stopEverything(fixture)
            await fixture.cleanUp()
            throw error
        }
        await stopEverything(fixture)
        await fixture.cleanUp()
    }

    private func stopEverything(_ fixture: Fixture) async {
        guard let driver = try? await fixture.makeDriver(),
              let instances = try? await driver.instances() else { return }
        for instance in instances {
            try? await driver.stop(instance.id, grace: .zero)
        }
    }

    private func expect(_ condition: Bool, _ rule: @autoclosure () -> String) throws {
        if !condition { throw Failure(description: "driver contract: \(rule())") }
    }

    private static func newID() -> InstanceID {
        "ws-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }
}

/// Reads a driver's exit stream in the background and keeps what it yields.
private final class ExitRecorder: @unchecked Sendable {
    private let storage = ExitStorage()
    private var task: Task<Void, Never>?

    init(_ stream: AsyncStream<InstanceExit>) {
        let storage = self.storage
        task = Task {
            for await exit in stream { await storage.append(exit) }
        }
    }

    var recorded: [InstanceExit] {
        get async { await storage.exits }
    }

    func cancel() {
        task?.cancel()
    }
}

private actor ExitStorage {
    var exits: [InstanceExit] = []

    func append(_ exit: InstanceExit) {
        exits.append(exit)
    }
}

extension DriverConformance.Fixture {
    /// The fixture of a container backend: drivers over one pool's configuration, the
    /// "bad program" being a missing image, crashes by the engine's `kill`, cleanup by label.
    /// - Parameters:
    ///   - cli: the engine's CLI (`docker`, `podman`).
    ///   - pool: the pool's label value.
    ///   - configuration: the driver's configuration for that pool.
    ///   - makeDriver: the backend's driver over a configuration.
    public static func containers(cli: ContainerCLI, pool: String, configuration: ContainerDriverConfiguration,
                                  makeDriver: @escaping @Sendable (ContainerDriverConfiguration) -> any InstanceDriver) -> Self {
        let missingImage = {
            var missing = configuration
            missing.image = "wsscale-no-such-image:0"
            return missing
        }()
        return Self(
            makeDriver: { makeDriver(configuration) },
            makeDriverWithBadProgram: { makeDriver(missingImage) },
            killFromOutside: { id in
                let killed = cli.run(["kill", configuration.containerName(id)])
                guard killed.status == 0 else { throw DriverError("\(cli.program) kill failed: \(killed.output)", instance: id) }
            },
            cleanUp: { cli.removeContainers(ofPool: pool) })
    }
}
