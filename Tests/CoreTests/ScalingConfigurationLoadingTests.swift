import Testing
@testable import WSScaleCore

@Suite struct ScalingConfigurationLoadingTests {
    @Test func nothingSetGivesTheDefaults() throws {
        let configuration = try ScalingConfiguration.read(environment: [:], dotEnv: nil)
        #expect(configuration == ScalingConfiguration())
        #expect(configuration.connectionLimitPerHost == 10)
        #expect(configuration.maxUtilizationPercent == 70)
        #expect(configuration.minUtilizationPercent == 40)
        #expect(configuration.overutilizedTolerancePercent == 10)
        #expect(configuration.underutilizedTolerancePercent == 10)
        #expect(configuration.maxConnectionsPerHost == 30)
        #expect(configuration.minInstances == 1)
        #expect(configuration.maxInstances == 20)
    }

    @Test func everyVariableIsReadUnderItsName() throws {
        let environment = [
            "CONNECTION_LIMIT_PER_HOST": "100",
            "MAX_UTILIZATION_PERCENT": "75",
            "MIN_UTILIZATION_PERCENT": "30",
            "OVERUTILIZED_TOLERANCE_PERCENT": "5",
            "UNDERUTILIZED_TOLERANCE_PERCENT": "15",
            "MAX_CONNECTIONS_PER_HOST": "250",
            "MIN_INSTANCES": "2",
            "MAX_INSTANCES": "8",
            "DRAIN_TIMEOUT_SECONDS": "60",
            "SCALE_IN_STABILIZATION_SECONDS": "2.5",
            "REBALANCE_MAX_MOVES_PER_SECOND": "7",
            "DRY_RUN": "yes",
        ]
        let configuration = try ScalingConfiguration.read(environment: environment, dotEnv: nil)
        var expected = ScalingConfiguration()
        expected.connectionLimitPerHost = 100
        expected.maxUtilizationPercent = 75
        expected.minUtilizationPercent = 30
        expected.overutilizedTolerancePercent = 5
        expected.underutilizedTolerancePercent = 15
        expected.maxConnectionsPerHost = 250
        expected.minInstances = 2
        expected.maxInstances = 8
        expected.drainTimeout = .seconds(60)
        expected.scaleInStabilization = .milliseconds(2500)
        expected.rebalanceMovesPerSecond = 7
        expected.dryRun = true
        #expect(configuration == expected)
        #expect(Set(environment.keys) == Set(ScalingConfiguration.Variable.allCases.map(\.rawValue)))
    }

    @Test func dotEnvIsReadAndTheEnvironmentWins() throws {
        let dotEnv = """
        # the seed's knobs
        CONNECTION_LIMIT_PER_HOST=20
        MAX_CONNECTIONS_PER_HOST=40
        MIN_INSTANCES=3
        """
        let configuration = try ScalingConfiguration.read(environment: ["MIN_INSTANCES": "2"], dotEnv: dotEnv)
        #expect(configuration.connectionLimitPerHost == 20)
        #expect(configuration.maxConnectionsPerHost == 40)
        #expect(configuration.minInstances == 2)
    }

