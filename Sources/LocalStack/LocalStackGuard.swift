#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Why `wsscale up` refuses to start, before it has started or stopped anything; `up` exits
/// with status 2 and this message.
public struct LocalStackRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, for a person (names the running `up`'s pid, or the port and its variable).
    public var message: String

    /// Creates a refusal.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// The exclusive lock `wsscale up` holds on `<state dir>/up.lock` for its whole life
/// (`flock(LOCK_EX | LOCK_NB)`), with its pid in the file.
///
/// A second `up` in the same state directory would take the first one's redis-server and
/// HAProxy for leftovers of a crash and stop them, and adopt its servers: with the lock it
/// refuses at once and touches nothing. The kernel releases the lock when the holder dies,
/// however (`kill -9` included), so the next `up` starts and cleans up after it. The file
/// descriptor is close-on-exec: the programs `up` starts never hold the lock.
public final class StateDirectoryLock: Sendable {
    /// The lock file.
    public let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// The lock file of a state directory.
    public static func path(stateDirectory: String) -> String { stateDirectory + "/up.lock" }

    /// Takes the lock of `stateDirectory` (created if missing) and writes this process's pid
    /// into the file.
    /// - Throws: `LocalStackRefusal` naming the holder's pid when another process holds it,
    ///   or saying why the file cannot be opened.
    public static func acquire(stateDirectory: String) throws -> StateDirectoryLock {
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        let path = path(stateDirectory: stateDirectory)
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw LocalStackRefusal("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            close(descriptor)
            guard reason == EAGAIN else { // EWOULDBLOCK: the same value on Linux and Darwin
                throw LocalStackRefusal("cannot lock \(path): \(String(cString: strerror(reason)))")
            }
            let who = holder.flatMap { Int32($0) }.map { "pid \($0)" } ?? "another process"
            throw LocalStackRefusal(
                "another wsscale up (\(who)) runs in the state directory \(stateDirectory) (\(path) is locked); "
                + "stop it first, or use another WSSCALE_STATE_DIR")
        }
        let text = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = text.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        return StateDirectoryLock(path: path, descriptor: descriptor)
    }
}

/// A TCP port `wsscale up` is about to listen on, with the variable that sets it.
public struct PlannedListener: Sendable, Equatable {
    /// The variable naming the port (`LB_PORT`, `BALANCER_PORT`, …).
    public var variable: String
    /// The address it binds.
    public var host: String
    /// The port.
    public var port: Int

    /// Creates a planned listener.
    public init(variable: String, host: String, port: Int) {
        self.variable = variable
        self.host = host
        self.port = port
    }

    /// Why the listeners cannot all be had, or `nil`: a port planned twice, or one that
    /// something on this machine already listens on (checked by binding it, then letting go).
    public static func problem(with listeners: [PlannedListener]) -> String? {
        var seen: [Int: String] = [:]
        for listener in listeners where listener.port != 0 {
            if let other = seen[listener.port] {
                return "port \(listener.port) is set twice: \(other) and \(listener.variable)"
            }
            seen[listener.port] = listener.variable
        }
        for listener in listeners where !canBind(host: listener.host, port: listener.port) {
            return "port \(listener.port) (\(listener.variable)) on \(listener.host) is taken: "
                + "something listens on it already; stop it or set \(listener.variable)"
        }
        return nil
    }

    /// Whether a TCP socket can be bound to `host:port` now (`SO_REUSEADDR`, as servers bind,
    /// so a connection in TIME_WAIT does not count as taken). A host that is not an IP address
    /// is checked on every address.
    static func canBind(host: String, port: Int) -> Bool {
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            address.sin6_addr = v6
            return bindAndRelease(family: AF_INET6, &address)
        }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) != 1 { v4.s_addr = 0 } // every address
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr = v4
        return bindAndRelease(family: AF_INET, &address)
    }

    private static func bindAndRelease<Address>(family: Int32, _ address: inout Address) -> Bool {
        #if canImport(Glibc)
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(family, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var yes: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        let size = socklen_t(MemoryLayout<Address>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) }
        }
        return bound == 0 && listen(fd, 1) == 0
    }
}
