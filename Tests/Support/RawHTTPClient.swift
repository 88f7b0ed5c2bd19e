import Foundation
import NIOCore
import NIOPosix

/// A minimal HTTP/1.1 client for tests: one request per connection (`Connection: close`),
/// written as raw bytes to 127.0.0.1, the whole answer read until the server closes.
///
/// Raw on purpose: tests can send what a library would refuse to (bad paths, odd headers).
public enum RawHTTPClient {
    /// A parsed answer.
    public struct Response: Sendable {
        /// The status code.
        public var status: Int
        /// Header fields in order, names as sent.
        public var headers: [(name: String, value: String)]
        /// The body as text.
        public var body: String

        /// The first value of a header, by case-insensitive name.
        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// The answer could not be parsed.
    public struct MalformedResponse: Error, CustomStringConvertible {
        /// What was received.
        public var text: String
        public var description: String { "malformed HTTP response: \(text.prefix(200))" }
    }

    /// Sends one request to `127.0.0.1:port` and returns the answer.
    /// - Parameters:
    ///   - method: e.g. `GET`.
    ///   - path: the request target.
    ///   - port: the server's port on 127.0.0.1.
    ///   - headers: extra header lines.
    ///   - body: the request body, if any.
    public static func request(_ method: String, _ path: String, port: Int, headers: [(String, String)] = [],
                               body: String? = nil,
                               group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> Response {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + (body ?? "")
        let received = group.any().makePromise(of: ByteBuffer.self)
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.pipeline.addHandler(ReadToEnd(received: received))
                }
                .connect(host: "127.0.0.1", port: port).get()
        } catch {
            received.fail(error)
            throw error
        }
        try await channel.writeAndFlush(channel.allocator.buffer(string: text))
        var bytes = try await received.futureResult.get()
        return try parse(bytes.readString(length: bytes.readableBytes) ?? "")
    }

    /// Parses a response with a `Content-Length` (or read to the end).
    static func parse(_ text: String) throws -> Response {
        guard let split = text.range(of: "\r\n\r\n") else { throw MalformedResponse(text: text) }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw MalformedResponse(text: text) }
        let headers = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return Response(status: status, headers: headers, body: String(text[split.upperBound...]))
    }
}

/// Collects every byte until the connection closes.
private final class ReadToEnd: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private let received: EventLoopPromise<ByteBuffer>
    private var buffer = ByteBuffer()

    init(received: EventLoopPromise<ByteBuffer>) {
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        buffer.writeBuffer(&chunk)
    }

    func channelInactive(context: ChannelHandlerContext) {
        received.succeed(buffer)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        received.fail(error)
        context.close(promise: nil)
    }
}
