import Testing
@testable import WSScaleBackends

/// The free-port finder hands out ports below the ephemeral range (where no outgoing
/// connection can take them) and never the same one twice in a row in one process.
@Suite("Free loopback ports")
struct LoopbackPortTests {
    @Test("ports come from below the ephemeral range, or from the kernel when that leaves too few")
    func rangeBelowEphemeral() {
        #expect(LoopbackPort.candidateRange(ephemeralLow: 32768) == 10_000...32767)
        #expect(LoopbackPort.candidateRange(ephemeralLow: 10_500) == nil, "fewer than 1,000 ports below it")
        #expect(LoopbackPort.candidateRange(ephemeralLow: nil) == nil, "no /proc: the kernel picks")
    }

    @Test("500 ports in a row: each bindable, none handed out twice, none in the ephemeral range")
    func distinctAndBelowEphemeral() throws {
        var seen = Set<Int>()
        let range = LoopbackPort.candidateRange()
        for _ in 0..<500 {
            let port = try #require(LoopbackPort.free())
            #expect(seen.insert(port).inserted, "port \(port) handed out twice")
            if let range { #expect(range.contains(port), "\(port) is outside \(range)") }
        }
    }
}
