/// The pace of rebalancing, owned by the control loop (as autoscalers keep their cooldowns
/// beside the loop, not inside the rules): how many "Swiss cheese" moves the next plan may
/// order, given the rebalances carried out before.
///
/// - A budget of moves refills at `REBALANCE_MAX_MOVES_PER_SECOND`, up to one second of it;
///   each rebalancing shed carried out spends it.
/// - While the sessions shed by the last rebalance have not come back to the active hosts,
///   nothing may be moved: shed from a host, not yet on another, they would make the
///   average look lower than it is and be counted twice. They are back once the active hosts
///   hold as many sessions as before (and at least `settleMinimum` passed), or, at the
///   latest, after `settleLimit` (users who leave meanwhile would otherwise hold it back).
///
/// The loop asks `allowance` before each plan and calls `carriedOut` once a plan was carried
/// out, in dry-run once it was recorded, so a dry run paces exactly as a real one. Pure: the
/// same calls with the same times give the same answers.
public struct RebalancePacer: Sendable, Equatable {
    /// How long a rebalance waits at most for the sessions shed by the one before.
    public static let settleLimit: Duration = .seconds(2)
    /// How long a rebalance waits at least after the one before: the shed clients reconnect
    /// within 0–100 ms and the registry shows them 100 ms later. An order that was not
    /// carried out (a server not listening) leaves the count as it was, which must not read
    /// as "back" at the very next wake.
    public static let settleMinimum: Duration = .milliseconds(300)

    /// A rebalance carried out whose shed sessions may still be reconnecting.
    struct MovesInFlight: Sendable, Equatable {
        /// When it was carried out.
        var shedAt: Duration
        /// Sessions on the active hosts when it was planned.
        var activeSessionsBefore: Int
    }

    /// `REBALANCE_MAX_MOVES_PER_SECOND`.
    public let movesPerSecond: Int
    /// The budget left after the last rebalance, at `budgetTime`; `nil`: full.
    private var budgetLeft: Double?
    /// When the budget was last spent.
    private var budgetTime: Duration?
    /// The last rebalance carried out, while its shed sessions have not all come back.
    private var movesInFlight: MovesInFlight?
    /// Sessions on the active hosts at the last `allowance` (what a plan carried out next
    /// started from).
    private var lastActiveSessions = 0

    /// Creates a pacer with a full budget and nothing in flight.
    public init(movesPerSecond: Int) {
        self.movesPerSecond = movesPerSecond
    }

    /// The most rebalancing moves a plan made now from `snapshot` may order: 0 while the
    /// last rebalance's sessions are on their way, otherwise the budget in whole moves.
    public mutating func allowance(for snapshot: TopologySnapshot, now: Duration) -> Int {
        let activeSessions = snapshot.active.map(\.sessions).saturatingSum()
        lastActiveSessions = activeSessions
        if let inFlight = movesInFlight {
            let waited = now - inFlight.shedAt
            guard (activeSessions >= inFlight.activeSessionsBefore && waited >= Self.settleMinimum)
                || waited >= Self.settleLimit else { return 0 }
            movesInFlight = nil
        }
        return Self.wholeMoves(budget(at: now))
    }

    /// Records that `plan` was carried out at `now`: its rebalancing sheds spend the budget
    /// and are on their way until they are back.
    public mutating func carriedOut(_ plan: ScalePlan, now: Duration) {
        let moves = plan.shed.filter { $0.cause == .rebalance }.map(\.count).saturatingSum()
        guard moves > 0 else { return }
        budgetLeft = max(0, budget(at: now) - Double(moves))
        budgetTime = now
        movesInFlight = MovesInFlight(shedAt: now, activeSessionsBefore: lastActiveSessions)
    }

    /// The budget at `now`: what was left, refilled at the rate, at most one second of it.
    private func budget(at now: Duration) -> Double {
        let rate = Double(movesPerSecond)
        guard let budgetLeft, let budgetTime else { return rate }
        return min(rate, budgetLeft + rate * max(0, (now - budgetTime).secondsValue))
    }

    /// A budget in whole moves (rounded down); a knob built in code near `Int.max` gives
    /// `Int.max`, never a trap.
    static func wholeMoves(_ budget: Double) -> Int {
        guard budget.isFinite, budget > 0 else { return 0 }
        return budget >= Double(Int.max) ? Int.max : Int(budget)
    }
}
