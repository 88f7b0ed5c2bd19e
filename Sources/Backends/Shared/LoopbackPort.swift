#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// Finds TCP ports on 127.0.0.1 that nothing listens on right now.
///
/// A port is handed out from below the kernel's ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`), never from inside it: every outgoing
/// connection on the machine takes its local port from that range, so a port found free
/// there can be taken by any connect before the caller's server binds it. Below the range
/// only an explicit bind can take it. Within one process a port is not handed out again
/// while it is among the last `recentlyHandedOutLimit` ones, so two launches in a row never
/// race for the same port.
public enum LoopbackPort {
    /// The lowest port handed out.
    public static let lowestPort = 10_000
    /// How many of the latest ports handed out by this process are not handed out again.
    public static let recentlyHandedOutLimit = 2_048

    private static let recent = Mutex<[Int]>([])

    /// Finds a port that could be bound on 127.0.0.1 a moment ago and that this process has
    /// not handed out lately.
    ///
    /// Another process may still bind it before the caller does; callers that start a
    /// server on it must cope with that (the server fails to start and is retried).
    /// - Parameter excluding: ports the caller has already handed out and must not get again.
    /// - Returns: a port number, or `nil` when no socket could be bound.
    public static func free(excluding: Set<Int> = []) -> Int? {
        let range = candidateRange()
        for _ in 0..<200 {
            let port = range.map { Int.random(in: $0) } ?? bindAndRelease(port: 0)
            guard let port, !excluding.contains(port), bindAndRelease(port: port) == port else { continue }
            let taken = recent.withLock { recent -> Bool in
                if recent.contains(port) { return true }
                recent.append(port)
                if recent.count > recentlyHandedOutLimit { recent.removeFirst(recent.count - recentlyHandedOutLimit) }
                return false
            }
            if !taken { return port }
        }
        return nil
    }

    /// The ports below the ephemeral range, or `nil` when that leaves too few (then the
    /// kernel's choice is taken).
    static func candidateRange() -> ClosedRange<Int>? {
        let ephemeralLow = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))
            .flatMap { $0.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } }
        return candidateRange(ephemeralLow: ephemeralLow)
    }

    /// The ports from `lowestPort` up to just below `ephemeralLow`, when that is at least
    /// 1,000 ports.
    static func candidateRange(ephemeralLow: Int?) -> ClosedRange<Int>? {
        guard let ephemeralLow, ephemeralLow - 1 - lowestPort >= 1_000 else { return nil }
        return lowestPort...(ephemeralLow - 1)
    }

    /// Binds `port` (0: the kernel's choice) on 127.0.0.1, releases it and returns the port
    /// that was bound.
    private static func bindAndRelease(port: Int) -> Int? {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
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
