#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WSScaleTestSupport

/// A WebSocket client on one plain blocking socket, for the whole-stack tests that must speak
/// to HAProxy's traffic port themselves (the client simulator keeps one session per user id,
/// and cannot open the same id twice): the upgrade, masked text frames, the server's frames.
///
/// Every read and write gives up after `timeout` (`SO_RCVTIMEO` / `SO_SNDTIMEO`), so a server
/// that never answers fails the test instead of hanging it. Blocking: call it through
/// `RawWebSocket.offThread`, never on the cooperative pool directly for long.
final class RawWebSocket: @unchecked Sendable {
    /// A frame the server sent.
    struct Frame {
        var opcode: UInt8
        var payload: [UInt8]
        /// The close code of a close frame.
        var closeCode: Int? {
            opcode == 0x8 && payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : nil
        }
        var text: String { String(decoding: payload, as: UTF8.self) }
    }

    private let descriptor: Int32
    private var buffered: [UInt8] = []
    /// `X-WSScale-Host` of the 101 answer, when the server sent it.
    private(set) var serverHost: String?

    private init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { close(descriptor) }

    /// Runs blocking socket work on a thread of its own.
    static func offThread<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Opens `ws://127.0.0.1:port/path`; throws unless the answer is `101`.
    static func connect(port: Int, path: String, timeout: Duration = .seconds(5)) throws -> RawWebSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StackAPIError("socket(): errno \(errno)") }
        let socketClient = RawWebSocket(descriptor: fd)
        var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw StackAPIError("connect to :\(port): errno \(errno)") }
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        try socketClient.write(Array(("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\n"
                                      + "Connection: Upgrade\r\nSec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8))
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while socketClient.buffered.count < 4 || !socketClient.headEnds(with: end) {
            try socketClient.readMore()
        }
        guard let headEnd = socketClient.headEnd(end) else { throw StackAPIError("no end of the upgrade answer") }
        let head = String(decoding: socketClient.buffered[..<headEnd], as: UTF8.self)
        socketClient.buffered.removeFirst(headEnd + end.count)
        guard head.hasPrefix("HTTP/1.1 101") else { throw StackAPIError("upgrade of \(path) answered: \(head.prefix(200))") }
        socketClient.serverHost = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-wsscale-host:") }
            .map { $0.dropFirst("x-wsscale-host:".count).trimmingCharacters(in: .whitespaces) }
        return socketClient
    }

    /// Sends one masked text frame.
    func send(text: String) throws {
        let payload = Array(text.utf8)
        precondition(payload.count < 126, "short frames only")
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        var frame: [UInt8] = [0x81, 0x80 | UInt8(payload.count)] + mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try write(frame)
    }

    /// The server's next frame.
    func readFrame() throws -> Frame {
        try need(2)
        let opcode = buffered[0] & 0x0F
        var length = Int(buffered[1] & 0x7F)
        var headerSize = 2
        if length == 126 {
            try need(4)
            length = Int(buffered[2]) << 8 | Int(buffered[3])
            headerSize = 4
        } else if length == 127 {
            try need(10)
            length = (2..<10).reduce(0) { $0 << 8 | Int(buffered[$1]) }
            headerSize = 10
        }
        try need(headerSize + length)
        let payload = Array(buffered[headerSize..<(headerSize + length)])
        buffered.removeFirst(headerSize + length)
        return Frame(opcode: opcode, payload: payload)
    }

    /// Sends `text` and reads frames until a text frame comes back: whether it is `text`.
    func echoes(_ text: String) throws -> Bool {
        try send(text: text)
        while true {
            let frame = try readFrame()
            if frame.opcode == 0x1 { return frame.text == text }
            if frame.opcode == 0x8 { return false }
        }
    }

    /// Reads frames until the server's close frame: its code.
    func closeCode() throws -> Int? {
        while true {
            let frame = try readFrame()
            if frame.opcode == 0x8 { return frame.closeCode }
        }
    }

    private func need(_ count: Int) throws {
        while buffered.count < count { try readMore() }
    }

    private func headEnd(_ end: [UInt8]) -> Int? {
        guard buffered.count >= end.count else { return nil }
        return (0...(buffered.count - end.count)).first { Array(buffered[$0..<($0 + end.count)]) == end }
    }

    private func headEnds(with end: [UInt8]) -> Bool { headEnd(end) != nil }

    private func readMore() throws {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = read(descriptor, &chunk, chunk.count)
        guard count > 0 else { throw StackAPIError(count == 0 ? "the server closed the connection" : "read: errno \(errno)") }
        buffered += chunk[..<count]
    }

    private func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw StackAPIError("write: errno \(errno)") }
            sent += count
        }
    }
}
