import Synchronization

/// The calls that changed something, across all fakes and the test planners, in the order
/// they happened (for example `driver.launch ws-1`, `lb.add ws-1`, `planner.plan`).
final class CallLog: Sendable {
    private struct Waiter {
        let id: Int
        let condition: @Sendable ([String]) -> Bool
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var entries: [String] = []
        var waiters: [Waiter] = []
        var nextWaiterID = 0
    }

    private let state = Mutex(State())

    /// Records one call and wakes the waits it satisfies.
    func append(_ entry: String) {
        let ready: [Waiter] = state.withLock { state in
            state.entries.append(entry)
            let entries = state.entries
            let ready = state.waiters.filter { $0.condition(entries) }
            state.waiters.removeAll { $0.condition(entries) }
            return ready
        }
        ready.forEach { $0.continuation.resume() }
    }

    /// Every call so far.
    var all: [String] { state.withLock { $0.entries } }

    /// Calls that start with `prefix`.
    func matching(_ prefix: String) -> [String] { all.filter { $0.hasPrefix(prefix) } }

    /// Position of the first call equal to `entry`.
    func index(of entry: String) -> Int? { all.firstIndex(of: entry) }

    /// How many calls equal `entry`.
    func count(of entry: String) -> Int { all.count { $0 == entry } }

    /// Returns once the calls satisfy `condition` (checked now and at every new call), or
    /// when the task is cancelled. No timeout of its own: the test's time limit, which
    /// cancels it, catches a call that never comes.
    func until(_ condition: @escaping @Sendable ([String]) -> Bool) async {
        let id = state.withLock { state in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state in
                    if condition(state.entries) || Task.isCancelled { return true }
                    state.waiters.append(Waiter(id: id, condition: condition, continuation: continuation))
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume()
        }
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
