/// The control loop's view of a `Clock`: monotonic time since the loop was created, and
/// sleeping. Erases the clock's type so `Autoscaler` is not generic.
struct LoopClock: Sendable {
    /// Monotonic time since the clock was wrapped.
    let now: @Sendable () -> Duration
    /// Sleeps for a duration on the wrapped clock; throws when cancelled.
    let sleep: @Sendable (Duration) async throws -> Void

    /// Wraps `clock`; `now()` counts from this moment.
    init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let origin = clock.now
        now = { origin.duration(to: clock.now) }
        sleep = { duration in try await clock.sleep(for: duration) }
    }
}

/// An operation that did not finish in time.
struct TimeoutError: Error, CustomStringConvertible {
    /// The time it was given.
    var timeout: Duration

    var description: String { "timed out after \(timeout)" }
}

extension LoopClock {
    /// Runs `operation`, cancelling it and throwing `TimeoutError` when it takes longer than
    /// `timeout`. The operation must honour cancellation for the call to return in time.
    func withTimeout<T: Sendable>(_ timeout: Duration,
                                  _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await sleep(timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw TimeoutError(timeout: timeout)
            }
            return value
        }
    }
}
