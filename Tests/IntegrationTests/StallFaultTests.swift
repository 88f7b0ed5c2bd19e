#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import WSScaleTestSupport

/// Faults where a part is slow rather than dead, on a real `wsscale up`: each is caused, its
/// outcome asserted, and the time until detection and until recovery printed.
extension RealStackTests {
@Suite("faults: a stalled Redis")
struct StallFaultTests {
    /// The balancer's `GET /health` status.
    static func health(_ stack: UpStack) async -> Int {
        (try? await RawHTTPClient.request("GET", "/health", port: stack.ports.balancer).status) ?? 0
    }

    @Test("Redis stopped (SIGSTOP) for 8 s: /health turns 503 within the stall limit, the API keeps answering, all recovers after SIGCONT")
    func redisStopped() async throws {
        try await UpStack.with(["BALANCER_STALL_SECONDS": "3", "SCALE_IN_STABILIZATION_SECONDS": "120"]) { stack in
            let users = try await StackSupervisionTests.connectUsers(stack, "stall", 10)
            #expect(await Self.health(stack) == 200)
            let redis = try #require(stack.pid(of: .redis))
            let clock = ContinuousClock()
            let stoppedAt = clock.now
            kill(redis, SIGSTOP)
            var resumed = false
            defer { if !resumed { kill(redis, SIGCONT) } }

            let detected = try await stack.scenario.waitUntil("the balancer's /health answers 503", timeout: .seconds(30), {
                await Self.health(stack) == 503
            }, describe: { stack.logTail(lines: 20) })
            // While Redis is stopped the balancer's API answers at once, and says why.
            let asked = clock.now
            let topology = try await RawHTTPClient.request("GET", "/api/topology", port: stack.ports.balancer)
            let answeredIn = clock.now - asked
            let reason = try await RawHTTPClient.request("GET", "/health", port: stack.ports.balancer).body
            print("fault redis SIGSTOP: /health 503 after \(detected) (\(reason)); /api/topology answered in \(answeredIn)")
            #expect(answeredIn < .seconds(2), "the API does not wait for Redis")
            #expect(topology.body.contains(#""stalled" : true"#), "the topology says the loop is stalled")
            #expect(reason.contains("stalled"), "\(reason)")

            // The fault lasts 8 s (past every 5 s reply deadline and the 2 s lease): the servers'
            // and the balancer's connections time out and reconnect; Redis expires the records.
            try await Task.sleep(until: stoppedAt + .seconds(8), clock: clock)
            kill(redis, SIGCONT)
            resumed = true
            let resumedAt = clock.now
            let healthy = try await stack.scenario.waitUntil("/health answers 200 again", timeout: .seconds(30), {
                await Self.health(stack) == 200
            }, describe: { stack.logTail(lines: 20) })
            let complete = try await stack.scenario.waitUntil("every session registered again", timeout: .seconds(30), {
                try await stack.api.topology().totalSessions == users.count
            }, describe: { await stack.scenario.describeState() })
            print("fault redis SIGSTOP: stopped for \(resumedAt - stoppedAt); after SIGCONT /health 200 in \(healthy), all \(users.count) sessions registered in \(complete)")
            #expect(try await stack.api.clientStatus().allConnected(users), "no user was cut")
        }
    }
}
}
