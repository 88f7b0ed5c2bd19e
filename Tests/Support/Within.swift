/// Runs `operation`, failing with `TimedOut` after `timeout`: for a call that may hang, where
/// hanging is the failure the test looks for.
public func within<T: Sendable>(_ timeout: Duration = .seconds(5),
                                _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw TimedOut()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// An operation took longer than allowed (``within(_:_:)``).
public struct TimedOut: Error {
    /// The error.
    public init() {}
}
