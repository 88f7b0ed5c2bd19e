#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import Testing
import WSScaleBackends
import WSScaleCore
import WSScaleTestSupport
@testable import WSScaleLocalStack

/// The supervisor over real child processes (`sleep`), killed with SIGKILL. Its polls and
/// restart delays run on a manual clock the tests move: nothing here sleeps or depends on
/// how busy the machine is.
@Suite(.timeLimit(.minutes(1))) struct LocalStackSupervisorTests {
    /// `sleep 30` as a stand-in for redis-server: the supervisor only sees a process.
    struct SleepingChild: LocalStackChild {
        let process: LocalProcess

        static func start() throws -> SleepingChild {
            SleepingChild(process: try LocalProcess.spawn(executable: "sleep", arguments: ["30"], environment: [:], outputPath: nil))
        }

        func stop(grace: Duration) async -> ProcessExitStatus? {
            await process.terminate(grace: grace)
        }
    }

    /// A program under a running supervisor, in a fresh state directory; everything is
    /// stopped and removed at the end.
    final class Fixture: Sendable {
        let directory = NSTemporaryDirectory() + "wsscale-supervisor-\(UInt32.random(in: 0...UInt32.max))"
        let program: SupervisedProgram<SleepingChild>
        let restarts = NIOLockedValueBox<[String]>([])
        let startAttempts = NIOLockedValueBox(0)
        let spawned = NIOLockedValueBox<[LocalProcess]>([])
        let clock = ManualClock()
        let supervisor: LocalStackSupervisor

        init(failingStarts: Int = 0) async throws {
            try FileManager.default.createDirectory(atPath: directory + "/redis", withIntermediateDirectories: true)
            let attempts = startAttempts
            let spawned = self.spawned
            program = try await SupervisedProgram.start(.redis, endpoint: Endpoint(host: "127.0.0.1", port: 1),
                                                        stateDirectory: directory, logger: Logger(label: "test")) {
                let attempt = attempts.withLockedValue { $0 += 1; return $0 }
                if attempt > 1 && attempt <= 1 + failingStarts { throw CancellationError() }
                let child = try SleepingChild.start()
                spawned.withLockedValue { $0.append(child.process) }
                return child
            }
            let restarts = self.restarts
            supervisor = LocalStackSupervisor(
                programs: [program],
                backoff: RestartBackoff(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(200), stableUptime: .seconds(60)),
                pollInterval: .milliseconds(20), clock: clock, onRestart: { name in restarts.withLockedValue { $0.append(name) } },
                logger: Logger(label: "test"))
        }

        /// Runs the supervisor during `body`, then cancels it and cleans up.
        func run<T>(_ body: () async throws -> T) async throws -> T {
            let supervisor = self.supervisor
            let task = Task { await supervisor.run() }
            defer {
                task.cancel()
                cleanUp()
            }
            return try await body()
        }

        /// Kills every process the program started and removes the state directory.
        func cleanUp() {
            for process in spawned.withLockedValue({ $0 }) {
                kill(process.pid, SIGKILL)
                _ = process.exitStatusIfEnded()
            }
            try? FileManager.default.removeItem(atPath: directory)
        }

        var pidFile: ProcessPidFile? {
            let path = LocalStackLeftovers.pidFilePath(.redis, stateDirectory: directory)
            return (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { ProcessPidFile.parse($0, id: "redis-server") }
        }

        func currentIsAlive() -> Bool { program.current.process.isAlive }
    }

    /// The longest the supervisor sleeps at a time in these tests: a poll or a restart delay.
    static let longestSleep: Duration = .milliseconds(200)

    /// Moves the supervisor's clock on, each time it sleeps, until `condition` holds. A kill
    /// takes effect when the kernel delivers it: until then each poll sees the process alive.
    static func advance(_ fixture: Fixture, until condition: () -> Bool) async {
        while !condition(), !Task.isCancelled {
            await fixture.clock.sleepers(atLeast: 1)
            fixture.clock.advance(by: longestSleep)
        }
    }

    /// Lets the supervisor poll `count` more times.
    static func letPoll(_ fixture: Fixture, times count: Int) async {
        for _ in 0..<count {
            await fixture.clock.sleepers(atLeast: 1)
            fixture.clock.advance(by: longestSleep)
        }
        await fixture.clock.sleepers(atLeast: 1)  // done with the last poll, asleep again
    }

    @Test("kill -9: a new process starts, the pid file names it, the restart is reported")
    func restartsAKilledProcess() async throws {
        let fixture = try await Fixture()
        try await fixture.run {
            let first = fixture.program.current.process
            #expect(fixture.pidFile?.pid == first.pid)
            kill(first.pid, SIGKILL)
            await Self.advance(fixture) {
                fixture.program.current.process != first && fixture.currentIsAlive() && fixture.restarts.withLockedValue { $0.count } == 1
            }
            #expect(fixture.pidFile?.pid == fixture.program.current.process.pid)
            #expect(fixture.pidFile?.startTime == fixture.program.current.process.startTime)
            #expect(fixture.restarts.withLockedValue { $0 } == ["redis"])

            let second = fixture.program.current.process
            kill(second.pid, SIGKILL)
            await Self.advance(fixture) {
                fixture.program.current.process != second && fixture.currentIsAlive() && fixture.restarts.withLockedValue { $0.count } == 2
            }
            #expect(fixture.restarts.withLockedValue { $0 } == ["redis", "redis"])
        }
    }

    @Test("a restart that fails is tried again")
    func retriesAFailedStart() async throws {
        let fixture = try await Fixture(failingStarts: 2)
        try await fixture.run {
            let first = fixture.program.current.process
            kill(first.pid, SIGKILL)
            await Self.advance(fixture) {
                fixture.program.current.process != first && fixture.currentIsAlive() && !fixture.restarts.withLockedValue { $0 }.isEmpty
            }
            #expect(fixture.startAttempts.withLockedValue { $0 } == 4, "the first start, two failures, one success")
            #expect(fixture.restarts.withLockedValue { $0 } == ["redis"])
        }
    }

    @Test("stopped for good: stop() ends the process, removes the pid file, and nothing restarts it")
    func stopIsFinal() async throws {
        let fixture = try await Fixture()
        try await fixture.run {
            let process = fixture.program.current.process
            await fixture.program.stop()
            #expect(!process.isAlive)
            #expect(fixture.pidFile == nil)
            await Self.letPoll(fixture, times: 5)
            #expect(fixture.program.current.process == process)
            #expect(fixture.restarts.withLockedValue { $0 }.isEmpty)
            #expect(fixture.spawned.withLockedValue { $0 }.count == 1)
        }
    }

    @Test("graceful shutdown ends the supervisor; a process killed afterwards stays dead")
    func shutdownRestartsNothing() async throws {
        let fixture = try await Fixture()
        defer { fixture.cleanUp() }
        let group = ServiceGroup(configuration: .init(services: [.init(service: fixture.supervisor)], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        await fixture.clock.sleepers(atLeast: 1)  // watching
        await group.triggerGracefulShutdown()
        try await running.value
        // It ended with its clock never moved: the shutdown ended it, not a poll or a timer.
        #expect(fixture.clock.now.offset == .zero)
        #expect(fixture.clock.pendingSleeps == 0)

        let process = fixture.program.current.process
        kill(process.pid, SIGKILL)
        while process.isAlive { await Task.yield() }  // dead once a zombie
        #expect(fixture.program.current.process == process)
        #expect(fixture.restarts.withLockedValue { $0 }.isEmpty)
        #expect(fixture.spawned.withLockedValue { $0 }.count == 1)
    }
}
