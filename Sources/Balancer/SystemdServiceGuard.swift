/// Refuses the one combination that loses every server on a balancer restart: the process
/// backend while the balancer is itself a systemd service.
///
/// Under systemd a service's processes live in its control group, and the default
/// `KillMode=control-group` kills all of them when the service stops or restarts. The process
/// backend's servers are children of the balancer, so a `kill -9` of the balancer (which
/// `Restart=always` answers with a restart) or a `systemctl restart` would take every server and
/// every WebSocket session with it. The systemd backend starts each server as a unit of its own
/// (`wsscale-server@<pool>:<id>.service`), which survives the balancer.
///
/// How "runs as a systemd service" is recognised: systemd (since v248; Debian 12 has 252) sets
/// `SYSTEMD_EXEC_PID` to the pid of the process it executed for the service, next to
/// `INVOCATION_ID`. Both set and `SYSTEMD_EXEC_PID` equal to our own pid means systemd started
/// this very process (directly, or through a shell that `exec`s it). `INVOCATION_ID` alone is not
/// enough: every process of a session started from a systemd user service (a terminal emulator,
/// for one) inherits it, and there `wsscale up` is legitimate. Older managers do not set
/// `SYSTEMD_EXEC_PID`; then `INVOCATION_ID` with the parent being PID 1 (the system manager)
/// counts.
public enum SystemdServiceGuard {
    /// The variable whose value fixes the problem, named in the refusal.
    public static let fix = "WSSCALE_BACKEND=systemd"

    /// Whether the process with these facts was started by systemd as a service's main process.
    /// - Parameters:
    ///   - environment: its environment.
    ///   - pid: its process id.
    ///   - parentPid: its parent's process id.
    public static func runsAsSystemdService(environment: [String: String], pid: Int32, parentPid: Int32) -> Bool {
        guard let invocation = environment["INVOCATION_ID"], !invocation.isEmpty else { return false }
        if let exec = environment["SYSTEMD_EXEC_PID"], !exec.isEmpty {
            return Int32(exec) == pid
        }
        return parentPid == 1
    }

    /// The refusal for `command` (`balancer`, `up`) running the process backend under systemd,
    /// `nil` when the combination is fine.
    /// - Parameters:
    ///   - command: the subcommand, for the message.
    ///   - backend: the backend it would run.
    ///   - underSystemd: `runsAsSystemdService(…)`.
    public static func refusal(command: String, backend: BackendKind, underSystemd: Bool) -> String? {
        guard underSystemd, backend == .process else { return nil }
        return """
        wsscale \(command): refusing to run the process backend as a systemd service: with KillMode=control-group \
        (systemd's default) every server is a child in this service's control group and dies whenever the service \
        stops or restarts (a crash with Restart=always included). Run the servers as units of their own: set \
        \(fix) (or --backend systemd with wsscale balancer), as systemd/wsscale-balancer.service does.
        """
    }
}
