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

    @Test("Redis stopped (SIGSTOP) for 30 s: /health turns 503 and /metrics shows the stall, no decision is taken, a server's session list answers 503 within its reply deadline, all recovers after SIGCONT")
    func redisStopped() async throws {
        try await UpStack.with(["BALANCER_STALL_SECONDS": "3", "SCALE_IN_STABILIZATION_SECONDS": "120"]) { stack in
            let users = try await StackSupervisionTests.connectUsers(stack, "stall", 10)
            #expect(await Self.health(stack) == 200)
            #expect(try await stack.api.balancerMetric("wsscale_balancer_stalled") == 0)
            let server = try #require(try await stack.api.topology().active.first?.endpoint?.port)
            let redis = try #require(stack.pid(of: .redis))
            let clock = ContinuousClock()
            let decisionsBefore = try await stack.api.topology().lastDecisionSequence
            let stoppedAt = clock.now
            kill(redis, SIGSTOP)
            var resumed = false
            defer { if !resumed { kill(redis, SIGCONT) } }

            let detected = try await TestSupport.waitUntil("the balancer's /health answers 503", timeout: .seconds(30), {
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

            // /metrics shows it too: the stalled gauge at 1, the age of the last reading growing.
            let metricsStalled = try await TestSupport.waitUntil("wsscale_balancer_stalled 1 on /metrics", timeout: .seconds(5), {
                try await stack.api.balancerMetric("wsscale_balancer_stalled") == 1
            })
            let firstAge = try #require(try await stack.api.balancerMetric("wsscale_balancer_seconds_since_observation"))
            #expect(firstAge >= 3, "stalled means no reading for BALANCER_STALL_SECONDS: \(firstAge) s")

            // A server's session list needs Redis: it answers 503 once its reply deadline (5 s)
            // passes, and does not hang.
            let token = try #require(stack.api.adminToken)
            let listAsked = clock.now
            let list = try? await within(.seconds(15)) {
                try await RawHTTPClient.request("GET", "/ws-session/all", port: server, headers: [("Authorization", "Bearer \(token)")])
            }
            let listAnsweredIn = clock.now - listAsked
            print("fault redis SIGSTOP: a server's GET /ws-session/all answered \(list.map { "\($0.status) \($0.body.prefix(100).trimmingCharacters(in: .whitespacesAndNewlines))" } ?? "nothing") in \(listAnsweredIn)")
            #expect(list?.status == 503, "\(String(describing: list))")
            #expect(list?.body.contains("session registry unavailable") == true)
            #expect(listAnsweredIn < .seconds(5) + .seconds(1), "within the reply deadline of 5 s (and a second for the rest)")

            // The fault lasts 30 s (far past every 5 s reply deadline and the 2 s lease): the
            // servers' and the balancer's connections time out and reconnect; Redis expires the records.
            try await Task.sleep(until: stoppedAt + .seconds(30), clock: clock)
            let lastAge = try #require(try await stack.api.balancerMetric("wsscale_balancer_seconds_since_observation"))
            #expect(lastAge >= firstAge + 20, "the age of the last reading grows with the stall: \(firstAge) s, then \(lastAge) s")
            #expect(try await stack.api.balancerMetric("wsscale_balancer_stalled") == 1)
            let during = try await stack.api.topology().decisions(after: decisionsBefore)
            #expect(during.isEmpty, "no decision while the pool cannot be read: \(during.map { "\($0.kind) \($0.actions)" })")
            kill(redis, SIGCONT)
            resumed = true
            let resumedAt = clock.now
            print("fault redis SIGSTOP: /metrics stalled 1 within \(metricsStalled) of /health's 503; seconds since observation \(firstAge) then \(lastAge); "
                  + "\(during.count) decisions during the stall")
            let healthy = try await TestSupport.waitUntil("/health answers 200 again", timeout: .seconds(30), {
                await Self.health(stack) == 200
            }, describe: { stack.logTail(lines: 20) })
            #expect(try await stack.api.balancerMetric("wsscale_balancer_stalled") == 0)
            let complete = try await TestSupport.waitUntil("every session registered again", timeout: .seconds(30), {
                try await stack.api.topology().totalSessions == users.count
            }, describe: { await stack.scenario.describeState() })
            print("fault redis SIGSTOP: stopped for \(resumedAt - stoppedAt); after SIGCONT /health 200 in \(healthy), all \(users.count) sessions registered in \(complete)")
            #expect(try await stack.api.clientStatus().allConnected(users), "no user was cut")
        }
    }
}
}
