import NIOCore
import Testing
import WSScaleTestSupport
@testable import WSScaleServer

/// A client that sends and never reads must not grow the server's memory: the server stops
/// reading from it while it does not take what the server writes back (or, past a bound,
/// closes it with 1008). Without that, the server reads all 64 MiB the client sends and
/// buffers every echo; the test then sees the client's bytes all gone out, and fails.
@Suite("Backpressure: a client that sends and never reads")
struct BackpressureTests {
    /// `wsscale_reads_held_back_total`, as `GET /metrics` renders it.
    static func readsHeldBack(_ server: TestServer) -> Int {
        var bytes: [UInt8] = []
        server.server.metrics.registry.emit(into: &bytes)
        let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix("wsscale_reads_held_back_total ") }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) } ?? 0
    }

    @Test("64 MiB sent without reading: the server holds back its reads, or closes with 1008, instead of buffering")
    func floodWithoutReading() async throws {
        try await TestServer.with { server in
            let client = try await RawWebSocketClient.connect(port: server.port, path: "/api/v1/websocket/flood",
                                                              receiveBuffer: 16 * 1024)
            try await client.setReading(false)
            let message = Array(repeating: UInt8(ascii: "f"), count: 16 * 1024)
            let frame = RawFrame.text(message).bytes
            let total = 4096 * frame.count // 64 MiB: far more than the kernel buffers of both sides hold
            var batch: [UInt8] = []
            batch.reserveCapacity(64 * frame.count)
            for _ in 0..<64 { batch.append(contentsOf: frame) }
            for _ in 0..<(4096 / 64) { client.enqueue(batch) }

            // One of three things ends this: the server held back reading (pass), the server
            // closed the session (pass: its memory is freed), or every byte went out, which
            // means the server took all 64 MiB while the client read nothing (fail).
            let clock = ContinuousClock()
            let start = clock.now
            var pending = total
            let settled = await TestSupport.eventually(timeout: .seconds(60)) {
                pending = (try? await client.pendingBytes()) ?? 0
                return Self.readsHeldBack(server) > 0 || server.server.liveSessionCount == 0 || pending == 0
            }
            #expect(settled)
            let heldBack = Self.readsHeldBack(server)
            let closed = server.server.liveSessionCount == 0
            print("backpressure: after \(clock.now - start), held back \(heldBack) time(s), closed \(closed), \(pending) of \(total) bytes still at the client")
            #expect(heldBack > 0 || closed, "the server read everything the client sent: \(total - pending) bytes")
            if !closed, let channel = server.server.sessionChannels.first {
                // What the server keeps for this client is bounded...
                let buffered = try await channel.getOption(.bufferedWritableBytes).get()
                let bound = ServerConfiguration.defaultMaxMessageBytes + WebSocketSessionHandler.pendingOutboundSlack
                #expect(buffered <= bound, "server-side pending outbound bytes: \(buffered)")
                // ...and it took no more than the kernel's buffers hold of the client's 64 MiB.
                #expect(pending > total / 2, "the server took \(total - pending) bytes")
            }
            await client.close()
        }
    }
}