    /// One row per validation rule: the variables set, the variable the issue must name and a
    /// word of the rule its message must contain.
    static let invalidCases: [(environment: [String: String], variable: String, rule: String)] = [
        (["CONNECTION_LIMIT_PER_HOST": "ten"], "CONNECTION_LIMIT_PER_HOST", "whole number"),
        (["CONNECTION_LIMIT_PER_HOST": "0"], "CONNECTION_LIMIT_PER_HOST", "between 1 and 1000000"),
        (["CONNECTION_LIMIT_PER_HOST": "-5"], "CONNECTION_LIMIT_PER_HOST", "between 1 and 1000000"),
        // Near Int.max (it overflowed the decision rules' products) and past it.
        (["CONNECTION_LIMIT_PER_HOST": "9223372036854775807"], "CONNECTION_LIMIT_PER_HOST", "between 1 and 1000000"),
        (["CONNECTION_LIMIT_PER_HOST": "1000001"], "CONNECTION_LIMIT_PER_HOST", "between 1 and 1000000"),
        (["CONNECTION_LIMIT_PER_HOST": "99999999999999999999"], "CONNECTION_LIMIT_PER_HOST", "whole number"),
        (["MAX_UTILIZATION_PERCENT": "0"], "MAX_UTILIZATION_PERCENT", "between 1 and 100"),
        (["MAX_UTILIZATION_PERCENT": "101"], "MAX_UTILIZATION_PERCENT", "between 1 and 100"),
        (["MAX_UTILIZATION_PERCENT": "70%"], "MAX_UTILIZATION_PERCENT", "whole number"),
        (["MIN_UTILIZATION_PERCENT": "-1"], "MIN_UTILIZATION_PERCENT", "between 0 and 100"),
        (["MIN_UTILIZATION_PERCENT": "70"], "MIN_UTILIZATION_PERCENT", "below MAX_UTILIZATION_PERCENT (70)"),
        (["MIN_UTILIZATION_PERCENT": "80", "MAX_UTILIZATION_PERCENT": "60"], "MIN_UTILIZATION_PERCENT", "below MAX_UTILIZATION_PERCENT (60)"),
        (["OVERUTILIZED_TOLERANCE_PERCENT": "150"], "OVERUTILIZED_TOLERANCE_PERCENT", "between 0 and 100"),
        (["UNDERUTILIZED_TOLERANCE_PERCENT": "x"], "UNDERUTILIZED_TOLERANCE_PERCENT", "whole number"),
        (["MAX_CONNECTIONS_PER_HOST": "5"], "MAX_CONNECTIONS_PER_HOST", "hard limit must not be below CONNECTION_LIMIT_PER_HOST (10)"),
        (["MAX_CONNECTIONS_PER_HOST": "0"], "MAX_CONNECTIONS_PER_HOST", "between 1 and 1000000"),
        (["MAX_CONNECTIONS_PER_HOST": "9223372036854775807"], "MAX_CONNECTIONS_PER_HOST", "between 1 and 1000000"),
        (["MIN_INSTANCES": "0"], "MIN_INSTANCES", "between 1 and 10000"),
        (["MIN_INSTANCES": "5", "MAX_INSTANCES": "3"], "MIN_INSTANCES", "must not exceed MAX_INSTANCES (3)"),
        (["MAX_INSTANCES": "-2"], "MAX_INSTANCES", "between 1 and 10000"),
        (["MAX_INSTANCES": "10001"], "MAX_INSTANCES", "between 1 and 10000"),
        (["DRAIN_TIMEOUT_SECONDS": "soon"], "DRAIN_TIMEOUT_SECONDS", "number of seconds"),
        (["DRAIN_TIMEOUT_SECONDS": "-1"], "DRAIN_TIMEOUT_SECONDS", "at least 0 seconds"),
        (["DRAIN_TIMEOUT_SECONDS": "1e300"], "DRAIN_TIMEOUT_SECONDS", "at most 1000000000000 seconds"),
        (["SCALE_IN_STABILIZATION_SECONDS": "-0.5"], "SCALE_IN_STABILIZATION_SECONDS", "at least 0 seconds"),
        (["REBALANCE_MAX_MOVES_PER_SECOND": "-1"], "REBALANCE_MAX_MOVES_PER_SECOND", "between 0 and 1000000"),
        (["REBALANCE_MAX_MOVES_PER_SECOND": "9223372036854775807"], "REBALANCE_MAX_MOVES_PER_SECOND", "between 0 and 1000000"),
        (["REBALANCE_MAX_MOVES_PER_SECOND": "1.5"], "REBALANCE_MAX_MOVES_PER_SECOND", "whole number"),
        (["MAX_SHED_PER_REBALANCE": "100"], "MAX_SHED_PER_REBALANCE", "was replaced by REBALANCE_MAX_MOVES_PER_SECOND"),
        (["REBALANCE_COOLDOWN_SECONDS": "3"], "REBALANCE_COOLDOWN_SECONDS", "was replaced by REBALANCE_MAX_MOVES_PER_SECOND"),
        (["DRY_RUN": "perhaps"], "DRY_RUN", "true or false"),
    ]

