import Foundation
import NIOConcurrencyHelpers
import WSScaleBackends

/// A child process for tests, with blocking waits usable from `defer`.
///
/// It is the product's `LocalProcess` (posix_spawn, clean signal mask, own process group,
/// no inherited descriptors) plus an exit status remembered once reaped.
public final class SpawnedProcess: Sendable {
    /// The child.
    public let process: LocalProcess
    private let ended = NIOLockedValueBox<ProcessExitStatus?>(nil)

    /// The child's process id.
    public var pid: pid_t { process.pid }

    private init(process: LocalProcess) {
        self.process = process
    }

    /// Starts `program` (looked up in `PATH`) with stdout and stderr appended to `outputPath`,
    /// with this process's environment.
    public static func launch(_ program: String, _ arguments: [String], outputPath: String) throws -> SpawnedProcess {
        do {
            return SpawnedProcess(process: try LocalProcess.spawn(
                executable: program, arguments: arguments,
                environment: ProcessInfo.processInfo.environment, outputPath: outputPath))
        } catch {
            throw TestSupportError("could not start \(program): \(error)")
        }
    }

    /// Sends `signal` to the child (nothing once it has exited).
    public func send(_ signal: Int32) {
        if isRunning { process.send(signal) }
    }

    /// Whether the child is still running (reaps it once it has exited).
    public var isRunning: Bool {
        ended.withLockedValue { ended in
            if ended != nil { return false }
            ended = process.exitStatusIfEnded()
            return ended == nil
        }
    }

    /// How the child ended, once it has (reaps it if it just did).
    public var exitStatus: ProcessExitStatus? {
        _ = isRunning
        return ended.withLockedValue { $0 }
    }

    /// Waits (polling every 10 ms) until the child exits or `timeout` passes; returns whether it exited.
    @discardableResult
    public func waitForExit(timeout: Duration) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while isRunning {
            if clock.now >= deadline { return false }
            usleep(10_000)
        }
        return true
    }

    /// SIGTERM, then SIGKILL after `grace`; returns once the child is gone.
    public func terminate(grace: Duration = .seconds(5)) {
        send(SIGTERM)
        if !waitForExit(timeout: grace) { kill() }
    }

    /// SIGKILL; returns once the child is gone.
    public func kill() {
        send(SIGKILL)
        waitForExit(timeout: .seconds(10))
    }
}
