#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Testing
import WSScaleBackends
import WSScaleCore
import WSScaleTestSupport

/// The process backend beyond the shared contract: pid files, stale state, environment.
@Suite struct ProcessDriverTests {
    @Test func pidFileRoundTrips() {
        let record = ProcessPidFile(id: "ws-1", pid: 4242, endpoint: Endpoint(host: "127.0.0.1", port: 18001), startTime: 99)
        #expect(ProcessPidFile.parse(record.render(), id: "ws-1") == record)
        #expect(ProcessPidFile.parse("pid=12\n", id: "ws-1") == nil)
        #expect(ProcessPidFile.parse("pid=abc\nport=80\n", id: "ws-1") == nil)
        #expect(ProcessPidFile.parse("pid=12\nport=80\n", id: "x")?.startTime == nil)
    }

    @Test func stalePidFilesAreRemovedAndLiveStrangersAreNotAdopted() async throws {
        let state = ProcessDriverFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let configuration = ProcessDriverFixture.standInConfiguration(stateDirectory: state)
        let directory = ProcessPoolDirectory(stateDirectory: state, pool: configuration.pool)
        try directory.create()
        // A pid that cannot exist, and this very test process with a start time that is not its own (a reused pid).
        try directory.write(ProcessPidFile(id: "ws-dead", pid: 4_000_000, endpoint: Endpoint(host: "127.0.0.1", port: 1), startTime: nil))
        try directory.write(ProcessPidFile(id: "ws-reused", pid: getpid(), endpoint: Endpoint(host: "127.0.0.1", port: 1), startTime: 1))
        try "garbage".write(toFile: directory.pidFilePath("ws-garbage"), atomically: true, encoding: .utf8)

        let driver = try ProcessDriver(configuration: configuration, logger: ProcessDriverFixture.logger)
        let instances = try await driver.instances()
        #expect(instances.isEmpty)
        #expect(directory.instanceIDs().isEmpty)
        #expect(kill(getpid(), 0) == 0)
    }

    @Test func serverGetsItsIdentityAndTheRequestEnvironment() async throws {
        let state = ProcessDriverFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        var configuration = ProcessDriverFixture.standInConfiguration(stateDirectory: state)
        // The stand-in answers /health with $SERVER_ID; a wrapper prints the environment first.
        configuration.executable = "/bin/sh"
        configuration.arguments = ["-c", "echo \"id=$SERVER_ID host=$SERVER_HOST port=$SERVER_PORT knob=$KNOB\"; exec \"$0\" \"$@\"",
                                   StandInServer.executable] + StandInServer.arguments
        let driver = try ProcessDriver(configuration: configuration, logger: ProcessDriverFixture.logger)
        let launched = try await driver.launch(LaunchRequest(id: "ws-env", environment: ["KNOB": "42"]))
        let endpoint = try await driver.waitUntilRunning("ws-env", timeout: .seconds(10))
        let directory = ProcessPoolDirectory(stateDirectory: state, pool: configuration.pool)
        let log = try String(contentsOfFile: directory.logPath("ws-env"), encoding: .utf8)
        try await driver.stop("ws-env", grace: .seconds(1))
        #expect(launched.endpoint == endpoint)
        #expect(endpoint.host == "127.0.0.1")
        #expect(log.contains("id=ws-env host=127.0.0.1 port=\(endpoint.port) knob=42"))
        #expect(!FileManager.default.fileExists(atPath: directory.pidFilePath("ws-env")))
    }

