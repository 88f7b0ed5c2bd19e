/// A clock whose time moves only when a test says so, for driving loops step by step.
///
/// `sleep(until:)` suspends until ``advance(by:)`` moves `now` to or past the deadline (a
/// deadline already reached returns at once); a cancelled sleep throws `CancellationError`.
/// ``sleepers(atLeast:)`` waits, without any timeout, until that many sleeps are pending, so
/// a test knows the code under test has reached its sleep before moving time.
public final class ManualClock: Clock, Sendable {
    /// A point on the manual clock: the time advanced since the clock was made.
    public struct Instant: InstantProtocol, Sendable {
        /// Time since the clock's start.
        public var offset: Duration

        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private struct Sleeper {
        let deadline: Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State: Sendable {
        var now = Instant(offset: .zero)
        var nextID = 0
        var sleepers: [Int: Sleeper] = [:]
        var cancelledBeforeRegistering: Set<Int> = []
    }

    private let state = WatchedState(State())

    /// A clock at offset zero.
    public init() {}

    public var now: Instant { state.value.now }
    public var minimumResolution: Duration { .nanoseconds(1) }

    /// How many sleeps are pending now.
    public var pendingSleeps: Int { state.value.sleepers.count }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let id: Int? = state.update { state in
            guard deadline > state.now else { return nil }
            defer { state.nextID += 1 }
            return state.nextID
        }
        guard let id else { return try Task.checkCancellation() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Result<Void, any Error>? = state.update { state in
                    if state.cancelledBeforeRegistering.remove(id) != nil { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return nil
                }
                if let resumeNow { continuation.resume(with: resumeNow) }
            }
        } onCancel: {
            let sleeper: Sleeper? = state.update { state in
                guard let sleeper = state.sleepers.removeValue(forKey: id) else {
                    state.cancelledBeforeRegistering.insert(id)
                    return nil
                }
                return sleeper
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes every sleep whose deadline is reached.
    public func advance(by duration: Duration) {
        let due: [Sleeper] = state.update { state in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for id in due.keys { state.sleepers[id] = nil }
            return due.values.sorted { $0.deadline < $1.deadline }
        }
        due.forEach { $0.continuation.resume() }
    }

    /// Returns once at least `count` sleeps are pending, or when the task is cancelled. It has
    /// no timeout of its own: the test's time limit, which cancels it, catches code that never
    /// sleeps.
    public func sleepers(atLeast count: Int) async {
        await state.wait { $0.sleepers.count >= count }
    }
}
