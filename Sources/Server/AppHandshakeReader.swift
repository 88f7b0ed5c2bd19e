import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// The client side of the WebSocket handshake with the app, in one small handler instead of
/// NIO's HTTP client codec and upgrade machinery (an HTTP encoder, a parser, an upgrade state
/// machine and three handler removals per session): the front door opens one of these for
/// every client, so its cost is the front door's connect rate.
///
/// It writes the upgrade request once connected, reads the answer's head (at most
/// ``maxHeadBytes``), and then:
/// - **101** with the right `Sec-WebSocket-Accept` (RFC 6455 4.1): puts the frame decoder,
///   the encoder and an ``AppRelayHandler`` in its place, hands them the bytes that came
///   behind the head, and reports `.connected` with the subprotocol the app chose;
/// - **anything else**: reads the body (by `Content-Length`, or until the connection closes;
///   at most ``AppRefusal/maxBodyBytes``; a chunked body is not passed on), closes the
///   connection and reports `.refused` with the app's status, type and body;
/// - a broken answer, or a connection that ends first: `.refused` with 502.
///
/// Pure parsing lives in ``parseHead(_:)``, tested without I/O.
final class AppHandshakeReader: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// The longest answer head read before the app's answer counts as broken.
    static let maxHeadBytes = 16 * 1024

    /// The answer's head, parsed.
    struct Head: Equatable {
        /// The status code.
        var status: Int
        /// Header fields, names lowercased, in order.
        var headers: [(name: String, value: String)]

        static func == (lhs: Head, rhs: Head) -> Bool {
            lhs.status == rhs.status && lhs.headers.map(\.name) == rhs.headers.map(\.name)
                && lhs.headers.map(\.value) == rhs.headers.map(\.value)
        }

        /// The first value of a header (name lowercased).
        func first(_ name: String) -> String? {
            headers.first { $0.name == name }?.value
        }
    }

    private let request: ByteBuffer
    private let key: String
    private let maxFrameSize: Int
    private let report: (AppDialOutcome) -> Void
    private var received: ByteBuffer?
    private var refusal: (head: Head, body: ByteBuffer, length: Int?)?
    private var done = false

    /// - Parameters:
    ///   - request: the upgrade request's head, as `AppUpstreamDialer` builds it.
    ///   - maxFrameSize: the largest frame taken from the app.
    ///   - report: called once with the outcome, on the channel's event loop.
    init(request: HTTPRequestHead, maxFrameSize: Int, report: @escaping (AppDialOutcome) -> Void) {
        let key = Self.randomKey()
        var bytes = ByteBuffer()
        bytes.writeString("GET \(request.uri) HTTP/1.1\r\n")
        for (name, value) in request.headers where name.lowercased() != "content-length" {
            bytes.writeString("\(name): \(value)\r\n")
        }
        bytes.writeString("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n")
        bytes.writeString("Sec-WebSocket-Key: \(key)\r\n\r\n")
        self.request = bytes
        self.key = key
        self.maxFrameSize = maxFrameSize
        self.report = report
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if refusal != nil {
            readRefusalBody(context: context, &bytes)
            return
        }
        if received == nil { received = bytes } else { received!.writeBuffer(&bytes) }
        guard var buffer = received else { return }
        guard let end = buffer.readableBytesView.firstRange(of: Self.headEnd) else {
            if buffer.readableBytes > Self.maxHeadBytes { fail(context: context, "the app's answer head is over \(Self.maxHeadBytes) bytes") }
            return
        }
        let headLength = end.upperBound - buffer.readerIndex
        let headText = buffer.readString(length: headLength) ?? ""
        received = nil
        guard let head = Self.parseHead(headText) else {
            fail(context: context, "the app answered the upgrade with something that is not HTTP/1.1")
            return
        }
        if head.status == 101 {
            upgrade(context: context, head: head, leftover: buffer)
        } else {
            let length = head.first("content-length").flatMap { Int($0) }
            let chunked = head.first("transfer-encoding")?.lowercased().contains("chunked") == true
            refusal = (head, ByteBuffer(), chunked ? 0 : length)
            readRefusalBody(context: context, &buffer)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let refusal {
            finishRefusal(refusal)
        } else {
            finish(.refused(.unreachable("the app closed the connection without answering the upgrade")))
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, "the app's connection failed during the upgrade: \(error)")
    }

    // MARK: - The outcomes

    private func upgrade(context: ChannelHandlerContext, head: Head, leftover: ByteBuffer) {
        guard head.first("upgrade")?.lowercased() == "websocket",
              head.first("sec-websocket-accept") == Self.acceptValue(for: key) else {
            fail(context: context, "the app's 101 answer is not a WebSocket upgrade (RFC 6455 4.1: Upgrade, Sec-WebSocket-Accept)")
            return
        }
        let relay = AppRelayHandler()
        do {
            let pipeline = context.pipeline.syncOperations
            try pipeline.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxFrameSize)),
                                    position: .after(self))
            try pipeline.addHandler(WebSocketFrameEncoder(), position: .last)
            try pipeline.addHandler(relay, position: .last)
        } catch {
            fail(context: context, "cannot set up the app's WebSocket: \(error)")
            return
        }
        finish(.connected(relay, subprotocol: head.first("sec-websocket-protocol")))
        if leftover.readableBytes > 0 { context.fireChannelRead(NIOAny(leftover)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func readRefusalBody(context: ChannelHandlerContext, _ bytes: inout ByteBuffer) {
        guard var current = refusal else { return }
        let room = AppRefusal.maxBodyBytes - current.body.readableBytes
        if room > 0, current.length != 0 {
            var taken = bytes.readSlice(length: min(room, bytes.readableBytes)) ?? ByteBuffer()
            current.body.writeBuffer(&taken)
        }
        refusal = current
        let complete = current.length.map { current.body.readableBytes >= min($0, AppRefusal.maxBodyBytes) } ?? false
        if complete || current.body.readableBytes >= AppRefusal.maxBodyBytes {
            finishRefusal(current)
            context.close(promise: nil)
        }
    }

    private func finishRefusal(_ refusal: (head: Head, body: ByteBuffer, length: Int?)) {
        let body = String(decoding: refusal.body.readableBytesView, as: UTF8.self)
        finish(.refused(AppRefusal(status: HTTPResponseStatus(statusCode: refusal.head.status),
                                   contentType: refusal.head.first("content-type"), body: body)))
    }

    private func fail(context: ChannelHandlerContext, _ reason: String) {
        finish(.refused(.unreachable(reason)))
        context.close(promise: nil)
    }

    private func finish(_ outcome: AppDialOutcome) {
        guard !done else { return }
        done = true
        report(outcome)
    }

    // MARK: - Pure parts

    private static let headEnd: [UInt8] = Array("\r\n\r\n".utf8)

    /// Parses `HTTP/1.1 CODE REASON` and the header lines of an answer's head (the text up to
    /// and with the blank line); `nil` when it is not an HTTP/1.x answer.
    static func parseHead(_ text: String) -> Head? {
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: true).makeIterator()
        guard let statusLine = lines.next() else { return nil }
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0] == "HTTP/1.1" || parts[0] == "HTTP/1.0",
              parts[1].count == 3, let status = Int(parts[1]), (100...599).contains(status) else { return nil }
        var headers: [(name: String, value: String)] = []
        while let line = lines.next() {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else { return nil }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers.append((name, value))
        }
        return Head(status: status, headers: headers)
    }

    /// The `Sec-WebSocket-Accept` a server must answer to `key` (RFC 6455 4.2.2).
    static func acceptValue(for key: String) -> String {
        let digest = Insecure.SHA1.hash(data: Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))
        return base64(Array(digest))
    }

    /// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64.
    static func randomKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return base64((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 with padding.
    static func base64(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = bytes[index], b1 = index + 1 < bytes.count ? bytes[index + 1] : 0, b2 = index + 2 < bytes.count ? bytes[index + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(index + 1 < bytes.count ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(index + 2 < bytes.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
