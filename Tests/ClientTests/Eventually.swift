import Testing

/// Waits until `condition` holds, looking again every 10 ms; records an issue naming
/// `description` and returns false when the test is cancelled first.
///
/// It has no deadline of its own. What these tests check is what happens (which close, how
/// many upgrades), not how fast: a deadline here would only measure how busy the machine
/// is (CI starts every suite at once on two cores, and the first seconds of a run are slow
/// for all of them). A wait that never ends is caught by the suite's time limit, which
/// cancels the test.
@discardableResult
func eventually(_ description: String, sourceLocation: SourceLocation = #_sourceLocation,
                _ condition: () async throws -> Bool) async rethrows -> Bool {
    while !Task.isCancelled {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    if try await condition() { return true }
    Issue.record("cancelled (time limit) before: \(description)", sourceLocation: sourceLocation)
    return false
}
