import Foundation
import NIOCore
import NIOPosix
import WSScaleCore

/// The tests' one HTTP/1.1 client for loopback servers: one request per connection
/// (`Connection: close`), written as raw bytes, the whole answer read until the server closes;
/// and the first half of a WebSocket exchange (an upgrade request, the channel back on 101).
///
/// Raw on purpose: tests can send what a library would refuse to (bad paths, odd headers), and
/// the test support depends on nothing it could be testing.
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

    /// No connection, or no (whole) answer within the time allowed, or not the answer asked for.
    public struct Failure: Error, CustomStringConvertible {
        /// Why.
        public var description: String
    }

    /// Sends one request to `host:port` and returns the answer.
    ///
    /// Without a timeout it waits as long as the server takes (a test's time limit ends a hang).
    /// A timeout checks that the server answers at all, not how fast: a test process starting
    /// with every suite at once on two cores can take seconds to run its own side of an
    /// exchange. Tests that check that nothing answers pass a short one.
    /// - Parameters:
    ///   - method: e.g. `GET`.
    ///   - path: the request target.
    ///   - host: the server's address (127.0.0.1 unless said).
    ///   - port: the server's port.
    ///   - headers: extra header lines.
    ///   - body: the request body, if any.
    ///   - timeout: time allowed for the connect and the whole answer.
    /// - Throws: ``Failure`` when the connect or the answer does not come within `timeout`;
    ///   ``MalformedResponse``; the connect's error.
    public static func request(_ method: String, _ path: String, host: String = "127.0.0.1", port: Int,
                               headers: [(String, String)] = [], body: String? = nil, timeout: Duration? = nil,
                               group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> Response {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + (body ?? "")
        let answer = try await exchange(host: host, port: port, send: text, until: nil, timeout: timeout, group: group)
        try? await answer.channel.close()
        return try parse(answer.text)
    }

    /// Sends `GET path` to `endpoint` and returns the status code.
    /// - Throws: ``Failure`` when the server does not answer within `timeout`.
    public static func status(_ endpoint: Endpoint, path: String = "/health", timeout: Duration = .seconds(30)) async throws -> Int {
        try await request("GET", path, host: endpoint.host, port: endpoint.port, timeout: timeout).status
    }

    /// Opens a connection, sends a WebSocket upgrade request for `path` and returns the open
    /// channel once the `101` head arrived. The caller closes it.
    /// - Throws: ``Failure`` when the answer is not 101 within `timeout`.
    public static func openUpgradedConnection(_ endpoint: Endpoint, path: String = "/ws",
                                              timeout: Duration = .seconds(2)) async throws -> any Channel {
        let request = "GET \(path) HTTP/1.1\r\nHost: \(endpoint)\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        let answer = try await exchange(host: endpoint.host, port: endpoint.port, send: request, until: "\r\n\r\n",
                                        timeout: timeout, group: MultiThreadedEventLoopGroup.singleton)
        guard answer.text.hasPrefix("HTTP/1.1 101") else {
            try? await answer.channel.close()
            throw Failure(description: "expected 101 from \(endpoint), got \(answer.text.prefix(80))")
        }
        return answer.channel
    }

    /// Connects, sends `text`, and collects the answer until `marker` arrives (or until the
    /// server closes, without one). The channel is returned open.
    private static func exchange(host: String, port: Int, send text: String, until marker: String?, timeout: Duration?,
                                 group: EventLoopGroup) async throws -> (text: String, channel: any Channel) {
        let loop = group.next()
        let answer = loop.makePromise(of: String.self)
        let timer = timeout.map { timeout in
            loop.scheduleTask(in: TimeAmount(timeout)) {
                answer.fail(Failure(description: "no answer from \(host):\(port) within \(timeout)"))
            }
        }
        defer { timer?.cancel() }
        var bootstrap = ClientBootstrap(group: loop)
        if let timeout { bootstrap = bootstrap.connectTimeout(TimeAmount(timeout)) }
        let channel: any Channel
        do {
            channel = try await bootstrap
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(TextCollector(answer: answer, completeAt: marker))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            answer.fail(error)
            throw Failure(description: "cannot connect to \(host):\(port): \(error)")
        }
        channel.writeAndFlush(channel.allocator.buffer(string: text), promise: nil)
        do {
            return (try await answer.futureResult.get(), channel)
        } catch {
            try? await channel.close()
            throw error
        }
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

/// Collects text until a marker arrives (or until the connection closes when there is none).
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
