import Foundation
import NIOPosix
import Testing
import WSScaleCore
import WSScaleServer
import WSScaleTestSupport

/// Slow clients against the server's port (slowloris): half-sent requests are closed after
/// `HTTP_REQUEST_TIMEOUT_SECONDS`, at most `MAX_HTTP_CONNECTIONS` of them are held (a new one
/// closes the oldest), and meanwhile `/health` answers and WebSocket sessions open and work.
extension HeavyLoadTests {
@Suite("slowloris against the server's port")
struct SlowlorisTests {
    @Test("5,000 half-sent requests: /health still answers, an upgrade still works, all 5,000 are closed; the session stays")
    func fiveThousandHalfRequests() async throws {
        let limits = HTTPListenerLimits(requestTimeout: .seconds(2), maxConnections: 1024)
        // The attacked server on loops of its own: 5,000 sockets must not slow the tests beside this one.
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { loops.shutdownGracefully { _ in } }
        try await SlowlorisCrowd.oneCrowdAtATime {
            try await TestServer.with(maxConnections: 10, httpLimits: limits, eventLoopGroup: loops) { server in
                let clock = ContinuousClock()
                let start = clock.now
                let crowd = try await SlowlorisCrowd.open(count: 5000, port: server.port)
                let opened = clock.now - start
                // The oldest are closed to keep 1,024 at most (and the first ones may already have timed out).
                let evicted = await crowd.waitUntilClosed(atLeast: 5000 - 1024, timeout: .seconds(30))
                #expect(evicted >= 5000 - 1024, "closed so far: \(evicted)")

                let healthStart = clock.now
                let health = try await RawHTTPClient.request("GET", "/health", port: server.port)
                let healthTime = clock.now - healthStart
                #expect(health.status == 200)
                let session = try await server.connect("during-the-attack")
                try await session.send(text: "still here")
                #expect(await session.nextMessage() == .text("still here"))

                let closed = await crowd.waitUntilClosed(atLeast: 5000, timeout: .seconds(60))
                #expect(closed == 5000, "still open: \(5000 - closed)")
                let closedAfter = clock.now - start
                // The session is past its upgrade: the HTTP deadline no longer applies to it.
                try await session.send(text: "after the deadline")
                #expect(await session.nextMessage() == .text("after the deadline"))
                print("slowloris (server): 5,000 half requests opened in \(opened); /health answered \(health.status) in \(healthTime) during the attack; all 5,000 closed \(closedAfter) after the first (timeout \(limits.requestTimeout), bound \(limits.maxConnections))")
                try await session.close()
            }
        }
    }

    @Test("a header trickled a byte at a time is closed at the request timeout, not kept alive by its bytes")
    func trickledHeaderIsClosed() async throws {
        let limits = HTTPListenerLimits(requestTimeout: .seconds(1), maxConnections: 1024)
        try await TestServer.with(httpLimits: limits) { server in
            let crowd = try await SlowlorisCrowd.open(count: 1, port: server.port)
            let clock = ContinuousClock()
            let start = clock.now
            while crowd.closedByListener() == 0, clock.now - start < .seconds(30) {
                crowd.trickle()
                try await Task.sleep(for: .milliseconds(100))
            }
            let lasted = clock.now - start
            #expect(crowd.closedByListener() == 1)
            #expect(lasted >= .milliseconds(900), "closed after \(lasted), before its timeout")
            print("slowloris (server): a trickled header was closed after \(lasted) (timeout 1 s)")
        }
    }
}
}
