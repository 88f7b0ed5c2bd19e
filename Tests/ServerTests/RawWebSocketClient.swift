import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A WebSocket client for protocol tests that writes raw bytes: the upgrade request by hand,
/// then frames built byte by byte (`RawFrame`), right or wrong, and reads the server's frames
/// from the raw stream. It never answers anything by itself, so the tests see exactly what
/// the server does, and whether it closes the TCP connection.
final class RawWebSocketClient: @unchecked Sendable {
    /// A frame the server sent.
    struct ServerFrame: Equatable, CustomStringConvertible {
        var fin: Bool
        var opcode: UInt8
        var payload: [UInt8]

        /// The close code of a close frame (nil without one).
        var closeCode: UInt16? {
            guard opcode == 0x8, payload.count >= 2 else { return nil }
            return UInt16(payload[0]) << 8 | UInt16(payload[1])
        }

        var description: String {
            switch opcode {
            case 0x8: return "close(\(closeCode.map(String.init) ?? "none"), \"\(String(decoding: payload.dropFirst(2), as: UTF8.self))\")"
            default: return "frame(fin: \(fin), opcode: \(opcode), \(payload.count) bytes)"
            }
        }
    }

    /// The server did not answer the upgrade with 101, or sent something that is not a frame.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let channel: Channel
    private let chunks: AsyncStream<ByteBuffer>
    private var iterator: AsyncStream<ByteBuffer>.Iterator
    private var pending: [UInt8] = []
    private var ended = false

    /// The server's answer to the upgrade (status line and headers).
    private(set) var upgradeHead = ""

    private init(channel: Channel, chunks: AsyncStream<ByteBuffer>) {
        self.channel = channel
        self.chunks = chunks
        self.iterator = chunks.makeAsyncIterator()
    }

    /// Connects to 127.0.0.1:`port` and upgrades on `path`; returns once the 101 is read.
    /// - Parameter receiveBuffer: SO_RCVBUF of the client's socket (small: the kernel holds
    ///   less of what the server sends before the server sees the client is not reading).
    ///   - headers: more request header lines (`Name: value`).
    static func connect(port: Int, path: String, receiveBuffer: Int32? = nil, headers: [String] = [],
                        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> RawWebSocketClient {
        let (chunks, continuation) = AsyncStream<ByteBuffer>.makeStream()
        var bootstrap = ClientBootstrap(group: group).channelOption(.tcpOption(.tcp_nodelay), value: 1)
        if let receiveBuffer { bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer)) }
        let channel = try await bootstrap
            .channelInitializer { channel in
                channel.pipeline.addHandler(ByteCollector(chunks: continuation))
            }
            .connect(host: "127.0.0.1", port: port).get()
        let client = RawWebSocketClient(channel: channel, chunks: chunks)
        try await client.send(Array("""
            GET \(path) HTTP/1.1\r
            Host: 127.0.0.1:\(port)\r
            Upgrade: websocket\r
            Connection: Upgrade\r
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
            Sec-WebSocket-Version: 13\r
            \(headers.map { $0 + "\r\n" }.joined())\r

            """.utf8))
        let head = try await client.readHead()
        client.upgradeHead = head
        guard head.hasPrefix("HTTP/1.1 101") else {
            throw Failure(description: "upgrade answered \(head.prefix(40))")
        }
        return client
    }

    /// Writes raw bytes.
    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes))
    }

    /// Writes frames, all in one write.
    func send(_ frames: [RawFrame]) async throws {
        try await send(frames.flatMap(\.bytes))
    }

    /// Queues bytes without waiting for them to go out (a client that writes faster than the
    /// server may take them).
    func enqueue(_ bytes: [UInt8]) {
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
    }

    /// Queues a buffer without waiting (the same buffer may be queued again and again: its
    /// storage is shared, so a flood costs the client no more memory than what is pending).
    func enqueue(_ buffer: ByteBuffer) {
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Whether the connection is still open (a peer that closed it fails our next write).
    var isActive: Bool { channel.isActive }

    /// Stops (false) or resumes (true) reading from the socket.
    func setReading(_ reading: Bool) async throws {
        try await channel.setOption(.autoRead, value: reading)
        if reading { channel.read() }
    }

    /// Whether our own writes still go out (false: the server is not taking our bytes).
    var isWritable: Bool { channel.isWritable }

    /// Bytes queued by `enqueue` that have not gone out to the kernel yet.
    func pendingBytes() async throws -> Int {
        try await channel.getOption(.bufferedWritableBytes).get()
    }

    /// The server's next frame, or nil when the connection ended first.
    func nextFrame() async throws -> ServerFrame? {
        while true {
            if let frame = try parseFrame() { return frame }
            guard try await readMore() else {
                if pending.isEmpty { return nil }
                throw Failure(description: "connection ended inside a frame (\(pending.count) bytes)")
            }
        }
    }

    /// Reads until the server ends the connection; throws if it sends another frame first.
    func readUntilEnd() async throws {
        if let frame = try await nextFrame() {
            throw Failure(description: "expected the end of the connection, got \(frame)")
        }
    }

    /// Closes our side.
    func close() async {
        try? await channel.close()
    }

    private func readMore() async throws -> Bool {
        guard !ended, let chunk = await iterator.next() else {
            ended = true
            return false
        }
        pending.append(contentsOf: chunk.readableBytesView)
        return true
    }

    private func readHead() async throws -> String {
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            if let range = pending.firstRange(of: end) {
                let head = String(decoding: pending[..<range.upperBound], as: UTF8.self)
                pending.removeSubrange(..<range.upperBound)
                return head
            }
            guard try await readMore() else { throw Failure(description: "connection ended before the 101") }
        }
    }

    /// A whole server frame from `pending`, if there is one.
    private func parseFrame() throws -> ServerFrame? {
        guard pending.count >= 2 else { return nil }
        if pending[1] & 0x80 != 0 { throw Failure(description: "the server sent a masked frame") }
        var length = Int(pending[1] & 0x7F)
        var offset = 2
        if length == 126 {
            guard pending.count >= 4 else { return nil }
            length = Int(pending[2]) << 8 | Int(pending[3])
            offset = 4
        } else if length == 127 {
            guard pending.count >= 10 else { return nil }
            length = pending[2..<10].reduce(0) { $0 << 8 | Int($1) }
            offset = 10
        }
        guard pending.count >= offset + length else { return nil }
        let frame = ServerFrame(fin: pending[0] & 0x80 != 0, opcode: pending[0] & 0x0F,
                                payload: Array(pending[offset..<offset + length]))
        pending.removeSubrange(..<(offset + length))
        return frame
    }
}