    @Test func waitUntilRunningFailsFastWhenTheProgramExits() async throws {
        let state = ProcessDriverFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        var configuration = ProcessDriverFixture.standInConfiguration(stateDirectory: state)
        configuration.executable = "/bin/sh"
        configuration.arguments = ["-c", "echo failing on purpose; exit 3"]
        let driver = try ProcessDriver(configuration: configuration, logger: ProcessDriverFixture.logger)
        _ = try await driver.launch(LaunchRequest(id: "ws-exit"))
        let clock = ContinuousClock()
        let started = clock.now
        await #expect(throws: DriverError.self) {
            _ = try await driver.waitUntilRunning("ws-exit", timeout: .seconds(10))
        }
        #expect(clock.now - started < .seconds(6), "the exit was seen, not the 10 s timeout")
        #expect(try await driver.instances().isEmpty)
    }

    @Test func stopEscalatesToSIGKILLAfterTheGracePeriod() async throws {
        let state = ProcessDriverFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        var configuration = ProcessDriverFixture.standInConfiguration(stateDirectory: state)
        configuration.executable = "/bin/sh"
        // Ignores SIGTERM; runs the stand-in in the same process (exec keeps the disposition).
        configuration.arguments = ["-c", "trap '' TERM; exec \"$0\" \"$@\"", StandInServer.executable] + StandInServer.arguments
        let driver = try ProcessDriver(configuration: configuration, logger: ProcessDriverFixture.logger)
        _ = try await driver.launch(LaunchRequest(id: "ws-stubborn"))
        _ = try await driver.waitUntilRunning("ws-stubborn", timeout: .seconds(10))
        let pid = try #require(ProcessPoolDirectory(stateDirectory: state, pool: "test").read("ws-stubborn")).pid
        let clock = ContinuousClock()
        let started = clock.now
        try await driver.stop("ws-stubborn", grace: .milliseconds(300))
        let took = clock.now - started
        #expect(took >= .milliseconds(300))
        #expect(took < .seconds(6), "SIGKILL after the 300 ms grace, not a wait for the stubborn process")
        #expect(kill(pid, 0) != 0)
    }

    @Test func healthProbeReportsNothingForAClosedPort() async throws {
        let port = try #require(LoopbackPort.free())
        let probe = HTTPHealthProbe(requestTimeout: .milliseconds(300))
        #expect(await probe.get(Endpoint(host: "127.0.0.1", port: port)) == nil)
        let clock = ContinuousClock()
        let started = clock.now
        #expect(await probe.waitUntilUp(Endpoint(host: "127.0.0.1", port: port), timeout: .milliseconds(300)) == false)
        #expect(clock.now - started < .seconds(5))
    }
}

/// Attack: a pid file that names a process which is not this pool's server.
@Suite("attack: pid files") struct ProcessAdoptionAttackTests {
    /// A live process a pid file claims, and whether the driver may adopt it.
    struct Claim {
        var what: String
        var id: InstanceID
        var process: LocalProcess
        var recordsStartTime = true
    }

    @Test("pid files naming live processes that are not this pool's server (wrong pool, no start time, not the driver's program or arguments, even with the right SERVER_ID, WSSCALE_POOL and start time) are not adopted, and no process is touched")
    func unrelatedProcessIsNotAdopted() async throws {
        let state = ProcessDriverFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let configuration = ProcessDriverFixture.standInConfiguration(stateDirectory: state)
        let directory = ProcessPoolDirectory(stateDirectory: state, pool: configuration.pool)
        try directory.create()
        func spawn(_ executable: String, _ arguments: [String], id: InstanceID?) throws -> LocalProcess {
            let identity = id.map { ["SERVER_ID": $0, "WSSCALE_POOL": configuration.pool] } ?? [:]
            return try LocalProcess.spawn(executable: executable, arguments: arguments, environment: identity, outputPath: nil)
        }
        let innocent = try spawn("/bin/sleep", ["30"], id: nil)
        let otherPool = try LocalProcess.spawn(executable: "/bin/sleep", arguments: ["30"],
                                               environment: ["SERVER_ID": "ws-other-pool", "WSSCALE_POOL": "other-pool"], outputPath: nil)
        let claims = [
            Claim(what: "an unrelated process", id: "ws-innocent", process: innocent),
            Claim(what: "a process of another pool claiming the id", id: "ws-other-pool", process: otherPool),
            Claim(what: "a pid file without a start time", id: "ws-nostart", process: innocent, recordsStartTime: false),
            // The right environment and start time, but /bin/sleep, not the driver's program.
            Claim(what: "/bin/sleep with SERVER_ID and WSSCALE_POOL set", id: "ws-sleeper",
                  process: try spawn("/bin/sleep", ["30"], id: "ws-sleeper")),
            // The driver's very executable with the right environment, but not its arguments.
            Claim(what: "\(configuration.executable) with the right environment and other arguments", id: "ws-lookalike",
                  process: try spawn(configuration.executable, ["-c", "import time; time.sleep(30)"], id: "ws-lookalike")),
        ]
        defer { Task { for claim in claims { _ = await claim.process.terminate(grace: .zero) } } }
        for claim in claims {
            try directory.write(ProcessPidFile(id: claim.id, pid: claim.process.pid, endpoint: Endpoint(host: "127.0.0.1", port: 1),
                                               startTime: claim.recordsStartTime ? claim.process.startTime : nil))
        }

        let driver = try ProcessDriver(configuration: configuration, logger: ProcessDriverFixture.logger)
        let adopted = try await driver.instances()
        // Asking the driver to stop them reaches nothing: they were never its instances.
        for claim in claims { try? await driver.stop(claim.id, grace: .zero) }
        for claim in claims {
            print("attack pid files: \(claim.what) (pid \(claim.process.pid), pid file \(claim.id)) → adopted \(adopted.contains { $0.id == claim.id }), alive after stop \(claim.process.isAlive)")
            #expect(claim.process.isAlive, "\(claim.what) was signalled")
        }
        #expect(adopted.isEmpty, "adopted \(adopted.map(\.id))")
        #expect(directory.instanceIDs().isEmpty, "the false claims are removed")
    }

