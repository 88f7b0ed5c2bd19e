import Synchronization

/// The calls that changed something, across all fakes, in the order they happened
/// (for example `driver.launch ws-1`, `lb.add ws-1`, `lb.ready ws-1`).
final class CallLog: Sendable {
    private let entries = Mutex<[String]>([])

    /// Records one call.
    func append(_ entry: String) {
        entries.withLock { $0.append(entry) }
    }

    /// Every call so far.
    var all: [String] { entries.withLock { $0 } }

    /// Calls that start with `prefix`.
    func matching(_ prefix: String) -> [String] { all.filter { $0.hasPrefix(prefix) } }

    /// Position of the first call equal to `entry`.
    func index(of entry: String) -> Int? { all.firstIndex(of: entry) }
}

/// Waits until `condition` holds, checking every few milliseconds, for at most `timeout`.
/// - Returns: whether it held in time.
func eventually(timeout: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}
