import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing
@testable import WSScaleClient

/// A user's connection keeps its liveness on the event loop's clock (`WebSocketUserHandler`
/// with `ConnectionLiveness`): here an embedded loop whose time the test moves, so every rule
/// is checked at exact instants. Ping interval 30 s, silence timeout 75 s, checks every 7.5 s.
@Suite("A user's connection: pinging a silent server, giving up on one that never answers")
struct ConnectionLivenessTests {
    let liveness = ConnectionLiveness(pingInterval: .seconds(30), silenceTimeout: .seconds(75))

    /// A channel with the handler on an embedded loop, active, and the end it reports.
    func connection() throws -> (EmbeddedEventLoop, EmbeddedChannel, EventLoopFuture<ConnectionEnd>) {
        let loop = EmbeddedEventLoop()
        let end = loop.makePromise(of: ConnectionEnd.self)
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(WebSocketUserHandler(endPromise: end, liveness: liveness))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8000)).wait()
        return (loop, channel, end.futureResult)
    }

    /// The opcodes the handler wrote since the last call.
    func written(_ channel: EmbeddedChannel) throws -> [WebSocketOpcode] {
        var opcodes: [WebSocketOpcode] = []
        while let frame = try channel.readOutbound(as: WebSocketFrame.self) { opcodes.append(frame.opcode) }
        return opcodes
    }

    @Test("silent: one ping at 30 s, nothing more before 60 s, given up at 75 s (.silent, 1006)")
    func silentServerIsGivenUp() throws {
        let (loop, channel, end) = try connection()
        loop.advanceTime(by: .milliseconds(29_999))
        #expect(try written(channel) == [], "no ping before 30 s of silence")
        loop.advanceTime(by: .milliseconds(7_501))
        #expect(try written(channel) == [.ping])
        loop.advanceTime(by: .seconds(22))
        #expect(try written(channel) == [], "one ping per interval")
        #expect(channel.isActive)
        loop.advanceTime(by: .seconds(16))
        #expect(!channel.isActive, "closed once silent for 75 s")
        #expect(try end.wait() == .silent(.seconds(75)))
    }

    @Test("a server that answers each ping is kept, however long it has nothing else to say")
    func answeringServerIsKept() throws {
        let (loop, channel, end) = try connection()
        for _ in 0..<10 {
            loop.advanceTime(by: .milliseconds(37_500))
            #expect(try written(channel) == [.ping])
            try channel.writeInbound(WebSocketFrame(fin: true, opcode: .pong, data: ByteBuffer()))
        }
        #expect(channel.isActive, "375 s with a pong to every ping: still open")
        // Anything the server sends counts: a text message resets the silence too.
        loop.advanceTime(by: .seconds(20))
        try channel.writeInbound(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: "hi")))
        loop.advanceTime(by: .seconds(20))
        #expect(try written(channel) == [], "20 s after the message: no ping yet")
        _ = try? channel.close().wait()
        #expect(try end.wait() == .abnormal)
    }
}
