/// What set off a decision of the control loop.
public enum DecisionKind: String, Sendable, Codable, Equatable {
    /// The planner asked for a change of the pool.
    case plan
    /// The loop put the proxy back in line with the instances that run.
    case reconcile
    /// An instance exited on its own and was taken out of the pool.
    case crash
}

/// One decision of the control loop, as the balancer's API shows it.
public struct Decision: Sendable, Codable, Equatable {
    /// Increasing number of the decision within one run of the loop.
    public var sequence: Int
    /// When it was taken, in milliseconds since 1970 (wall clock).
    public var timestamp: Int64
    /// What set it off.
    public var kind: DecisionKind
    /// Why, one line per decision (the planner's reasons, or the loop's own).
    public var reasons: [String]
    /// The plan carried out; empty for reconciliations and crashes.
    public var plan: ScalePlan
    /// True when the loop only logged it (`DRY_RUN`).
    public var dryRun: Bool
    /// What the loop did (or, in dry-run, would do), in order.
    public var actions: [String]
    /// What failed while carrying it out, including launches that finished later.
    public var errors: [String]

    /// Creates a decision record.
    public init(sequence: Int, timestamp: Int64, kind: DecisionKind, reasons: [String],
                plan: ScalePlan = ScalePlan(), dryRun: Bool, actions: [String] = [], errors: [String] = []) {
        self.sequence = sequence
        self.timestamp = timestamp
        self.kind = kind
        self.reasons = reasons
        self.plan = plan
        self.dryRun = dryRun
        self.actions = actions
        self.errors = errors
    }

    /// True when every action succeeded (so far, for launches still under way).
    public var succeeded: Bool { errors.isEmpty }
}
