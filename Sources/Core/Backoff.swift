/// Exponential backoff, the one schedule every retry in wsscale waits by: the n-th wait
/// (1-based) has the ceiling `min(cap, base · 2^(n-1))`, and `jitter` picks the wait under it.
///
/// Users: the client simulator's reconnects (full jitter, so users that lost their server
/// together do not come back as one burst), the servers' Redis reconnects (half jitter), the
/// engine API retries and event-stream reconnects, and `up`'s restarts of redis-server and
/// HAProxy (no jitter). Pure: the caller counts attempts and sleeps.
public struct Backoff: Sendable, Equatable {
    /// How the wait is picked under the ceiling.
    public enum Jitter: Sendable, Equatable {
        /// The ceiling itself.
        case none
        /// Uniform in `0 ... ceiling` ("full jitter", AWS architecture blog).
        case full
        /// Uniform in `ceiling / 2 ... ceiling`.
        case half
    }

    /// The ceiling of the first wait.
    public var base: Duration
    /// The largest ceiling any wait can have.
    public var cap: Duration
    /// How the wait is picked under the ceiling.
    public var jitter: Jitter

    /// Creates a schedule.
    public init(base: Duration, cap: Duration, jitter: Jitter) {
        self.base = base
        self.cap = cap
        self.jitter = jitter
    }

    /// The largest wait the given attempt (1-based) can have: `min(cap, base · 2^(attempt-1))`,
    /// without overflow however large the attempt.
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

    /// The wait for the given attempt (1-based), picked under its ceiling by `jitter`.
    /// - Parameters:
    ///   - attempt: the attempt's number within its series, starting at 1.
    ///   - generator: the random source (inject a seeded one in tests).
    public func delay(forAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = Self.nanoseconds(ceiling(forAttempt: attempt))
        guard ceiling > 0 else { return .zero }
        switch jitter {
        case .none: return .nanoseconds(ceiling)
        case .full: return .nanoseconds(Int64.random(in: 0...ceiling, using: &generator))
        case .half: return .nanoseconds(Int64.random(in: (ceiling / 2)...ceiling, using: &generator))
        }
    }

    /// The wait for the given attempt (1-based), with the system's random numbers.
    public func delay(forAttempt attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(forAttempt: attempt, using: &generator)
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        guard seconds < Int64.max / 1_000_000_000 else { return Int64.max }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
