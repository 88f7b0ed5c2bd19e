import Testing
import WSScaleLocalStack

@Suite struct RestartBackoffTests {
    @Test("delays double from 0.2 s and stop at 10 s")
    func doublesUpToTheMaximum() {
        var backoff = RestartBackoff()
        let delays = (0..<9).map { _ in backoff.delay(afterUptime: .seconds(1)) }
        #expect(delays == [.milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600),
                           .milliseconds(3200), .milliseconds(6400), .seconds(10), .seconds(10), .seconds(10)])
        #expect(backoff.consecutiveRestarts == 9)
    }

    @Test("a program that stayed up for 60 s is restarted quickly again")
    func stableUptimeResets() {
        var backoff = RestartBackoff()
        for _ in 0..<5 { _ = backoff.delay(afterUptime: .seconds(2)) }
        #expect(backoff.delay(afterUptime: .seconds(59)) == .milliseconds(6400))
        #expect(backoff.delay(afterUptime: .seconds(60)) == .milliseconds(200))
        #expect(backoff.delay(afterUptime: .seconds(1)) == .milliseconds(400))
    }

    @Test("a failed start counts as an exit after no uptime")
    func failedStartsKeepDoubling() {
        var backoff = RestartBackoff(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(300), stableUptime: .seconds(5))
        #expect(backoff.delay(afterUptime: .seconds(10)) == .milliseconds(50))
        #expect(backoff.delay(afterUptime: .zero) == .milliseconds(100))
        #expect(backoff.delay(afterUptime: .zero) == .milliseconds(200))
        #expect(backoff.delay(afterUptime: .zero) == .milliseconds(300))
        #expect(backoff.delay(afterUptime: .seconds(5)) == .milliseconds(50))
    }

    @Test("thousands of restarts stay at the maximum", arguments: [1, 10, 1000])
    func neverAboveTheMaximum(restarts: Int) {
        var backoff = RestartBackoff()
        var last = Duration.zero
        for _ in 0..<restarts {
            let delay = backoff.delay(afterUptime: .milliseconds(10))
            #expect(delay >= last && delay <= .seconds(10))
            last = delay
        }
    }
}
