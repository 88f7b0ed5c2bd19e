import WSScaleCore

/// How long to wait before restarting a program that exited: the shared `Backoff` schedule
/// (no jitter), started again from the shortest delay once the program stayed up long enough.
///
/// With the defaults: 0.2 s, 0.4 s, 0.8 s, … up to 10 s between restarts of a program that
/// keeps crashing; a program that ran for 60 s before it exited is restarted after 0.2 s again.
/// A restart that fails counts as an exit after no uptime.
public struct RestartBackoff: Sendable, Equatable {
    /// The delay before the first restart (and after a stable run).
    public var initialDelay: Duration
    /// The longest delay.
    public var maximumDelay: Duration
    /// An uptime at least this long resets the delay to `initialDelay`.
    public var stableUptime: Duration
    /// Restarts since the program last ran for `stableUptime`.
    public private(set) var consecutiveRestarts = 0

    /// Creates the policy.
    /// - Parameters:
    ///   - initialDelay: the delay before the first restart.
    ///   - maximumDelay: the longest delay (the doubling stops there).
    ///   - stableUptime: how long a program must have run for its next restart to be quick again.
    public init(initialDelay: Duration = .milliseconds(200), maximumDelay: Duration = .seconds(10),
                stableUptime: Duration = .seconds(60)) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.stableUptime = stableUptime
    }

    /// The delay before restarting a program that exited after running for `uptime`, and
    /// counts that restart.
    /// - Parameter uptime: how long the program ran (zero for a failed start).
    /// - Returns: how long to wait before starting it again.
    public mutating func delay(afterUptime uptime: Duration) -> Duration {
        if uptime >= stableUptime { consecutiveRestarts = 0 }
        consecutiveRestarts += 1
        return Backoff(base: initialDelay, cap: maximumDelay, jitter: .none).ceiling(forAttempt: consecutiveRestarts)
    }
}
