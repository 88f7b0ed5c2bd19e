#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds TCP ports on 127.0.0.1 that nothing listens on right now.
public enum LoopbackPort {
    /// Asks the kernel for a free port by binding port 0 on 127.0.0.1, then releases it.
    ///
    /// Another process may take the port before the caller binds it; callers that start a
    /// server on it must cope with that (the server fails to start and is retried).
    /// - Parameter excluding: ports the caller has already handed out and must not get again.
    /// - Returns: a port number, or `nil` when no socket could be bound.
    public static func free(excluding: Set<Int> = []) -> Int? {
        for _ in 0..<20 {
            guard let port = bindAndRelease(), !excluding.contains(port) else { continue }
            return port
        }
        return nil
    }

    private static func bindAndRelease() -> Int? {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) }
        }
        guard bound == 0 else { return nil }
        var length = size
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return nil }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
