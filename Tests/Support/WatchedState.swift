import Synchronization

/// A value behind a lock that tasks can wait on: `wait(until:)` returns once a condition on
/// the value holds, checked now and after every `update`. A cancelled wait returns at once.
/// There is no timeout: the test's time limit, which cancels the wait, catches a condition
/// that never comes.
public final class WatchedState<Value: Sendable>: Sendable {
    private struct Waiter {
        let id: Int
        let condition: @Sendable (Value) -> Bool
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct Box {
        var value: Value
        var waiters: [Waiter] = []
        var nextID = 0
    }

    private let box: Mutex<Box>

    /// Watches `value`.
    public init(_ value: Value) {
        box = Mutex(Box(value: value))
    }

    /// The value now.
    public var value: Value { box.withLock { $0.value } }

    /// Changes the value under the lock, then resumes the waits it satisfies.
    @discardableResult
    public func update<R>(_ body: (inout Value) -> R) -> R {
        let (result, ready): (R, [Waiter]) = box.withLock { box in
            let result = body(&box.value)
            let value = box.value
            let ready = box.waiters.filter { $0.condition(value) }
            box.waiters.removeAll { $0.condition(value) }
            return (result, ready)
        }
        ready.forEach { $0.continuation.resume() }
        return result
    }

    /// Returns once `condition` holds for the value, or when the task is cancelled.
    public func wait(until condition: @escaping @Sendable (Value) -> Bool) async {
        let id = box.withLock { box in
            defer { box.nextID += 1 }
            return box.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = box.withLock { box in
                    if condition(box.value) || Task.isCancelled { return true }
                    box.waiters.append(Waiter(id: id, condition: condition, continuation: continuation))
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let waiter = box.withLock { box -> Waiter? in
                guard let index = box.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return box.waiters.remove(at: index)
            }
            waiter?.continuation.resume()
        }
    }
}
