/// The knobs of the scaler, with the proof of concept's names and defaults.
///
/// Loading from the environment and `.env`, and validation, live in
/// `ScalingConfiguration+Environment.swift`.
public struct ScalingConfiguration: Sendable, Equatable {
    /// `CONNECTION_LIMIT_PER_HOST`: connections per server counted as 100 % utilization.
    public var connectionLimitPerHost: Int = 10
    /// `MAX_UTILIZATION_PERCENT`: the ideal maximum utilization; the scale-out target uses it.
    public var maxUtilizationPercent: Int = 70
    /// `MIN_UTILIZATION_PERCENT`: below this overall utilization, scale in.
    public var minUtilizationPercent: Int = 40
    /// `OVERUTILIZED_TOLERANCE_PERCENT`: scale out above max + this; a host is
    /// over-utilized above overall + this.
    public var overutilizedTolerancePercent: Int = 10
    /// `UNDERUTILIZED_TOLERANCE_PERCENT`: a host is notably short below overall − this; named
    /// in rebalance reasons (any host below the average takes shed sessions, as in the PoC).
    public var underutilizedTolerancePercent: Int = 10
    /// `MAX_CONNECTIONS_PER_HOST`: the hard limit each server enforces (close code 1013 above it).
    public var maxConnectionsPerHost: Int = 30
    /// `MIN_INSTANCES`: never fewer active (or starting) instances.
    public var minInstances: Int = 1
    /// `MAX_INSTANCES`: never more instances in all.
    public var maxInstances: Int = 20
    /// `DRAIN_TIMEOUT_SECONDS`: after this long draining, a host's remaining sessions are shed.
    public var drainTimeout: Duration = .seconds(300)
    /// `SCALE_IN_STABILIZATION_SECONDS`: utilization must stay under the minimum this long
    /// before the pool scales in.
    public var scaleInStabilization: Duration = .seconds(10)
    /// `REBALANCE_MAX_MOVES_PER_SECOND`: the reconnect budget of rebalancing, in sessions per
    /// second over the whole pool (0 turns rebalancing off). A rebalance may shed up to one
    /// second of it at once, and the budget refills at this rate (`ScalingPolicy+Rebalance`).
    public var rebalanceMovesPerSecond: Int = 1000
    /// `DRY_RUN`: log decisions without acting.
    public var dryRun: Bool = false

    /// The defaults of the proof of concept plus ours.
    public init() {}
}
