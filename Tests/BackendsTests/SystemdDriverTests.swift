#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Testing
import WSScaleBackends
import WSScaleCore
import WSScaleTestSupport

/// Every systemd-driver suite, one test at a time: each boots units in the shared container,
/// and a dozen at once at the start of the full run loaded both cores while other suites'
/// 1 s leases ran.
@Suite(.serialized) struct SystemdBackendTests {}

extension SystemdBackendTests {
/// The driver contract (the shared `DriverConformance` suite), checked on the systemd backend
/// against a real systemd (`SystemdTestHost`: PID 1 of a privileged podman container). Each
/// check gets a pool of its own; its units and files are removed at the end.
@Suite(.serialized, .enabled(if: SystemdTestHost.isAvailable, "needs systemd in a podman container (a SKIPPING line says why)"))
struct SystemdDriverConformanceTests {
    let suite = DriverConformance(startTimeout: .seconds(20), grace: .seconds(2), exitReportTimeout: .seconds(5)) {
        SystemdDriverFixture.make().conformance
    }

    @Test(arguments: DriverConformance.Check.allCases)
    func conforms(_ check: DriverConformance.Check) async throws {
        try await suite.run(check)
    }
}

/// What the systemd backend promises beyond the shared contract, against the same real systemd.
@Suite(.serialized, .enabled(if: SystemdTestHost.isAvailable, "needs systemd in a podman container (a SKIPPING line says why)"))
struct SystemdDriverTests {
    @Test func aKilledUnitIsReportedOnceWithItsSignalAndLeavesNothingFailed() async throws {
        let fixture = SystemdDriverFixture.make()
        defer { Task { await fixture.cleanUp() } }
        let driver = try fixture.driver()
        let exits = ExitCollector(driver.exits())
        defer { exits.cancel() }
        let id = SystemdDriverFixture.newID()
        _ = try await driver.launch(LaunchRequest(id: id))
        _ = try await driver.waitUntilRunning(id, timeout: .seconds(20))
        try await fixture.kill(id)
        try #require(await TestSupport.eventually { await exits.count == 1 }, "the exit is reported")
        let exit = try #require(await exits.all.first)
        #expect(exit.id == id)
        #expect(exit.exitCode == SIGKILL, "ExecMainStatus is the signal: \(exit)")
        #expect(exit.reason.contains("Result=signal"), "\(exit)")
        try #require(await TestSupport.eventually {
            let failed = await SystemdTestHost.failedUnits(pool: fixture.pool)
            let loaded = await SystemdTestHost.loadedUnits(pool: fixture.pool)
            return failed.isEmpty && loaded.isEmpty
        }, "nothing of the pool is failed or loaded")
        #expect(!FileManager.default.fileExists(atPath: fixture.environmentFile(id)), "the env file of an exited unit is removed")
        try await Task.sleep(for: .milliseconds(500))
        #expect(await exits.count == 1, "reported once")
    }

    @Test func stopGivesTheGraceThenKills() async throws {
        let fixture = SystemdDriverFixture.make(prefix: SystemdTestHost.stubbornTemplate)
        defer { Task { await fixture.cleanUp() } }
        let driver = try fixture.driver()
        let id = SystemdDriverFixture.newID()
        _ = try await driver.launch(LaunchRequest(id: id))
        let endpoint = try await driver.waitUntilRunning(id, timeout: .seconds(20))
        let grace: Duration = .seconds(2)
        let clock = ContinuousClock()
        let start = clock.now
        try await driver.stop(id, grace: grace)
        let took = clock.now - start
        #expect(took >= grace, "the server ignoring SIGTERM keeps running for the whole grace, stop took \(took)")
        #expect(took < grace + .seconds(5), "SIGKILL follows the grace, long before the unit's \(SystemdTestHost.stubbornBackstop) backstop; took \(took)")
        #expect(await HTTPHealthProbe().get(endpoint, timeout: .milliseconds(300)) == nil, "killed")
        #expect(await SystemdTestHost.loadedUnits(prefix: SystemdTestHost.stubbornTemplate, pool: fixture.pool).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: fixture.environmentFile(id)))
    }

    @Test func twoPoolsOnOneHostDoNotSeeEachOther() async throws {
        let blue = SystemdDriverFixture.make()
        let green = SystemdDriverFixture.make()
        defer { Task { await blue.cleanUp(); await green.cleanUp() } }
        let blueDriver = try blue.driver()
        let greenDriver = try green.driver()
        let blueID = SystemdDriverFixture.newID()
        let greenID = SystemdDriverFixture.newID()
        _ = try await blueDriver.launch(LaunchRequest(id: blueID))
        _ = try await greenDriver.launch(LaunchRequest(id: greenID))
        _ = try await blueDriver.waitUntilRunning(blueID, timeout: .seconds(20))
        _ = try await greenDriver.waitUntilRunning(greenID, timeout: .seconds(20))
        #expect(try await blueDriver.instances().map(\.id) == [blueID])
        #expect(try await greenDriver.instances().map(\.id) == [greenID])
        #expect(try await blue.driver().instances().map(\.id) == [blueID], "a restarted driver adopts its own pool only")
        try await blueDriver.stop(blueID, grace: .seconds(2))
        #expect(try await greenDriver.instances().map(\.id) == [greenID], "stopping one pool's unit leaves the other's")
        #expect(await SystemdTestHost.loadedUnits(pool: green.pool).count == 1)
        try await greenDriver.stop(greenID, grace: .seconds(2))
    }

    @Test func secretsGoOnlyToTheInstancesPrivateEnvironmentFile() async throws {
        let fixture = SystemdDriverFixture.make()
        defer { Task { await fixture.cleanUp() } }
        let driver = try fixture.driver()
        let id = SystemdDriverFixture.newID()
        let secret = "s3cr3t-\(UInt32.random(in: 0...UInt32.max))"
        let tricky = #"a "b" \c $d `e` 'f' #g  h"#
        _ = try await driver.launch(LaunchRequest(id: id, environment: [
            "REDIS_URL": "redis://:\(secret)@127.0.0.1:1/0", "WSSCALE_TEST_TRICKY": tricky]))
        _ = try await driver.waitUntilRunning(id, timeout: .seconds(20))

        let path = fixture.environmentFile(id)
        var file = stat()
        #expect(stat(path, &file) == 0 && file.st_mode & 0o777 == 0o600, "the env file is 0600")
        var folder = stat()
        #expect(stat(SystemdTestHost.environmentDirectory, &folder) == 0 && folder.st_mode & 0o077 == 0, "its folder is not for others")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains(secret))
        #expect(text.contains("SERVER_ID=\"\(id)\""))

        let unit = "\(SystemdTestHost.serverTemplate)\(fixture.pool):\(id).service"
        let pid = try #require(await SystemdTestHost.mainPID(unit))
        let environ = await SystemdTestHost.exec("sh", "-c", "tr '\\0' '\\n' </proc/\(pid)/environ").output
            .split(separator: "\n").map(String.init)
        #expect(environ.contains("WSSCALE_TEST_TRICKY=\(tricky)"), "systemd reads the value back unchanged: \(environ.filter { $0.hasPrefix("WSSCALE_TEST") })")
        #expect(environ.contains("REDIS_URL=redis://:\(secret)@127.0.0.1:1/0"))
        #expect(environ.contains("SERVER_ID=\(id)"))
        let commandLines = await SystemdTestHost.exec("sh", "-c", "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <\"$f\"; echo; done").output
        #expect(commandLines.contains("wsscale server"), "the server's command line is among those read")
        #expect(!commandLines.contains(secret), "no command line holds the secret")

        try await driver.stop(id, grace: .seconds(2))
        #expect(!FileManager.default.fileExists(atPath: path), "stop removes the env file")
    }

    @Test func aRestartedDriverAdoptsRunningUnitsAndLaunchesNothingTwice() async throws {
        let fixture = SystemdDriverFixture.make()
        defer { Task { await fixture.cleanUp() } }
        var first: SystemdDriver? = try fixture.driver()
        let id = SystemdDriverFixture.newID()
        _ = try await first!.launch(LaunchRequest(id: id))
        let endpoint = try await first!.waitUntilRunning(id, timeout: .seconds(20))
        first = nil // the balancer restarts

        let second = try fixture.driver()
        let adopted = try await second.instances()
        #expect(adopted.map(\.id) == [id] && adopted.first?.endpoint == endpoint, "adopted with its port: \(adopted)")
        await #expect(throws: DriverError.self) { try await second.launch(LaunchRequest(id: id)) }
        #expect(await SystemdTestHost.loadedUnits(pool: fixture.pool).count == 1, "one unit, not two")
        #expect(try await second.waitUntilRunning(id, timeout: .seconds(5)) == endpoint)
        #expect(try await second.instances() == [DriverInstance(id: id, status: .running, endpoint: endpoint)])
        try await second.stop(id, grace: .seconds(2))
        #expect(try await second.instances().isEmpty)
    }

    @Test func aUnitThatFailedWhileNoDriverRanIsReportedOnceAtAdoptionAndReset() async throws {
        let fixture = SystemdDriverFixture.make()
        defer { Task { await fixture.cleanUp() } }
        var first: SystemdDriver? = try fixture.driver()
        let id = SystemdDriverFixture.newID()
        _ = try await first!.launch(LaunchRequest(id: id))
        _ = try await first!.waitUntilRunning(id, timeout: .seconds(20))
        first = nil
        try await fixture.kill(id)
        try #require(await TestSupport.eventually { await SystemdTestHost.failedUnits(pool: fixture.pool).count == 1 }, "the unit is failed")

        let second = try fixture.driver()
        let exits = ExitCollector(second.exits())
        defer { exits.cancel() }
        #expect(try await second.instances().isEmpty)
        try #require(await TestSupport.eventually { await exits.count == 1 }, "the exit is reported")
        #expect(await exits.all.first?.id == id)
        #expect(await SystemdTestHost.failedUnits(pool: fixture.pool).isEmpty, "reset once reported")
        try await Task.sleep(for: .milliseconds(300))
        #expect(await exits.count == 1)
    }

    @Test func aTemplateThatDoesNotExistFailsTheLaunchAndLeavesNoFile() async throws {
        let fixture = SystemdDriverFixture.make(prefix: "wsscale-no-such-template@")
        defer { Task { await fixture.cleanUp() } }
        let driver = try fixture.driver()
        let id = SystemdDriverFixture.newID()
        await #expect(throws: DriverError.self) { try await driver.launch(LaunchRequest(id: id)) }
        #expect(!FileManager.default.fileExists(atPath: fixture.environmentFile(id)))
    }

    @Test func aMissingBinaryFailsWithTheUnitsResultAndLeavesNothing() async throws {
        let fixture = SystemdDriverFixture.make(prefix: SystemdTestHost.missingBinaryTemplate)
        defer { Task { await fixture.cleanUp() } }
        let driver = try fixture.driver()
        let id = SystemdDriverFixture.newID()
        _ = try await driver.launch(LaunchRequest(id: id))
        do {
            _ = try await driver.waitUntilRunning(id, timeout: .seconds(20))
            Issue.record("a unit whose binary is missing started")
        } catch let error as DriverError {
            #expect(error.message.contains("journalctl -u"), "\(error)")
            #expect(error.message.contains("Result=exit-code"), "\(error)")
        }
        #expect(await SystemdTestHost.failedUnits(prefix: SystemdTestHost.missingBinaryTemplate, pool: fixture.pool).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: fixture.environmentFile(id)))
        #expect(try await driver.instances().isEmpty)
    }
}

