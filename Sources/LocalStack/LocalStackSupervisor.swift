import Logging
import ServiceLifecycle
import WSScaleBackends
import WSScaleBalancer

/// Keeps the redis-server and HAProxy that `wsscale up` started alive while the stack runs.
///
/// Every `pollInterval` it looks whether a program's process has ended (`waitpid`, which
/// also reaps it). When one has, it logs an error with the exit status and starts the
/// program again on the same port, configuration and state directory, after a delay from
/// `RestartBackoff` (0.2 s doubling to 10 s, quick again after 60 s of uptime); a restart
/// that fails is tried again the same way. Each restart is reported to `onRestart`.
///
/// A process that runs but is broken is stopped and restarted the same way: HAProxy whose
/// runtime API socket was deleted (the balancer could no longer drive it, and nothing in a
/// running HAProxy makes the socket again).
///
/// It stops watching on graceful shutdown or cancellation, and a program stopped with
/// `SupervisedProgram.stop()` is never restarted: shutting the stack down restarts nothing.
/// After HAProxy restarts, the balancer's control loop adds the servers back at its next
/// wake (it reconciles HAProxy with the running servers on every wake, at least once a
/// second); after redis-server restarts, the servers write their sessions again.
final class LocalStackSupervisor: Service, Sendable {
    private let programs: [any RestartableProgram]
    private let backoff: RestartBackoff
    private let pollInterval: Duration
    private let sleep: @Sendable (Duration) async throws -> Void
    private let onRestart: @Sendable (String) -> Void
    private let logger: Logger

    /// - Parameters:
    ///   - programs: the programs to keep alive.
    ///   - backoff: the delays before restarts.
    ///   - pollInterval: how often each program is looked at.
    ///   - clock: the clock the poll interval and restart delays are slept on.
    ///   - onRestart: told the name of each program restarted.
    ///   - logger: where exits and restarts are logged.
    init<C: Clock>(programs: [any RestartableProgram], backoff: RestartBackoff = RestartBackoff(),
                   pollInterval: Duration = .milliseconds(200), clock: C = ContinuousClock(),
                   onRestart: @escaping @Sendable (String) -> Void = { _ in },
                   logger: Logger) where C.Duration == Duration {
        self.programs = programs
        self.backoff = backoff
        self.pollInterval = pollInterval
        self.sleep = { duration in try await clock.sleep(for: duration) }
        self.onRestart = onRestart
        self.logger = logger
    }

    /// Watches the programs until graceful shutdown or cancellation.
    func run() async {
        guard !programs.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown { [self] in
            await withDiscardingTaskGroup { group in
                for program in programs {
                    group.addTask { await self.watch(program) }
                }
            }
        }
    }

    /// Restarts `program` whenever its process ends, until cancelled.
    private func watch(_ program: any RestartableProgram) async {
        var backoff = self.backoff
        let name = program.program.name
        let clock = ContinuousClock()
        while !Task.isCancelled {
            try? await sleep(pollInterval)
            guard !Task.isCancelled else { continue }
            var ended = program.exitIfEnded()
            if ended == nil, let broken = await program.stopIfBroken() {
                logger.error("\(name) was broken: \(broken.problem); stopped it", metadata: ["program": "\(name)"])
                ended = broken.exit
            }
            guard let exit = ended else { continue }
            let endedAt = clock.now
            var delay = backoff.delay(afterUptime: exit.uptime)
            logger.error("\(name) exited; restarting it", metadata: [
                "program": "\(name)", "pid": "\(exit.process.pid)", "status": "\(exit.status)",
                "uptime": "\(exit.uptime)", "delay": "\(delay)",
            ])
            while true {
                do { try await sleep(delay) } catch { return }
                do {
                    guard let process = try await program.restart() else { return }
                    onRestart(name)
                    logger.notice("\(name) restarted", metadata: [
                        "program": "\(name)", "pid": "\(process.pid)", "down": "\(clock.now - endedAt)",
                    ])
                    break
                } catch {
                    delay = backoff.delay(afterUptime: .zero)
                    logger.error("restarting \(name) failed; trying again", metadata: [
                        "program": "\(name)", "error": "\(error)", "delay": "\(delay)",
                    ])
                }
            }
        }
    }
}