    @Test(arguments: invalidCases)
    func invalidValueIsReportedUnderItsVariable(environment: [String: String], variable: String, rule: String) {
        do {
            _ = try ScalingConfiguration.read(environment: environment, dotEnv: nil)
            Issue.record("expected an error for \(environment)")
        } catch let error as ConfigurationError {
            #expect(error.issues.count == 1, "\(error.issues)")
            #expect(error.issues.first?.variable == variable)
            #expect(error.issues.first?.message.contains(rule) == true, "\(error.issues)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func everyProblemIsReportedAtOnce() {
        let environment = [
            "CONNECTION_LIMIT_PER_HOST": "abc",
            "MAX_UTILIZATION_PERCENT": "120",
            "MIN_INSTANCES": "4",
            "MAX_INSTANCES": "2",
            "DRY_RUN": "maybe",
        ]
        #expect {
            _ = try ScalingConfiguration.read(environment: environment, dotEnv: nil)
        } throws: { error in
            let issues = (error as? ConfigurationError)?.issues ?? []
            return issues.map(\.variable) == [
                "CONNECTION_LIMIT_PER_HOST", "MAX_UTILIZATION_PERCENT", "DRY_RUN", "MIN_INSTANCES",
            ]
        }
    }

    /// A variable that is itself invalid keeps its default and is not compared with others,
    /// so one typo gives one message.
    @Test func aBrokenVariableIsNotComparedWithOthers() {
        var reader = EnvironmentReader(environment: ["MAX_UTILIZATION_PERCENT": "high", "MIN_UTILIZATION_PERCENT": "75"])
        _ = ScalingConfiguration.read(from: &reader)
        #expect(reader.issues.map(\.variable) == ["MAX_UTILIZATION_PERCENT"])
    }

    @Test func consistencyIssuesOfAConfigurationBuiltInCode() {
        var configuration = ScalingConfiguration()
        #expect(configuration.consistencyIssues.isEmpty)
        configuration.minUtilizationPercent = 90
        configuration.minInstances = 30
        configuration.maxConnectionsPerHost = 9
        #expect(configuration.consistencyIssues.map(\.variable)
            == ["MIN_UTILIZATION_PERCENT", "MIN_INSTANCES", "MAX_CONNECTIONS_PER_HOST"])
    }

    @Test func hardLimitEqualToTheSoftLimitIsAccepted() throws {
        let configuration = try ScalingConfiguration.read(
            environment: ["CONNECTION_LIMIT_PER_HOST": "1", "MAX_CONNECTIONS_PER_HOST": "1"], dotEnv: nil)
        #expect(configuration.connectionLimitPerHost == 1)
    }

    @Test func describeListsEveryVariableInOrder() {
        let lines = ScalingConfiguration().describe().map { "\($0.name)=\($0.value)" }
        #expect(lines == [
            "CONNECTION_LIMIT_PER_HOST=10",
            "MAX_UTILIZATION_PERCENT=70",
            "MIN_UTILIZATION_PERCENT=40",
            "OVERUTILIZED_TOLERANCE_PERCENT=10",
            "UNDERUTILIZED_TOLERANCE_PERCENT=10",
            "MAX_CONNECTIONS_PER_HOST=30",
            "MIN_INSTANCES=1",
            "MAX_INSTANCES=20",
            "DRAIN_TIMEOUT_SECONDS=300",
            "SCALE_IN_STABILIZATION_SECONDS=10",
            "REBALANCE_MAX_MOVES_PER_SECOND=1000",
            "DRY_RUN=false",
        ])
    }

    @Test func describeReadsBackToTheSameConfiguration() throws {
        var configuration = ScalingConfiguration()
        configuration.drainTimeout = .milliseconds(1250)
        configuration.scaleInStabilization = .milliseconds(5)
        configuration.rebalanceMovesPerSecond = 0
        configuration.dryRun = true
        configuration.minInstances = 3
        let environment = Dictionary(uniqueKeysWithValues: configuration.describe().map { ($0.name, $0.value) })
        #expect(environment["DRAIN_TIMEOUT_SECONDS"] == "1.25")
        #expect(environment["SCALE_IN_STABILIZATION_SECONDS"] == "0.005")
        #expect(try ScalingConfiguration.read(environment: environment, dotEnv: nil) == configuration)
    }
}
