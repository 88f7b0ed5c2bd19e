#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import WSScaleBackends

extension TestSupport {
    /// A TCP port on 127.0.0.1 that was free a moment ago (the product's `LoopbackPort`).
    public static func freeLoopbackPort() throws -> Int {
        guard let port = LoopbackPort.free() else { throw TestSupportError("no free port on 127.0.0.1") }
        return port
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port` and answers `request`
    /// with bytes starting with `expectedPrefix` (one blocking attempt, 1 s timeout).
    public static func loopbackAnswers(port: Int, request: String, expectedPrefix: String) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { return false }
        let bytes = Array(request.utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count else { return false }
        var reply = [UInt8](repeating: 0, count: 256)
        let count = read(descriptor, &reply, reply.count)
        guard count > 0 else { return false }
        return String(decoding: reply[..<count], as: UTF8.self).hasPrefix(expectedPrefix)
    }
}

/// A failure of a test helper, with what went wrong.
public struct TestSupportError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String

    /// Creates an error.
    public init(_ description: String) {
        self.description = description
    }
}
