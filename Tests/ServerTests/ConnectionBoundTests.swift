import Logging
import NIOCore
import NIOEmbedded
import Testing
import WSScaleListeners

/// `ConnectionBound`: the oldest connection on the books makes room for a new one; a handler
/// removed (as after an upgrade) takes its connection off the books without closing it.
@Suite("ConnectionBound")
struct ConnectionBoundTests {
    func connected() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    @Test("over the bound, the oldest connection is closed; a removed handler frees its place and keeps its connection")
    func oldestMakesRoom() throws {
        let bound = ConnectionBound(maximum: 2, listener: "test", logger: Logger(label: "test"))
        let first = try connected(), second = try connected(), third = try connected()
        let upgraded = ConnectionBoundHandler(bound: bound)
        try first.pipeline.syncOperations.addHandler(ConnectionBoundHandler(bound: bound))
        try second.pipeline.syncOperations.addHandler(upgraded)
        #expect(bound.count == 2)

        try third.pipeline.syncOperations.addHandler(ConnectionBoundHandler(bound: bound))
        #expect(!first.isActive, "the oldest was not closed")
        #expect(second.isActive && third.isActive)
        #expect(bound.count == 2)
        #expect(bound.evictions == 1)

        try second.pipeline.syncOperations.removeHandler(upgraded).wait()
        #expect(bound.count == 1)
        let fourth = try connected()
        try fourth.pipeline.syncOperations.addHandler(ConnectionBoundHandler(bound: bound))
        #expect(second.isActive && third.isActive && fourth.isActive, "a place freed by removal was not used")
        #expect(bound.evictions == 1)
        for channel in [second, third, fourth] { _ = try? channel.finish() }
    }
}
