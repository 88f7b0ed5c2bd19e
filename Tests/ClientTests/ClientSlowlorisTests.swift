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
            let figures = try await SlowlorisCrowd.attack(port: base.port!, limits: limits)
            #expect(figures.evicted >= 5000 - 1024, "the oldest are closed to keep 1,024 at most: closed \(figures.evicted)")
            #expect(figures.healthStatus == 200)
            #expect(figures.closed == 5000, "still open: \(5000 - figures.closed)")
            print("slowloris (client simulator API): \(figures)")
        }
        await server.stop()
    }
}
