import Synchronization

/// Whether this balancer may act on the pool now: the election's outcome, read by the
/// control loop before it changes anything and by every fenced call (`LeadershipFence`).
///
/// The balancer leads from a claim that returned its own record until `validity` after the
/// moment that claim was **sent** (the store's lease, counted from a later moment, outlasts
/// it). The time is this process's monotonic clock, which keeps running while the process
/// is stopped (SIGSTOP, a frozen VM): a balancer that wakes up after its lease lapsed finds
/// it lapsed here, before it touches anything, whatever it believed when it was paused.
public final class Leadership: Sendable {
    /// This balancer's run, as it claims the lease.
    public let holder: String
    /// How long after a successful claim was sent the balancer may act (less than the lease,
    /// by a margin for clock rates and the call's own time).
    public let validity: Duration
    let clock: LoopClock
    private let state: Mutex<State>
    private let changes: AsyncStream<Void>.Continuation
    /// A wake for the control loop each time this balancer starts or stops leading.
    let changed: AsyncStream<Void>

    private struct State {
        var ours: LeaderRecord?
        var validUntil: Duration = .zero
        var lastSeen: LeaderRecord?
        var leading = false
    }

    /// Creates the state of a balancer that does not lead yet.
    /// - Parameters:
    ///   - holder: this run's name in the lease (`LeaderIdentity.holder`).
    ///   - validity: how long a claim lets it act (see the type).
    ///   - clock: the monotonic clock of the process (a test clock in tests).
    public init<C: Clock>(holder: String, validity: Duration, clock: C) where C.Duration == Duration {
        self.holder = holder
        self.validity = validity
        self.clock = LoopClock(clock)
        state = Mutex(State())
        (changed, changes) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// A balancer that always leads: one alone with no store (tests of the loop, dry tools).
    public static func alone(clock: some Clock<Duration> = ContinuousClock()) -> Leadership {
        let leadership = Leadership(holder: "alone", validity: .seconds(Int64.max / 2), clock: clock)
        leadership.claimReturned(LeaderRecord(holder: "alone", token: 0, since: 0), sentAt: .zero)
        return leadership
    }

    /// Our record while this balancer may act, `nil` otherwise.
    public func mayAct() -> LeaderRecord? {
        let now = clock.now()
        return state.withLock { state in
            guard let ours = state.ours, now < state.validUntil else { return nil }
            return ours
        }
    }

    /// Who leads as last seen (this balancer or another), if anyone.
    public var lastSeen: LeaderRecord? { state.withLock { $0.lastSeen } }

    /// Records the answer to a claim sent at `sentAt` (this clock's time).
    func claimReturned(_ record: LeaderRecord, sentAt: Duration) {
        let leadingNow = state.withLock { state in
            state.lastSeen = record
            if record.holder == holder {
                state.ours = record
                state.validUntil = max(state.validUntil, sentAt + validity)
            } else {
                state.ours = nil
            }
            return update(&state)
        }
        if leadingNow != nil { changes.yield() }
    }

    /// Records a claim that failed (the store did not answer): the lease runs out as counted.
    func claimFailed() {
        if state.withLock({ update(&$0) }) != nil { changes.yield() }
    }

    /// Records that this balancer gave the lease up.
    func released() {
        let changed = state.withLock { state in
            state.ours = nil
            state.lastSeen = nil
            return update(&state)
        }
        if changed != nil { changes.yield() }
    }

    /// Whether `leading` changed (its new value), from the state as it is now.
    private func update(_ state: inout State) -> Bool? {
        let leading = state.ours != nil && clock.now() < state.validUntil
        guard leading != state.leading else { return nil }
        state.leading = leading
        return leading
    }

    /// Ends the change stream (the balancer is stopping).
    func finish() { changes.finish() }
}
