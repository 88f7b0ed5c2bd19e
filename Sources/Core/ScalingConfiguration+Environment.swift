extension ScalingConfiguration: EnvironmentSettings {
    /// The environment variables of the scaler, under the proof of concept's names for its six
    /// knobs and ours for the rest.
    public enum Variable: String, CaseIterable, Sendable {
        case connectionLimitPerHost = "CONNECTION_LIMIT_PER_HOST"
        case maxUtilizationPercent = "MAX_UTILIZATION_PERCENT"
        case minUtilizationPercent = "MIN_UTILIZATION_PERCENT"
        case overutilizedTolerancePercent = "OVERUTILIZED_TOLERANCE_PERCENT"
        case underutilizedTolerancePercent = "UNDERUTILIZED_TOLERANCE_PERCENT"
        case maxConnectionsPerHost = "MAX_CONNECTIONS_PER_HOST"
        case minInstances = "MIN_INSTANCES"
        case maxInstances = "MAX_INSTANCES"
        case drainTimeout = "DRAIN_TIMEOUT_SECONDS"
        case scaleInStabilization = "SCALE_IN_STABILIZATION_SECONDS"
        case rebalanceMovesPerSecond = "REBALANCE_MAX_MOVES_PER_SECOND"
        case dryRun = "DRY_RUN"
    }

    /// Variables of earlier versions that a newer one replaced: set, they stop startup with
    /// a message naming what to set instead, rather than being ignored.
    public static let retiredVariables: [(name: String, replacement: String)] = [
        ("MAX_SHED_PER_REBALANCE", "was replaced by REBALANCE_MAX_MOVES_PER_SECOND (sessions per second over the pool; 0 turns rebalancing off)"),
        ("REBALANCE_COOLDOWN_SECONDS", "was replaced by REBALANCE_MAX_MOVES_PER_SECOND (rebalancing is paced by a rate, with no cooldown)"),
    ]

    /// Reads the configuration from `reader`, recording every problem in it; call
    /// `reader.finish()` afterwards to throw them.
    ///
    /// Rules, each reported under the variable it concerns:
    /// - every number is a whole number (durations: seconds, fractions allowed), never negative;
    /// - percentages are 0…100, and `MAX_UTILIZATION_PERCENT` is at least 1 (the scale-out
    ///   target divides by it);
    /// - `CONNECTION_LIMIT_PER_HOST`, `MIN_INSTANCES` and `MAX_INSTANCES` are at least 1
    ///   (a pool of no server takes no connection, so it would never grow);
    /// - `REBALANCE_MAX_MOVES_PER_SECOND` is at least 0 (0 turns rebalancing off);
    /// - a variable an earlier version read and this one replaced (`retiredVariables`) is
    ///   refused with what to set instead;
    /// - sane maxima, so that no product in the decision rules comes near `Int.max`:
    ///   `CONNECTION_LIMIT_PER_HOST` and `MAX_CONNECTIONS_PER_HOST` at most 1,000,000,
    ///   `MIN_INSTANCES` and `MAX_INSTANCES` at most 10,000, `REBALANCE_MAX_MOVES_PER_SECOND` at most
    ///   1,000,000 (`SettingRule`);
    /// - the rules between variables of `consistencyIssues`, checked only for variables
    ///   that were read without a problem (so one typo gives one message).
    ///
    /// Variables that are unset or empty keep their defaults; a variable with a problem keeps
    /// its default too, so the result is usable for display even when the reader has issues.
    public static func read(from reader: inout EnvironmentReader) -> ScalingConfiguration {
        let defaults = ScalingConfiguration()
        var configuration = ScalingConfiguration()
        configuration.connectionLimitPerHost = reader.int(
            Variable.connectionLimitPerHost.rawValue, default: defaults.connectionLimitPerHost,
            in: 1...SettingRule.maxConnectionsPerServer)
        configuration.maxUtilizationPercent = reader.int(
            Variable.maxUtilizationPercent.rawValue, default: defaults.maxUtilizationPercent, in: 1...100)
        configuration.minUtilizationPercent = reader.percent(
            Variable.minUtilizationPercent.rawValue, default: defaults.minUtilizationPercent)
        configuration.overutilizedTolerancePercent = reader.percent(
            Variable.overutilizedTolerancePercent.rawValue, default: defaults.overutilizedTolerancePercent)
        configuration.underutilizedTolerancePercent = reader.percent(
            Variable.underutilizedTolerancePercent.rawValue, default: defaults.underutilizedTolerancePercent)
        configuration.maxConnectionsPerHost = reader.int(
            Variable.maxConnectionsPerHost.rawValue, default: defaults.maxConnectionsPerHost,
            in: 1...SettingRule.maxConnectionsPerServer)
        configuration.minInstances = reader.int(
            Variable.minInstances.rawValue, default: defaults.minInstances, in: 1...SettingRule.maxInstances)
        configuration.maxInstances = reader.int(
            Variable.maxInstances.rawValue, default: defaults.maxInstances, in: 1...SettingRule.maxInstances)
        configuration.drainTimeout = reader.seconds(
            Variable.drainTimeout.rawValue, default: defaults.drainTimeout)
        configuration.scaleInStabilization = reader.seconds(
            Variable.scaleInStabilization.rawValue, default: defaults.scaleInStabilization)
        configuration.rebalanceMovesPerSecond = reader.int(
            Variable.rebalanceMovesPerSecond.rawValue, default: defaults.rebalanceMovesPerSecond, in: 0...SettingRule.maxShed)
        for retired in retiredVariables where reader.raw(retired.name) != nil {
            reader.report(retired.name, retired.replacement)
        }
        configuration.dryRun = reader.bool(Variable.dryRun.rawValue, default: defaults.dryRun)

        let alreadyReported = Set(reader.issues.map(\.variable))
        for check in configuration.crossVariableChecks()
        where !check.involves.contains(where: { alreadyReported.contains($0.rawValue) }) {
            reader.report(check.issue.variable, check.issue.message)
        }
        return configuration
    }

    /// The effective configuration as `(variable, value)` pairs, in the order of `Variable`;
    /// values are written so that reading them back gives the same configuration
    /// (durations in seconds, booleans as `true`/`false`).
    public func describe() -> [(name: String, value: String)] {
        Variable.allCases.map { variable in
            let value: String
            switch variable {
            case .connectionLimitPerHost: value = String(connectionLimitPerHost)
            case .maxUtilizationPercent: value = String(maxUtilizationPercent)
            case .minUtilizationPercent: value = String(minUtilizationPercent)
            case .overutilizedTolerancePercent: value = String(overutilizedTolerancePercent)
            case .underutilizedTolerancePercent: value = String(underutilizedTolerancePercent)
            case .maxConnectionsPerHost: value = String(maxConnectionsPerHost)
            case .minInstances: value = String(minInstances)
            case .maxInstances: value = String(maxInstances)
            case .drainTimeout: value = drainTimeout.secondsText
            case .scaleInStabilization: value = scaleInStabilization.secondsText
            case .rebalanceMovesPerSecond: value = String(rebalanceMovesPerSecond)
            case .dryRun: value = dryRun ? "true" : "false"
            }
            return (name: variable.rawValue, value: value)
        }
    }
}
