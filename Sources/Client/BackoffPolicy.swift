/// Exponential backoff with full jitter for reconnecting simulated users.
///
/// The n-th retry (1-based) of a series waits a uniformly random time in
/// `0 ... min(cap, base · 2^(n-1))` ("full jitter", AWS architecture blog): the ceiling grows
/// exponentially, the randomness spreads clients that lost their server at the same moment
/// so they do not come back as one burst.
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

    /// The largest delay the given retry (1-based) can wait: `min(cap, base · 2^(attempt-1))`.
    public func ceiling(forAttempt attempt: Int) -> Duration {
        let capNanoseconds = Self.nanoseconds(cap)
        var ceiling = Self.nanoseconds(base)
        var doublings = max(0, attempt - 1)
        while doublings > 0 && ceiling < capNanoseconds {
            ceiling = ceiling > Int64.max / 2 ? Int64.max : ceiling * 2
            doublings -= 1
        }
        return .nanoseconds(max(0, min(ceiling, capNanoseconds)))
    }

    /// A random delay for the given retry (1-based), uniform in `0 ... ceiling(forAttempt:)`.
    /// - Parameters:
    ///   - attempt: the retry's number within its series, starting at 1.
    ///   - generator: the random source (inject a seeded one in tests).
    public func delay(forAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = Self.nanoseconds(ceiling(forAttempt: attempt))
        guard ceiling > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...ceiling, using: &generator))
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        guard seconds < Int64.max / 1_000_000_000 else { return Int64.max }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
