import Foundation
import Logging
import NIOConcurrencyHelpers
import WSScaleBackends
import WSScaleBalancer
import WSScaleCore

/// A child process `wsscale up` starts: redis-server or HAProxy.
protocol LocalStackChild: Sendable {
    /// The running process.
    var process: LocalProcess { get }
    /// Stops it (SIGTERM, then SIGKILL after `grace`) and reaps it.
    @discardableResult
    func stop(grace: Duration) async -> ProcessExitStatus?
}

extension RedisServerProcess: LocalStackChild {}
extension HAProxyProcess: LocalStackChild {}

/// What the supervisor sees of a program it keeps alive.
protocol RestartableProgram: Sendable {
    /// The program (for logs, metrics and its pid file).
    var program: LocalStackLeftovers.Program { get }
    /// How the current process ended and how long it ran, once it has ended (it is reaped
    /// then); `nil` while it runs, and always once the program was stopped for good.
    func exitIfEnded() -> ProgramExit?
    /// Stops the current process when it runs but is broken (HAProxy without its runtime
    /// socket), so that it is restarted like one that ended.
    /// - Returns: what is wrong and how the stopped process ended; `nil` when nothing is wrong.
    func stopIfBroken() async -> (problem: String, exit: ProgramExit)?
    /// Starts a new process in place of the current one (same port, configuration and directory).
    /// - Returns: the new process, or `nil` when the program was stopped meanwhile (the new
    ///   process is then stopped again).
    func restart() async throws -> LocalProcess?
}

/// How a supervised process ended.
struct ProgramExit: Sendable, Equatable {
    /// The process that ended.
    var process: LocalProcess
    /// Its exit status.
    var status: ProcessExitStatus
    /// How long it ran.
    var uptime: Duration
}

/// A program of the local stack with its current process, swapped when the supervisor
/// restarts it. Its pid file (`LocalStackLeftovers`) always names the current process;
/// `stop()` stops the current one and prevents any later restart.
final class SupervisedProgram<Child: LocalStackChild>: RestartableProgram, Sendable {
    let program: LocalStackLeftovers.Program
    private let endpoint: Endpoint
    private let stateDirectory: String
    private let start: @Sendable () async throws -> Child
    private let check: @Sendable (Child) -> String?
    private let logger: Logger
    private let state: NIOLockedValueBox<State>

    private struct State {
        var current: Child
        var startedAt: ContinuousClock.Instant
        var ended = false
        var stopped = false
    }

    private init(program: LocalStackLeftovers.Program, endpoint: Endpoint, stateDirectory: String,
                 first: Child, start: @escaping @Sendable () async throws -> Child,
                 check: @escaping @Sendable (Child) -> String?, logger: Logger) {
        self.check = check
        self.program = program
        self.endpoint = endpoint
        self.stateDirectory = stateDirectory
        self.start = start
        self.logger = logger
        self.state = NIOLockedValueBox(State(current: first, startedAt: .now))
    }

    /// Starts the program for the first time and records its pid file.
    /// - Parameters:
    ///   - program: which program it is.
    ///   - endpoint: where it listens (for its pid file).
    ///   - stateDirectory: the stack's state directory (where the pid file goes).
    ///   - logger: where it logs.
    ///   - check: what is wrong with a running process, if anything (it is then restarted).
    ///   - start: starts one process of it; called again for every restart.
    static func start(_ program: LocalStackLeftovers.Program, endpoint: Endpoint, stateDirectory: String,
                      logger: Logger, check: @escaping @Sendable (Child) -> String? = { _ in nil },
                      start: @escaping @Sendable () async throws -> Child) async throws -> SupervisedProgram {
        let first = try await start()
        LocalStackLeftovers.record(program, process: first.process, endpoint: endpoint,
                                   stateDirectory: stateDirectory, logger: logger)
        return SupervisedProgram(program: program, endpoint: endpoint, stateDirectory: stateDirectory,
                                 first: first, start: start, check: check, logger: logger)
    }

    /// The current process.
    var current: Child { state.withLockedValue { $0.current } }

    func exitIfEnded() -> ProgramExit? {
        state.withLockedValue { state in
            guard !state.stopped, !state.ended, let status = state.current.process.exitStatusIfEnded() else { return nil }
            state.ended = true
            return ProgramExit(process: state.current.process, status: status, uptime: .now - state.startedAt)
        }
    }

    func stopIfBroken() async -> (problem: String, exit: ProgramExit)? {
        let (current, startedAt, problem) = state.withLockedValue { state -> (Child, ContinuousClock.Instant, String?) in
            guard !state.stopped, !state.ended else { return (state.current, state.startedAt, nil) }
            return (state.current, state.startedAt, check(state.current))
        }
        guard let problem else { return nil }
        let status = await current.stop(grace: .seconds(2)) ?? .unknown
        let ended = state.withLockedValue { state -> Bool in
            guard !state.stopped, !state.ended, state.current.process.pid == current.process.pid else { return false }
            state.ended = true
            return true
        }
        guard ended else { return nil }
        return (problem, ProgramExit(process: current.process, status: status, uptime: .now - startedAt))
    }

    func restart() async throws -> LocalProcess? {
        guard !state.withLockedValue(\.stopped) else { return nil }
        // An unstructured task: cancelling the supervisor must not leave a half-started process behind.
        let start = self.start
        let started = try await Task { try await start() }.value
        let installed = state.withLockedValue { state -> Bool in
            guard !state.stopped else { return false }
            state.current = started
            state.startedAt = .now
            state.ended = false
            LocalStackLeftovers.record(program, process: started.process, endpoint: endpoint,
                                       stateDirectory: stateDirectory, logger: logger)
            return true
        }
        guard installed else {
            await started.stop(grace: .seconds(2))
            return nil
        }
        return started.process
    }

    /// Stops the current process for good (no restart after this) and removes its pid file.
    func stop(grace: Duration = .seconds(2)) async {
        let (current, ended) = state.withLockedValue { state -> (Child, Bool) in
            state.stopped = true
            return (state.current, state.ended)
        }
        // An ended process was reaped: its pid may belong to another process by now.
        if !ended { await current.stop(grace: grace) }
        LocalStackLeftovers.forget(program, stateDirectory: stateDirectory)
    }
}