/// The driver's D-Bus connection breaks (as when dbus-daemon restarts); only this driver's, so
/// the tests beside it keep theirs: it reaches systemd through a one-connection `socat` relay.
@Suite(.enabled(if: SystemdTestHost.isAvailable && BusRelay.socatPath != nil,
                "needs systemd in a podman container and socat (SKIPPING lines say why)"))
struct SystemdDriverReconnectTests {
    @Test func aBrokenConnectionIsMadeAgainAndAnExitMissedMeanwhileIsReportedOnce() async throws {
        let relayPath = "\(SystemdTestHost.directory)/relay-\(UInt32.random(in: 0...UInt32.max)).sock"
        var fixture = SystemdDriverFixture.make()
        fixture.configuration.busAddress = "unix:path=\(relayPath)"
        defer { Task { [fixture] in await fixture.cleanUp() } }
        let first = try BusRelay(listening: relayPath)
        let driver = try fixture.driver()
        let exits = ExitCollector(driver.exits())
        defer { exits.cancel() }
        let kept = SystemdDriverFixture.newID()
        let killed = SystemdDriverFixture.newID()
        for id in [kept, killed] {
            _ = try await driver.launch(LaunchRequest(id: id))
            _ = try await driver.waitUntilRunning(id, timeout: .seconds(20))
        }

        first.cut()
        try await fixture.kill(killed)
        try #require(await TestSupport.eventually { await SystemdTestHost.failedUnits(pool: fixture.pool).count == 1 },
                     "systemd saw the kill while the driver was cut off")
        #expect(await exits.count == 0, "no signal can reach a cut-off driver")
        let second = try BusRelay(listening: relayPath)
        defer { second.cut() }

