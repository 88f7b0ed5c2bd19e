import WSScaleCore

/// When simulated users reconnect: the shared `Backoff` schedule with full jitter (the n-th
/// retry of a series waits a uniformly random time in `0 ... min(cap, base · 2^(n-1))`, which
/// spreads clients that lost their server at the same moment), and when they give up.
public struct BackoffPolicy: Sendable, Equatable {
    /// The ceiling of the first retry's delay.
    public var base: Duration
    /// The largest ceiling any retry's delay can have.
    public var cap: Duration
    /// The most retries in one series before the user gives up; `nil` retries forever
    /// (each retry still waits at most `cap`).
    public var maxAttempts: Int?

    /// Creates a policy.
    /// - Parameters:
    ///   - base: ceiling of the first retry's delay (default 100 ms).
    ///   - cap: largest ceiling of any delay (default 5 s).
    ///   - maxAttempts: retries per series before giving up; `nil` (default) never gives up.
    public init(base: Duration = .milliseconds(100), cap: Duration = .seconds(5), maxAttempts: Int? = nil) {
        self.base = base
        self.cap = cap
        self.maxAttempts = maxAttempts
    }

    /// Whether the given retry (1-based) may still be made.
    public func allows(attempt: Int) -> Bool {
        guard let maxAttempts else { return true }
        return attempt <= maxAttempts
    }

    /// The schedule: `Backoff` with full jitter.
    public var schedule: Backoff { Backoff(base: base, cap: cap, jitter: .full) }

    /// The largest delay the given retry (1-based) can wait: `min(cap, base · 2^(attempt-1))`.
    public func ceiling(forAttempt attempt: Int) -> Duration {
        schedule.ceiling(forAttempt: attempt)
    }

    /// A random delay for the given retry (1-based), uniform in `0 ... ceiling(forAttempt:)`.
    /// - Parameters:
    ///   - attempt: the retry's number within its series, starting at 1.
    ///   - generator: the random source (inject a seeded one in tests).
    public func delay(forAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        schedule.delay(forAttempt: attempt, using: &generator)
    }
}
