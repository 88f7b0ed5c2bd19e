import CSystemd
import Logging

/// Tells systemd about the server's state (`sd_notify`). Outside systemd (no `NOTIFY_SOCKET`)
/// every call does nothing.
struct SystemdNotifier: Sendable {
    /// Sends `READY=1`.
    func ready() {
        _ = sd_notify(0, "READY=1")
    }

    /// Sends `STOPPING=1`.
    func stopping() {
        _ = sd_notify(0, "STOPPING=1")
    }

    /// The watchdog interval systemd expects (`WATCHDOG_USEC` for this process), if any.
    func watchdogInterval() -> Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(clamping: microseconds))
    }

    /// Sends `WATCHDOG=1` at half the watchdog interval until cancelled; returns at once when
    /// systemd asked for no watchdog.
    func keepWatchdogFed(logger: Logger) async {
        guard let interval = watchdogInterval() else { return }
        logger.info("systemd watchdog enabled", metadata: ["interval": "\(interval)"])
        while !Task.isCancelled {
            _ = sd_notify(0, "WATCHDOG=1")
            try? await Task.sleep(for: interval / 2)
        }
    }
}