        try #require(await TestSupport.eventually {
            (try? await driver.instances().map(\.id)) == [kept]
        }, "the next calls connect again and list the unit that still runs, not the one that died")
        try #require(await TestSupport.eventually { await exits.count == 1 }, "the missed exit is reported")
        let exit = try #require(await exits.all.first)
        #expect(exit.id == killed && exit.exitCode == SIGKILL, "\(exit)")
        #expect(await SystemdTestHost.failedUnits(pool: fixture.pool).isEmpty, "and reset")
        try await driver.stop(kept, grace: .seconds(2))
        #expect(try await driver.instances().isEmpty, "the new connection stops units too")
        try await Task.sleep(for: .milliseconds(300))
        #expect(await exits.count == 1, "reported once")
    }
}
}

/// A `socat` relay from a unix socket to the test host's system bus that carries one
/// connection; `cut()` kills it, which breaks that connection as a dbus-daemon restart would.
final class BusRelay: @unchecked Sendable {
    static let socatPath: String? = ["/usr/bin/socat", "/bin/socat"].first { FileManager.default.isExecutableFile(atPath: $0) }
    private let process: Process

    init(listening path: String) throws {
        let target = SystemdTestHost.busAddress.replacingOccurrences(of: "unix:path=", with: "")
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.socatPath ?? "socat")
        process.arguments = ["UNIX-LISTEN:\(path),unlink-early", "UNIX-CONNECT:\(target)"]
        try process.run()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while !FileManager.default.fileExists(atPath: path), clock.now < deadline, process.isRunning {
            usleep(10_000)
        }
        guard FileManager.default.fileExists(atPath: path) else {
            cut()
            throw DriverError("socat did not listen on \(path)")
        }
    }

    func cut() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// systemd-driver fixtures: a fresh pool per test, over the shared `SystemdTestHost`.