    @Test("a server whose binary was replaced on disk (/proc/PID/exe ends with \" (deleted)\") is still adopted: an upgrade keeps its servers")
    func serverOfAReplacedBinaryIsAdopted() async throws {
        let state = ProcessDriverFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        // The configured binary: a copy of sleep, which the "upgrade" replaces after the server started.
        let binary = state + "/server-binary"
        try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: binary)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: binary)
        let configuration = ProcessDriver.Configuration(executable: binary, arguments: ["30"], stateDirectory: state, pool: "test",
                                                        adoptionProbeTimeout: .milliseconds(200))
        let directory = ProcessPoolDirectory(stateDirectory: state, pool: configuration.pool)
        try directory.create()
        let server = try LocalProcess.spawn(executable: binary, arguments: ["30"],
                                            environment: ["SERVER_ID": "ws-old", "WSSCALE_POOL": "test"], outputPath: nil)
        defer { Task { _ = await server.terminate(grace: .zero) } }
        try directory.write(ProcessPidFile(id: "ws-old", pid: server.pid, endpoint: Endpoint(host: "127.0.0.1", port: 1),
                                           startTime: server.startTime))
        try FileManager.default.removeItem(atPath: binary)
        try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: binary)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: binary)
        let shown = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(server.pid)/exe")) ?? "unreadable"
        #expect(shown == binary + ProcessAdoptionCheck.deletedSuffix)

        let driver = try ProcessDriver(configuration: configuration, logger: ProcessDriverFixture.logger)
        let adopted = try await driver.instances()
        print("attack pid files: a server of a replaced binary (/proc/\(server.pid)/exe = \(shown)) → adopted \(adopted.map(\.id))")
        #expect(adopted.map(\.id) == ["ws-old"])
        try await driver.stop("ws-old", grace: .seconds(1))
        #expect(!server.isAlive, "the adopted server is the driver's to stop")
    }

    @Test("the rule: start time recorded and equal, SERVER_ID and WSSCALE_POOL as launched, the driver's executable and arguments")
    func rule() {
        let record = ProcessPidFile(id: "ws-a", pid: 10, endpoint: Endpoint(host: "127.0.0.1", port: 1), startTime: 5)
        let program = ProcessAdoptionCheck.Program(executablePath: "/usr/bin/wsscale", arguments: ["server"])
        let own = ProcessAdoptionCheck.Observation(startTime: 5, environment: ["SERVER_ID": "ws-a", "WSSCALE_POOL": "p"],
                                                   executable: "/usr/bin/wsscale", commandLine: ["wsscale", "server"])
        func problem(_ change: (inout ProcessAdoptionCheck.Observation) -> Void, pool: String = "p",
                     record: ProcessPidFile = record) -> String? {
            var observed = own
            change(&observed)
            return ProcessAdoptionCheck.problem(record: record, pool: pool, program: program, process: observed)
        }
        #expect(problem { _ in } == nil)
        #expect(problem { $0.executable = "/usr/bin/wsscale (deleted)" } == nil, "a binary replaced on disk is the same path")
        #expect(problem { $0.startTime = 6 } != nil)
        #expect(problem { $0.startTime = nil } != nil)
        #expect(problem({ _ in }, pool: "q") != nil)
        #expect(problem { $0.environment = ["WSSCALE_POOL": "p"] } != nil)
        #expect(problem { $0.environment = nil } != nil)
        #expect(problem { $0.executable = "/bin/sleep" } != nil)
        #expect(problem { $0.executable = "/tmp/wsscale (deleted)" } != nil)
        #expect(problem { $0.executable = nil } != nil)
        #expect(problem { $0.commandLine = ["wsscale", "balancer"] } != nil)
        #expect(problem { $0.commandLine = ["wsscale", "server", "extra"] } != nil)
        #expect(problem { $0.commandLine = ["wsscale"] } != nil)
        #expect(problem { $0.commandLine = nil } != nil)
        var noStart = record
        noStart.startTime = nil
        #expect(problem({ _ in }, record: noStart) != nil)
    }
}

