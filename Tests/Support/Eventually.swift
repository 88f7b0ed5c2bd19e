import Foundation

/// A wait whose condition never held: within its time, or before the test was cancelled (its
/// suite's time limit).
public struct NotReached: Error, CustomStringConvertible {
    /// What was waited for, how long, and the state last seen (or the condition's last error).
    public var description: String
}

extension TestSupport {
    /// The tests' one wait, for what only a real process, socket or server can make true:
    /// looks at `condition` every `interval` until it holds. An error thrown by `condition`
    /// counts as "not yet" (a server still starting refuses connections) and is named if the
    /// wait fails.
    ///
    /// A wait with no `timeout` has no deadline of its own: where a test checks what happens
    /// (which close, how many upgrades) and not how fast, a deadline would only measure how
    /// busy the machine is, and the suite's time limit ends a wait that never ends.
    /// - Parameters:
    ///   - what: what is waited for, for the failure's message.
    ///   - timeout: time allowed, or `nil` for none.
    ///   - describe: the state to show when the wait fails.
    /// - Returns: how long it took.
    /// - Throws: ``NotReached`` when `timeout` passes or the test is cancelled first.
    @discardableResult
    public static func waitUntil(_ what: String, timeout: Duration? = .seconds(10), interval: Duration = .milliseconds(20),
                                 _ condition: () async throws -> Bool,
                                 describe: () async -> String = { "" }) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        var lastError: (any Error)?
        func holds() async -> Bool {
            do {
                return try await condition()
            } catch {
                lastError = error
                return false
            }
        }
        while !Task.isCancelled {
            if await holds() { return clock.now - start }
            if let timeout, clock.now - start >= timeout { break }
            try? await Task.sleep(for: interval)
        }
        if await holds() { return clock.now - start }
        let ending = Task.isCancelled ? "cancelled (time limit) after \(clock.now - start)" : "not within \(timeout ?? .zero)"
        let state = await describe()
        throw NotReached(description: "\(what): \(ending)."
                         + (state.isEmpty ? "" : " \(state)")
                         + (lastError.map { " Last error: \($0)" } ?? ""))
    }

    /// The same wait as a yes or no, for `#expect(await TestSupport.eventually { … }, "…")`.
    /// - Returns: whether `condition` held within `timeout`.
    public static func eventually(timeout: Duration? = .seconds(10), interval: Duration = .milliseconds(20),
                                  _ condition: () async throws -> Bool) async -> Bool {
        (try? await waitUntil("", timeout: timeout, interval: interval, condition)) != nil
    }
}