struct SystemdDriverFixture {
    static let logger = Logger(label: "test.systemd-driver")

    let pool: String
    var configuration: SystemdDriverConfiguration

    static func make(prefix: String = SystemdTestHost.serverTemplate) -> SystemdDriverFixture {
        let pool = "test-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        return SystemdDriverFixture(pool: pool, configuration: SystemdDriverConfiguration(
            unitPrefix: prefix, pool: pool, environmentDirectory: SystemdTestHost.environmentDirectory,
            busAddress: SystemdTestHost.busAddress, environment: ["REDIS_URL": "redis://127.0.0.1:1/0"]))
    }

    static func newID() -> InstanceID {
        "ws-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }

    func driver(prefix: String? = nil) throws -> SystemdDriver {
        var configuration = configuration
        if let prefix { configuration.unitPrefix = prefix }
        return try SystemdDriver(configuration: configuration, logger: Self.logger)
    }

    func environmentFile(_ id: InstanceID) -> String {
        "\(SystemdTestHost.environmentDirectory)/\(pool):\(id).env"
    }

    /// `kill -9` of the unit's main process inside the container, as a crash would.
    func kill(_ id: InstanceID) async throws {
        let unit = "\(configuration.unitPrefix)\(pool):\(id).service"
        guard let pid = await SystemdTestHost.mainPID(unit) else { throw DriverError("\(unit) has no main pid", instance: id) }
        let killed = await SystemdTestHost.exec("kill", "-9", String(pid))
        guard killed.status == 0 else { throw DriverError("kill -9 \(pid) failed: \(killed.output)", instance: id) }
    }

    func cleanUp() async {
        await SystemdTestHost.removeUnits(ofPool: pool)
    }

    /// The shared conformance suite's view: the bad program is a template whose binary is missing.
    var conformance: DriverConformance.Fixture {
        DriverConformance.Fixture(
            makeDriver: { try self.driver() },
            makeDriverWithBadProgram: { try self.driver(prefix: SystemdTestHost.missingBinaryTemplate) },
            killFromOutside: { try await self.kill($0) },
            cleanUp: { await self.cleanUp() })
    }
}

/// Reads an exit stream in the background and keeps what it yields.
private final class ExitCollector: @unchecked Sendable {
    private let storage = Storage()
    private var task: Task<Void, Never>?

    private actor Storage {
        var exits: [InstanceExit] = []
        func append(_ exit: InstanceExit) { exits.append(exit) }
    }

    init(_ stream: AsyncStream<InstanceExit>) {
        let storage = self.storage
        task = Task { for await exit in stream { await storage.append(exit) } }
    }

    var all: [InstanceExit] { get async { await storage.exits } }
    var count: Int { get async { await storage.exits.count } }

    func cancel() { task?.cancel() }
}
