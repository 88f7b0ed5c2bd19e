extension ScalingConfiguration {
    /// Problems between variables, each reported under the first variable of its rule:
    /// - `MIN_UTILIZATION_PERCENT` must be below `MAX_UTILIZATION_PERCENT`;
    /// - `MIN_INSTANCES` must not exceed `MAX_INSTANCES`;
    /// - `MAX_CONNECTIONS_PER_HOST` (the hard limit) must not be below
    ///   `CONNECTION_LIMIT_PER_HOST` (the soft limit, 100 % utilization).
    ///
    /// Empty for a consistent configuration. `read(from:)` reports these too; this property
    /// serves configurations built in code.
    public var consistencyIssues: [ConfigurationIssue] {
        crossVariableChecks().map(\.issue)
    }

    /// The broken rules between variables, with every variable each one involves.
    func crossVariableChecks() -> [(issue: ConfigurationIssue, involves: [Variable])] {
        var found: [(issue: ConfigurationIssue, involves: [Variable])] = []
        func check(_ holds: Bool, _ variable: Variable, _ other: Variable, _ message: String) {
            guard !holds else { return }
            found.append((ConfigurationIssue(variable: variable.rawValue, message: message), [variable, other]))
        }
        check(minUtilizationPercent < maxUtilizationPercent, .minUtilizationPercent, .maxUtilizationPercent,
              "must be below MAX_UTILIZATION_PERCENT (\(maxUtilizationPercent)), got \(minUtilizationPercent)")
        check(minInstances <= maxInstances, .minInstances, .maxInstances,
              "must not exceed MAX_INSTANCES (\(maxInstances)), got \(minInstances)")
        check(maxConnectionsPerHost >= connectionLimitPerHost, .maxConnectionsPerHost, .connectionLimitPerHost,
              "the hard limit must not be below CONNECTION_LIMIT_PER_HOST (\(connectionLimitPerHost)), got \(maxConnectionsPerHost)")
        return found
    }
}
