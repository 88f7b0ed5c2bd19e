import NIOCore
import NIOPosix
import WSScaleCore

/// Plain HTTP/1.1 from tests to loopback servers, written by hand so the test support
/// depends on nothing it could be testing.
public enum LoopbackHTTP {
    /// What went wrong in a test request.
    public struct Failure: Error, CustomStringConvertible {
        /// Why.
        public var description: String
    }

    /// Sends `GET path` with `Connection: close` and returns the status code.
    ///
    /// The default timeout only ends a hang: it checks that the server answers, not how fast
    /// (speed is the benchmarks' business, and a test process starting with every suite at
    /// once on two cores can take seconds to run its own side of an exchange). Tests that
    /// check that nothing answers pass a short one.
    /// - Throws: `Failure` when the server does not answer within `timeout`.
    public static func status(_ endpoint: Endpoint, path: String = "/health",
                              timeout: Duration = .seconds(30)) async throws -> Int {
        let request = "GET \(path) HTTP/1.1\r\nHost: \(endpoint)\r\nConnection: close\r\n\r\n"
        let answer = try await exchangeUntilClose(endpoint, request: request, timeout: timeout)
        let words = answer.split(separator: " ", maxSplits: 2)
        guard words.count >= 2, words[0].hasPrefix("HTTP/"), let code = Int(words[1]) else {
            throw Failure(description: "no HTTP status line from \(endpoint): \(answer.prefix(80))")
        }
        return code
    }

    /// Opens a connection, sends a WebSocket-style upgrade request for `path` and returns the
    /// open channel once the `101` head arrived. The caller closes it.
    /// - Throws: `Failure` when the answer is not 101 within `timeout`.
    public static func openUpgradedConnection(_ endpoint: Endpoint, path: String = "/ws",
                                              timeout: Duration = .seconds(2)) async throws -> any Channel {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let head = loop.makePromise(of: String.self)
        let timer = loop.scheduleTask(in: TimeAmount(timeout)) {
            head.fail(Failure(description: "no 101 from \(endpoint) within \(timeout)"))
        }
        defer { timer.cancel() }
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(TextCollector(answer: head, completeAt: "\r\n\r\n"))
                    }
                }
                .connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            head.fail(error)
            throw error
        }
        let request = "GET \(path) HTTP/1.1\r\nHost: \(endpoint)\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        channel.writeAndFlush(channel.allocator.buffer(string: request), promise: nil)
        do {
            let text = try await head.futureResult.get()
            guard text.hasPrefix("HTTP/1.1 101") else {
                throw Failure(description: "expected 101 from \(endpoint), got \(text.prefix(80))")
            }
            return channel
        } catch {
            try? await channel.close()
            throw error
        }
    }

    private static func exchangeUntilClose(_ endpoint: Endpoint, request: String, timeout: Duration) async throws -> String {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let answer = loop.makePromise(of: String.self)
        let timer = loop.scheduleTask(in: TimeAmount(timeout)) {
            answer.fail(Failure(description: "no answer from \(endpoint) within \(timeout)"))
        }
        defer { timer.cancel() }
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(TimeAmount(timeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(TextCollector(answer: answer, completeAt: nil))
                    }
                }
                .connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            answer.fail(error)
            throw Failure(description: "cannot connect to \(endpoint): \(error)")
        }
        channel.writeAndFlush(channel.allocator.buffer(string: request), promise: nil)
        defer { channel.close(promise: nil) }
        return try await answer.futureResult.get()
    }
}

/// Collects text until a marker arrives (or the connection closes when there is none).
private final class TextCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let answer: EventLoopPromise<String>
    private let completeAt: String?
    private var text = ""

    init(answer: EventLoopPromise<String>, completeAt: String?) {
        self.answer = answer
        self.completeAt = completeAt
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        text += buffer.readString(length: buffer.readableBytes) ?? ""
        if let completeAt, text.contains(completeAt) { answer.succeed(text) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        answer.succeed(text)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        answer.fail(error)
        context.close(promise: nil)
    }
}
