import Foundation
import NIOPosix
import Testing
@testable import WSScaleClient
import WSScaleCore
import WSScaleTestSupport

extension ClientHTTPAPITests {
    @Test("slowloris against the HTTP API (Hummingbird): 5,000 half-sent requests, /health still answers, all are closed")
    func slowlorisAgainstTheAPI() async throws {
        let server = try await TestWebSocketServer.start(hostID: "h")
        defer { Task { await server.stop() } }
        let limits = HTTPListenerLimits(requestTimeout: .seconds(2), maxConnections: 1024)
        // The attacked API on loops of its own: 5,000 sockets must not slow the tests beside this one.
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { loops.shutdownGracefully { _ in } }
        try await withSimulator(server, limits: limits, group: loops) { _, base in
            let port = base.port!
            let clock = ContinuousClock()
            let start = clock.now
            let crowd = try await SlowlorisCrowd.open(count: 5000, port: port)
            let opened = clock.now - start
            let evicted = await crowd.waitUntilClosed(atLeast: 5000 - 1024, timeout: .seconds(30))
            #expect(evicted >= 5000 - 1024, "the oldest are closed to keep 1,024 at most: closed \(evicted)")
            let healthStart = clock.now
            let health = try await RawHTTPClient.request("GET", "/health", port: port)
            let healthTime = clock.now - healthStart
            #expect(health.status == 200)
            let closed = await crowd.waitUntilClosed(atLeast: 5000, timeout: .seconds(60))
            #expect(closed == 5000, "still open: \(5000 - closed)")
            print("slowloris (client simulator API): 5,000 half requests opened in \(opened); /health answered \(health.status) in \(healthTime) during the attack; all 5,000 closed \(clock.now - start) after the first (timeout \(limits.requestTimeout), bound \(limits.maxConnections))")
        }
        await server.stop()
    }
}
