import Synchronization
import WSScaleCore

/// What a test planner saw and was told, shared between the planner (a value the loop owns)
/// and the test.
final class PlannerProbe: Sendable {
    private struct State {
        var snapshots: [TopologySnapshot] = []
        var script: [ScalePlan] = []
    }
    private let state = Mutex(State())
    /// Where `plan` calls are logged (`planner.plan`), next to the fakes' calls.
    let calls: CallLog?

    init(script: [ScalePlan] = [], calls: CallLog? = nil) {
        self.calls = calls
        state.withLock { $0.script = script }
    }

    /// Snapshots the planner was given, in order.
    var snapshots: [TopologySnapshot] { state.withLock { $0.snapshots } }
    /// How many times the loop asked for a plan.
    var planCalls: Int { state.withLock { $0.snapshots.count } }

    /// Records a snapshot and returns the next scripted plan (empty when the script is done).
    func next(for snapshot: TopologySnapshot) -> ScalePlan {
        calls?.append("planner.plan")
        return state.withLock { state in
            state.snapshots.append(snapshot)
            return state.script.isEmpty ? ScalePlan() : state.script.removeFirst()
        }
    }

}

/// Returns the plans it was given, one per call, then empty plans.
struct ScriptedPlanner: ScalePlanner {
    let probe: PlannerProbe

    mutating func plan(for snapshot: TopologySnapshot, now: Duration, rebalanceAllowance: Int) -> ScalePlan {
        probe.next(for: snapshot)
    }
}

/// Wants `target` instances active or starting: launches what is missing.
struct TargetCountPlanner: ScalePlanner {
    let target: Int
    let probe: PlannerProbe

    mutating func plan(for snapshot: TopologySnapshot, now: Duration, rebalanceAllowance: Int) -> ScalePlan {
        _ = probe.next(for: snapshot)
        let present = snapshot.active.count + snapshot.starting.count
        guard present < target else { return ScalePlan() }
        return ScalePlan(launch: target - present, reasons: ["\(present) of \(target) instances: launch \(target - present)"])
    }
}

/// Returns the same plan on every call.
struct RepeatingPlanner: ScalePlanner {
    let plan: ScalePlan
    let probe: PlannerProbe

    mutating func plan(for snapshot: TopologySnapshot, now: Duration, rebalanceAllowance: Int) -> ScalePlan {
        _ = probe.next(for: snapshot)
        return plan
    }
}
