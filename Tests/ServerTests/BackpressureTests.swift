import NIOCore
import Testing
@testable import WSScaleServer

@Suite("Backpressure: a client that sends and never reads")
struct BackpressureTests {
    @Test("the server stops reading while the client does not read, so its pending bytes stay bounded; all is echoed once the client reads")
    func floodWithoutReading() async throws {
        try await TestServer.with { server in
            let client = try await RawWebSocketClient.connect(port: server.port, path: "/api/v1/websocket/flood",
                                                              receiveBuffer: 16 * 1024)
            try await client.setReading(false)
            // 32 MiB of 16 KiB text messages: far more than the kernel buffers of both sides hold.
            let message = Array(repeating: UInt8(ascii: "f"), count: 16 * 1024)
            let frame = RawFrame.text(message).bytes
            let count = 2048
            for _ in 0..<(count / 64) { client.enqueue(Array([[UInt8]](repeating: frame, count: 64).joined())) }

            // Both directions are stuck: the client does not read, and the server stopped taking
            // the client's bytes (else the client's writes would all have gone out).
            let channel = try #require(await eventually { server.server.sessionChannels.first != nil }
                                       ? server.server.sessionChannels.first : nil)
            #expect(await eventually { !channel.isWritable && !client.isWritable })
            let bound = ServerConfiguration.defaultMaxMessageBytes + WebSocketSessionHandler.pendingOutboundSlack
            for _ in 0..<20 {
                let pending = try await channel.getOption(.bufferedWritableBytes).get()
                #expect(pending <= bound, "server-side pending outbound bytes")
                #expect(!client.isWritable, "the server must not take more of the client's bytes")
                await Task.yield()
            }
            #expect(channel.isActive)

            // Once the client reads, everything flows again and every message comes back.
            try await client.setReading(true)
            var echoed = 0
            while echoed < count {
                let frame = try await within(.seconds(30)) { try await client.nextFrame() }
                guard frame?.payload == message else {
                    Issue.record("echo \(echoed): \(String(describing: frame))")
                    return
                }
                echoed += 1
            }
            try await client.send([.close(1000)])
            #expect(try await within { try await client.nextFrame() }?.closeCode == 1000)
        }
    }
}