/// A client frame built byte by byte: any opcode, reserved bits, masked or not, and the
/// payload length in the 7-, 16- or 64-bit form.
struct RawFrame: Sendable, CustomStringConvertible {
    /// How the payload length is written.
    enum LengthForm: Sendable {
        /// The shortest form (RFC 6455 5.2).
        case shortest
        /// Always the 16-bit form (126 + 2 bytes).
        case sixteenBit
        /// Always the 64-bit form (127 + 8 bytes).
        case sixtyFourBit
    }

    var fin = true
    /// RSV1–3 as the bits 0x40, 0x20, 0x10 of the first byte.
    var reserved: UInt8 = 0
    var opcode: UInt8
    var payload: [UInt8]
    var masked = true
    var lengthForm = LengthForm.shortest

    static func text(_ bytes: [UInt8], fin: Bool = true) -> RawFrame { RawFrame(fin: fin, opcode: 0x1, payload: bytes) }
    static func text(_ string: String, fin: Bool = true) -> RawFrame { text(Array(string.utf8), fin: fin) }
    static func binary(_ bytes: [UInt8], fin: Bool = true) -> RawFrame { RawFrame(fin: fin, opcode: 0x2, payload: bytes) }
    static func continuation(_ bytes: [UInt8], fin: Bool = true) -> RawFrame {
        RawFrame(fin: fin, opcode: 0x0, payload: bytes)
    }
    static func continuation(_ string: String, fin: Bool = true) -> RawFrame { continuation(Array(string.utf8), fin: fin) }
    static func ping(_ string: String) -> RawFrame { RawFrame(opcode: 0x9, payload: Array(string.utf8)) }
    static func pong(_ string: String) -> RawFrame { RawFrame(opcode: 0xA, payload: Array(string.utf8)) }
    /// A close frame with this code and reason (reason bytes as given, valid UTF-8 or not).
    static func close(_ code: UInt16, reason: [UInt8] = []) -> RawFrame {
        RawFrame(opcode: 0x8, payload: [UInt8(code >> 8), UInt8(code & 0xFF)] + reason)
    }

    /// The bytes on the wire, masked with a fixed key when `masked`.
    var bytes: [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | (reserved & 0x70) | (opcode & 0x0F)]
        let maskBit: UInt8 = masked ? 0x80 : 0
        let count = payload.count
        switch lengthForm {
        case .shortest where count < 126:
            out.append(maskBit | UInt8(count))
        case .shortest where count <= 0xFFFF, .sixteenBit:
            out.append(maskBit | 126)
            out += [UInt8(count >> 8 & 0xFF), UInt8(count & 0xFF)]
        default:
            out.append(maskBit | 127)
            out += (0..<8).reversed().map { UInt8(UInt64(count) >> (8 * UInt64($0)) & 0xFF) }
        }
        guard masked else { return out + payload }
        let key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        out += key
        out += payload.enumerated().map { $0.element ^ key[$0.offset & 3] }
        return out
    }

    var description: String {
        "\(fin ? "" : "non-final ")opcode \(opcode)\(reserved != 0 ? " rsv \(reserved >> 4)" : "")"
            + "\(masked ? "" : " unmasked") \(payload.count) B"
    }
}

/// Hands every received chunk to an `AsyncStream`, finished when the connection ends.
private final class ByteCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private let chunks: AsyncStream<ByteBuffer>.Continuation

    init(chunks: AsyncStream<ByteBuffer>.Continuation) {
        self.chunks = chunks
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        chunks.yield(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        chunks.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A reset ends the connection like an EOF (channelInactive follows).
        context.close(promise: nil)
    }
}
