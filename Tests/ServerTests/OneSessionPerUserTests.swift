import WSScaleTestSupport
import Foundation
import NIOPosix
import Testing
import WSScaleServer

/// One live session per user id on a server: the newest wins, the older one is closed with
/// 4002 "replaced by a newer session" and leaves the registry at once.
extension HeavyLoadTests {
@Suite("one session per user per server")
struct OneSessionPerUserTests {
    @Test("a second session of the same user replaces the first (4002); the registry lists one")
    func theNewestWins() async throws {
        try await TestServer.with { server in
            let first = try await server.connect("alice")
            #expect(await TestSupport.eventually { server.store.records.count == 1 })
            let second = try await server.connect("alice")
            let close = try await within { await first.closeFrame() }
            #expect(close?.code == 4002)
            #expect(close?.reason == "replaced by a newer session")
            await first.waitUntilClosed()
            #expect(server.server.liveSessionCount == 1)
            #expect(server.store.records.map(\.userId) == ["alice"])
            #expect(server.server.metrics.render().contains(#"wsscale_connections_closed_total{reason="replaced"} 1"#))
            try await second.send(text: "the newer one works")
            #expect(try await within { await second.nextMessage() } == .text("the newer one works"))
            try await second.close()
        }
    }

    @Test("1,000 sessions of one user id hold one place, and do not use up MAX_CONNECTIONS_PER_HOST")
    func aThousandSessionsOfOneUser() async throws {
        // Server and clients on a loop of their own: a thousand upgrades and closes in a row.
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { loop.shutdownGracefully { _ in } }
        try await TestServer.with(maxConnections: 5, eventLoopGroup: loop) { server in
            let clock = ContinuousClock()
            let start = clock.now
            var replacedCount = 0
            var previous: WebSocketTestClient?
            for _ in 0..<1000 {
                let next = try await WebSocketTestClient.connect(port: server.port, path: "/api/v1/websocket/mallory", group: loop)
                if let previous {
                    let close = try await within { await previous.closeFrame() }
                    if close?.code == 4002 { replacedCount += 1 }
                }
                previous = next
            }
            let elapsed = clock.now - start
            #expect(replacedCount == 999)
            #expect(server.server.liveSessionCount == 1)
            #expect(server.store.records.map(\.userId) == ["mallory"])
            // The places of other users are untouched: four more fit under the limit of 5.
            var others: [WebSocketTestClient] = []
            for index in 0..<4 { others.append(try await server.connect("user\(index)")) }
            let fourth = others[3]
            try await fourth.send(text: "in")
            #expect(try await within { await fourth.nextMessage() } == .text("in"))
            #expect(server.server.liveSessionCount == 5)
            print("one user id opened 1,000 times in \(elapsed): \(replacedCount) replaced with 4002, 1 session held")
        }
    }
}
}
