import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Slow clients for the listener-bound tests (slowloris): plain sockets that connect to
/// 127.0.0.1 and send half a request, then nothing. Whether the listener has closed each one
/// is checked without blocking.
public final class SlowlorisCrowd: @unchecked Sendable {
    /// The half request each socket sends: a request line and one header, never the blank line.
    public static let halfRequest = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"

    private var sockets: [Int32]
    private var closed: Set<Int32> = []

    /// Opens `count` sockets to `127.0.0.1:port`, each sending ``halfRequest``, on a thread of
    /// its own: thousands of blocking connects must not hold one of the few threads that the
    /// tests running beside this one share.
    public static func open(count: Int, port: Int) async throws -> SlowlorisCrowd {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try SlowlorisCrowd(count: count, port: port) })
            }
        }
    }

    /// Opens `count` sockets to `127.0.0.1:port`, each sending ``halfRequest`` (blocking: see ``open(count:port:)``).
    public init(count: Int, port: Int) throws {
        sockets = []
        sockets.reserveCapacity(count)
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw SlowlorisError("socket: errno \(errno)") }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            guard connected else { throw SlowlorisError("connect: errno \(errno) after \(sockets.count - 1) sockets") }
            _ = Self.halfRequest.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        }
    }

    deinit { closeAll() }

    /// Sockets opened.
    public var count: Int { sockets.count }

    /// Sockets the listener has closed so far (end of stream or reset), looked at without waiting.
    public func closedByListener() -> Int {
        closedByListener(waitingMilliseconds: 0)
    }

    private func closedByListener(waitingMilliseconds: Int32) -> Int {
        var polls = sockets.filter { !closed.contains($0) }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        guard !polls.isEmpty else { return closed.count }
        _ = poll(&polls, nfds_t(polls.count), waitingMilliseconds)
        var byte: UInt8 = 0
        for entry in polls where entry.revents != 0 {
            let read = recv(entry.fd, &byte, 1, Int32(MSG_DONTWAIT))
            if read == 0 || (read < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { closed.insert(entry.fd) }
        }
        return closed.count
    }

    /// Waits, on a thread of its own (blocking in `poll`, not spinning on the threads the
    /// async tests share), until the listener has closed at least `count` sockets or
    /// `timeout` passes.
    /// - Returns: how many it has closed by then.
    public func waitUntilClosed(atLeast count: Int, timeout: Duration) async -> Int {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { [self] in
                let clock = ContinuousClock()
                let deadline = clock.now + timeout
                var seen = closedByListener(waitingMilliseconds: 0)
                while seen < count, clock.now < deadline {
                    seen = closedByListener(waitingMilliseconds: 100)
                }
                continuation.resume(returning: seen)
            }
        }
    }

    /// Sends one more byte of header on every socket still open (a trickle).
    public func trickle() {
        for fd in sockets where !closed.contains(fd) {
            _ = "x".withCString { send(fd, $0, 1, Int32(MSG_NOSIGNAL)) }
        }
    }

    /// Closes every socket.
    public func closeAll() {
        sockets.forEach { close($0) }
        sockets = []
    }
}

/// A slow client could not be opened.
public struct SlowlorisError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
