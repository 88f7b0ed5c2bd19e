import Testing
import WSScaleTestSupport
@testable import WSScaleClient

@Suite("Backoff policy: exponential ceiling, full jitter, cap")
struct BackoffPolicyTests {
    let policy = BackoffPolicy(base: .milliseconds(100), cap: .seconds(5))

    @Test("the ceiling doubles from base and stops at cap")
    func ceilingDoublesUpToCap() {
        let expected: [Duration] = [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
                                    .milliseconds(1600), .milliseconds(3200), .seconds(5), .seconds(5)]
        #expect((1...8).map { policy.ceiling(forAttempt: $0) } == expected)
        #expect(policy.ceiling(forAttempt: 10_000) == .seconds(5))
        #expect(policy.ceiling(forAttempt: 0) == .milliseconds(100))
    }

    @Test("full jitter: every delay lies in 0...ceiling and both ends are reachable")
    func fullJitterBounds() {
        var random = SeededRandom(seed: 42)
        for attempt in 1...12 {
            let ceiling = policy.ceiling(forAttempt: attempt)
            let delays = (0..<500).map { _ in policy.delay(forAttempt: attempt, using: &random) }
            #expect(delays.allSatisfy { $0 >= .zero && $0 <= ceiling }, "attempt \(attempt)")
            // Full jitter, not "equal jitter": some delays fall in the lower half of the range.
            #expect(delays.contains { $0 < ceiling / 2 }, "attempt \(attempt)")
            #expect(delays.contains { $0 > ceiling / 2 }, "attempt \(attempt)")
        }
        var highest = ConstantRandom(word: .max)
        var lowest = ConstantRandom(word: 1)
        #expect(policy.delay(forAttempt: 3, using: &highest) == .milliseconds(400))
        #expect(policy.delay(forAttempt: 3, using: &lowest) == .zero)
        #expect(policy.delay(forAttempt: 40, using: &highest) == .seconds(5))
    }

    @Test("attempts are unbounded by default and bounded when maxAttempts is set")
    func attemptBound() {
        #expect(policy.allows(attempt: 1_000_000))
        let bounded = BackoffPolicy(base: .milliseconds(10), cap: .seconds(1), maxAttempts: 3)
        #expect(bounded.allows(attempt: 3))
        #expect(!bounded.allows(attempt: 4))
    }
}
