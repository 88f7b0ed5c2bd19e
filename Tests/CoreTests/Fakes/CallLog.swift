import WSScaleTestSupport

/// The calls that changed something, across all fakes and the test planners, in the order
/// they happened (for example `driver.launch ws-1`, `lb.add ws-1`, `planner.plan`).
final class CallLog: Sendable {
    private let entries = WatchedState<[String]>([])

    /// Records one call and wakes the waits it satisfies.
    func append(_ entry: String) {
        entries.update { $0.append(entry) }
    }

    /// Every call so far.
    var all: [String] { entries.value }

    /// Calls that start with `prefix`.
    func matching(_ prefix: String) -> [String] { all.filter { $0.hasPrefix(prefix) } }

    /// Position of the first call equal to `entry`.
    func index(of entry: String) -> Int? { all.firstIndex(of: entry) }

    /// Returns once the calls satisfy `condition` (checked now and at every new call), or
    /// when the task is cancelled (the test's time limit catches a call that never comes).
    func until(_ condition: @escaping @Sendable ([String]) -> Bool) async {
        await entries.wait(until: condition)
    }

    /// Returns once `entry` has been called.
    func until(called entry: String) async {
        await until { $0.contains(entry) }
    }

    /// Returns once `entry` has been called `count` times.
    func until(_ entry: String, times count: Int) async {
        await until { $0.count { $0 == entry } >= count }
    }
}
