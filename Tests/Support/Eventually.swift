import Foundation

extension TestSupport {
    /// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
    /// Errors thrown by `condition` count as "not yet".
    public static func eventually(timeout: Duration = .seconds(10),
                                  _ condition: () async throws -> Bool) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if (try? await condition()) == true { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return (try? await condition()) == true
    }
}
