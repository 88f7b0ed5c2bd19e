import Testing
@testable import WSScaleCore

/// One row of a table-driven policy test: a fresh policy, one snapshot, the plan expected.
struct PolicyCase: Sendable, CustomTestStringConvertible {
    var name: String
    var configuration: ScalingConfiguration = .seed
    var instances: [InstanceSnapshot]
    var now: Duration = .seconds(100)
    /// The plan's actions (reasons ignored).
    var expected: ScalePlan
    /// Text every reason of the plan must contain one of, in order; empty: no check.
    var reasons: [String] = []

    var testDescription: String { name }

    /// Runs the case: plans once with a fresh policy and checks actions and reasons.
    func check(sourceLocation: SourceLocation = #_sourceLocation) {
        var policy = PacedPolicy(configuration: configuration)
        let plan = policy.plan(for: TopologySnapshot(instances: instances), now: now)
        #expect(plan.actions == expected, "\(name): \(plan.reasons)", sourceLocation: sourceLocation)
        if expected.isEmpty {
            #expect(plan.reasons.isEmpty, "\(name): an empty plan carries no reason", sourceLocation: sourceLocation)
        }
        if !reasons.isEmpty {
            #expect(plan.reasons.count == reasons.count, "\(name): \(plan.reasons)", sourceLocation: sourceLocation)
            for (reason, fragment) in zip(plan.reasons, reasons) {
                #expect(reason.contains(fragment), "\(name): \"\(reason)\" lacks \"\(fragment)\"", sourceLocation: sourceLocation)
            }
        }
    }
}
