/// Delays between reconnect attempts: exponential from `initial` up to `maximum`, each
/// with random jitter between half and the full delay, so many servers do not reconnect
/// in lockstep after a Redis restart.
struct ReconnectBackoff: Sendable {
    /// The delay before the first retry (before jitter).
    var initial: Duration = .milliseconds(100)
    /// The largest delay (before jitter).
    var maximum: Duration = .seconds(2)
    private var attempt = 0

    /// Creates a backoff.
    init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(2)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The next delay; each call doubles the base until `maximum`.
    mutating func next<G: RandomNumberGenerator>(using generator: inout G) -> Duration {
        let base = min(initial * (1 << min(attempt, 20)), maximum)
        attempt += 1
        return base * Double.random(in: 0.5...1.0, using: &generator)
    }

    /// The next delay, with the system's random numbers.
    mutating func next() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return next(using: &generator)
    }

    /// Starts over after a successful connect.
    mutating func reset() {
        attempt = 0
    }
}
