import Testing
import WSScaleCore
import WSScaleTestSupport

/// The one backoff schedule: exponential ceiling with a cap, and the three jitters.
@Suite("Backoff: exponential ceiling, cap, jitter")
struct BackoffTests {
    @Test func theCeilingDoublesUpToTheCapWithoutOverflow() {
        let backoff = Backoff(base: .milliseconds(100), cap: .seconds(5), jitter: .none)
        #expect((1...8).map { backoff.ceiling(forAttempt: $0) } == [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
            .milliseconds(1600), .milliseconds(3200), .seconds(5), .seconds(5),
        ])
        #expect(backoff.ceiling(forAttempt: 0) == .milliseconds(100))
        #expect(backoff.ceiling(forAttempt: Int.max) == .seconds(5))
        let huge = Backoff(base: .seconds(Int64.max / 2), cap: .seconds(Int64.max), jitter: .none)
        #expect(huge.ceiling(forAttempt: 200) > .zero)
    }

    @Test(arguments: [Backoff.Jitter.none, .full, .half])
    func eachJitterStaysUnderTheCeiling(_ jitter: Backoff.Jitter) {
        let backoff = Backoff(base: .milliseconds(100), cap: .seconds(2), jitter: jitter)
        var generator = SeededRandom(seed: 7)
        for attempt in 1...10 {
            let ceiling = backoff.ceiling(forAttempt: attempt)
            for _ in 0..<50 {
                let delay = backoff.delay(forAttempt: attempt, using: &generator)
                #expect(delay <= ceiling)
                switch jitter {
                case .none: #expect(delay == ceiling)
                case .half: #expect(delay >= ceiling / 2)
                case .full: #expect(delay >= .zero)
                }
            }
        }
    }

    @Test func fullJitterSpreadsTheWaits() {
        let backoff = Backoff(base: .seconds(1), cap: .seconds(1), jitter: .full)
        var generator = SeededRandom(seed: 3)
        let delays = (0..<200).map { _ in backoff.delay(forAttempt: 1, using: &generator) }
        #expect(delays.contains { $0 < .milliseconds(250) } && delays.contains { $0 > .milliseconds(750) })
    }
}

