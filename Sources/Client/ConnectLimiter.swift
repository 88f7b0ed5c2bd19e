/// Bounds how many connection attempts are in flight at once (a counting semaphore that
/// suspends instead of blocking). Closing it wakes every waiter without a permit.
actor ConnectLimiter {
    private var available: Int
    private var waiters: [CheckedContinuation<Bool, Never>] = []
    private var waitersStart = 0
    private var isClosed = false

    /// - Parameter permits: attempts allowed at once (at least 1).
    init(permits: Int) {
        available = max(1, permits)
    }

    /// Waits for a permit.
    /// - Returns: `true` with a permit that must be given back with ``release()``, `false`
    ///   when the limiter was closed.
    func acquire() async -> Bool {
        if isClosed { return false }
        if available > 0 {
            available -= 1
            return true
        }
        return await withCheckedContinuation { waiters.append($0) }
    }

    /// Gives a permit back, handing it to the longest waiter if there is one.
    func release() {
        if waitersStart < waiters.count {
            let next = waiters[waitersStart]
            waitersStart += 1
            compactWaiters()
            next.resume(returning: true)
        } else {
            available += 1
        }
    }

    /// Refuses every future and pending request.
    func close() {
        isClosed = true
        let pending = waiters[waitersStart...]
        waiters = []
        waitersStart = 0
        for waiter in pending { waiter.resume(returning: false) }
    }

    private func compactWaiters() {
        if waitersStart > 1024 && waitersStart * 2 > waiters.count {
            waiters.removeFirst(waitersStart)
            waitersStart = 0
        }
    }
}