/// What a spawned process inherits.
@Suite struct ProcessSpawnTests {
    @Test func childGetsOnlyTheStandardStreamsAndItsOwnProcessGroup() async throws {
        // Open descriptors in this process that are not close-on-exec, like a listening socket could be.
        let leaky = open("/dev/null", O_RDONLY)
        defer { close(leaky) }
        #expect(leaky > 2)
        let child = try LocalProcess.spawn(executable: "/bin/sleep", arguments: ["30"],
                                           environment: [:], outputPath: nil)
        defer { Task { _ = await child.terminate(grace: .zero) } }
        try await Task.sleep(for: .milliseconds(100))
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(child.pid)/fd").compactMap(Int.init).sorted()
        #expect(descriptors == [0, 1, 2])
        #expect(getpgid(child.pid) == child.pid)
        #expect(child.isAlive)
        let status = await child.terminate(grace: .seconds(1))
        #expect(status == .signaled(signal: SIGTERM))
        #expect(!child.isAlive)
    }

    @Test func decodesWaitStatusWords() {
        #expect(ProcessExitStatus(waitStatus: 3 << 8) == .exited(code: 3))
        #expect(ProcessExitStatus(waitStatus: 9) == .signaled(signal: 9))
        #expect(ProcessExitStatus(waitStatus: 9).exitCode == nil)
    }
}

/// The health probe against a real stand-in server.
@Suite struct ProcessHealthProbeTests {
    @Test func a503CountsAsUp() async throws {
        let state = ProcessDriverFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let driver = try ProcessDriver(configuration: ProcessDriverFixture.standInConfiguration(stateDirectory: state),
                                       logger: ProcessDriverFixture.logger)
        _ = try await driver.launch(LaunchRequest(id: "ws-full"))
        do {
            let endpoint = try await driver.waitUntilRunning("ws-full", timeout: .seconds(10))
            let probe = HTTPHealthProbe()
            // What is checked is the status each answer maps to, not how fast the stand-in
            // answers: each request may take as long as a loaded machine needs.
            let patient: Duration = .seconds(30)
            #expect(await probe.get(endpoint, timeout: patient) == 200)
            #expect(await probe.get(endpoint, path: "/fail-health", timeout: patient) == 200)
            #expect(await probe.get(endpoint, timeout: patient) == 503)
            #expect(await probe.get(endpoint, path: "/nothing-here", timeout: patient) == 404)
            #expect(await probe.waitUntilUp(endpoint, timeout: .seconds(5)))
        } catch {
            try? await driver.stopAll(grace: .zero)
            throw error
        }
        try await driver.stopAll(grace: .seconds(1))
    }
}
