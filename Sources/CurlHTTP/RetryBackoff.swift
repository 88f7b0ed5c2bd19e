import WSScaleCore

/// How often and how patiently a transient failure is tried again: after failed attempt `n`
/// (from 1) it waits by the shared `Backoff` schedule without jitter, `initialDelay × 2^(n-1)`
/// capped at `maximumDelay`.
public struct RetryBackoff: Sendable, Equatable {
    /// Attempts in all, the first included (1 = no retry).
    public var attempts: Int
    /// The wait before the second attempt.
    public var initialDelay: Duration
    /// The longest wait between two attempts.
    public var maximumDelay: Duration

    /// Creates a schedule.
    public init(attempts: Int = 4, initialDelay: Duration = .milliseconds(100), maximumDelay: Duration = .seconds(2)) {
        self.attempts = max(1, attempts)
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// The wait after failed attempt `attempt` (1-based), or `nil` when no attempt is left.
    public func delay(after attempt: Int) -> Duration? {
        guard attempt < attempts else { return nil }
        return Backoff(base: initialDelay, cap: maximumDelay, jitter: .none).ceiling(forAttempt: attempt)
    }

    /// Runs `operation` until it succeeds, `isTransient` says an error is final, or the
    /// attempts run out; sleeps between attempts (cancellation ends the wait).
    /// - Parameters:
    ///   - isTransient: whether an error is worth another attempt.
    ///   - operation: the work.
    /// - Returns: the first success.
    public func run<T>(isTransient: (Error) -> Bool, _ operation: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await operation()
            } catch {
                guard isTransient(error), let wait = delay(after: attempt) else { throw error }
                try await Task.sleep(for: wait)
                attempt += 1
            }
        }
    }
}
