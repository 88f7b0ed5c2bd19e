import Testing

/// Polls `condition` every 10 ms until it holds or `timeout` passes; records an issue and
/// returns false when it never held.
@discardableResult
func eventually(_ description: String, timeout: Duration = .seconds(10),
                sourceLocation: SourceLocation = #_sourceLocation,
                _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    if try await condition() { return true }
    Issue.record("timed out after \(timeout): \(description)", sourceLocation: sourceLocation)
    return false
}
