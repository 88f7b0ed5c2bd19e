import WSScaleTestSupport
import NIOCore
import Testing
import WSScaleCore
@testable import WSScaleServer

/// Half-open and silent sessions: the server pings a session that sent nothing for
/// `PING_INTERVAL_SECONDS`, and closes (1001, out of the registry at once) one it has not
/// heard from, not even a pong, for `IDLE_TIMEOUT_SECONDS`. A client that answers pings stays.
@Suite("Pings and the idle timeout")
struct IdleSessionTests {
    @Test("a client that answers nothing is pinged, then closed with 1001 and leaves the registry")
    func silentClientIsClosed() async throws {
        try await TestServer.with(pingInterval: .milliseconds(200), idleTimeout: .milliseconds(600)) { server in
            let client = try await server.connectRaw("silent")
            // The session lives only 600 ms: the test checks what the server counted, not a
            // state a starved test might look at too late.
            let ping = try await within(.seconds(10)) { try await client.nextFrame() }
            #expect(ping?.opcode == 0x9, "the server pings a quiet session: \(String(describing: ping))")
            // No pong: the server sends no second ping, and its next frame is its close.
            let frame = try await within(.seconds(10)) { try await client.nextFrame() }
            #expect(frame?.closeCode == 1001, "\(String(describing: frame))")
            #expect(frame.map { String(decoding: $0.payload.dropFirst(2), as: UTF8.self) } == "no answer to pings")
            #expect(server.server.liveSessionCount == 0)
            #expect(await TestSupport.eventually { server.store.records.isEmpty }, "a half-open session is not counted")
            let metrics = server.server.metrics.render()
            #expect(metrics.contains("wsscale_connections_opened_total 1"), "it was admitted (and recorded) first")
            #expect(metrics.contains(#"wsscale_connections_closed_total{reason="idle"} 1"#), "closed as idle")
        }
    }

    @Test("a client that answers each ping gets the next one an interval later, and stays")
    func answeringClientStays() async throws {
        // The server pings again only once the last ping was answered: six pings prove five
        // pongs were heard. The idle timeout is far beyond any pong's delay on a busy machine.
        try await TestServer.with(pingInterval: .milliseconds(200), idleTimeout: .seconds(60)) { server in
            let client = try await server.connectRaw("alive")
            var pings = 0
            while pings < 6 {
                let frame = try await within(.seconds(10)) { try await client.nextFrame() }
                guard frame?.opcode == 0x9 else {
                    Issue.record("expected a ping, got \(String(describing: frame))")
                    return
                }
                pings += 1
                try await client.send([.pong(String(decoding: frame?.payload ?? [], as: UTF8.self))])
            }
            #expect(server.server.liveSessionCount == 1)
            #expect(server.store.records.count == 1)
            try await client.send([.close(1000)])
        }
    }

    /// A table of sessions opened at 0, in this order, named by their ids.
    static func table(_ ids: [String]) -> SessionTable<Int> {
        var table = SessionTable<Int>()
        for (index, id) in ids.enumerated() {
            table.insert(SessionEntry(sessionId: id, userId: "u-\(id)", connectedAt: 0, connection: index))
        }
        return table
    }

    @Test("the sweep walks only the idle end, pings once per interval, and expires by the last frame heard")
    func sweepRules() throws {
        var table = Self.table(["q", "p"])
        let ponging = try #require(table.entry(sessionId: "p"))
        // A late first sweep, past the idle timeout: it pings, it does not close.
        var swept = table.sweepIdle(now: 2500, pingIntervalMs: 300, idleTimeoutMs: 2000)
        #expect(swept.ping.map(\.sessionId) == ["q", "p"] && swept.expired.isEmpty)
        swept = table.sweepIdle(now: 3000, pingIntervalMs: 300, idleTimeoutMs: 2000)
        #expect(swept.ping.isEmpty && swept.expired.isEmpty, "a ping unanswered: no second one, and not closed before 1.7 s")
        table.heard(ponging, at: 3700)
        swept = table.sweepIdle(now: 4300, pingIntervalMs: 300, idleTimeoutMs: 2000)
        #expect(swept.expired.map(\.sessionId) == ["q"], "pinged 1.8 s ago, no answer: expired; the ponging one is alive")
        #expect(swept.ping.map(\.sessionId) == ["p"], "pinged again after its pong, one interval on")
        #expect(ponging.lastActive == 0, "a pong is not activity: the idle order stays")
    }

    @Test("a session with a message within the ping interval is not pinged")
    func busyNotWalked() throws {
        var table = Self.table(["q", "b"])
        table.touch(try #require(table.entry(sessionId: "b")), at: 900)
        let swept = table.sweepIdle(now: 1000, pingIntervalMs: 300, idleTimeoutMs: 2000)
        #expect(swept.ping.map(\.sessionId) == ["q"] && swept.expired.isEmpty)
    }
}
