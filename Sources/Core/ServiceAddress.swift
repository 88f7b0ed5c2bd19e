import Foundation

/// Where a service's API listens: a unix socket (`unix:///var/run/docker.sock`) or a TCP address
/// (`tcp://127.0.0.1:2375`), written the way `DOCKER_HOST` and `CONTAINER_HOST` write it. The
/// engine APIs (`DOCKER_HOST`, `WSSCALE_ENGINE_SOCKET`), HAProxy's runtime API
/// (`HAPROXY_RUNTIME_API`) and the dashboard's upstreams all take one.
public enum ServiceAddress: Sendable, Hashable, CustomStringConvertible {
    /// A unix stream socket at this path.
    case unixSocket(path: String)
    /// A TCP address: a host name or IP literal and a port (an HTTP API, or HAProxy's runtime API).
    case tcp(host: String, port: Int)

    /// Reads `unix:///path`, `tcp://host:port`, `http://host:port` or a bare absolute path.
    /// - Parameters:
    ///   - text: the address.
    ///   - variable: the configuration variable it came from, named in the error.
    /// - Throws: `ServiceAddressError` naming `variable` when `text` is none of these.
    public init(parsing text: String, variable: String = "DOCKER_HOST") throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("/") {
            self = .unixSocket(path: trimmed)
            return
        }
        if trimmed.hasPrefix("unix://") {
            let path = String(trimmed.dropFirst("unix://".count))
            guard path.hasPrefix("/") else {
                throw ServiceAddressError(variable: variable, value: text, reason: "a unix address needs an absolute path (unix:///path)")
            }
            self = .unixSocket(path: path)
            return
        }
        for scheme in ["tcp://", "http://"] where trimmed.hasPrefix(scheme) {
            var rest = Substring(trimmed.dropFirst(scheme.count))
            if rest.hasSuffix("/") { rest = rest.dropLast() }
            guard let colon = rest.lastIndex(of: ":"),
                  let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else {
                throw ServiceAddressError(variable: variable, value: text, reason: "a TCP address needs host:port (tcp://127.0.0.1:2375)")
            }
            var host = String(rest[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else {
                throw ServiceAddressError(variable: variable, value: text, reason: "the host is empty")
            }
            self = .tcp(host: host, port: port)
            return
        }
        throw ServiceAddressError(variable: variable, value: text, reason: "expected unix:///path or tcp://host:port")
    }

    public var description: String {
        switch self {
        case let .unixSocket(path): return "unix://\(path)"
        case let .tcp(host, port): return host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
        }
    }
}

/// An address that is neither `unix:///path` nor `tcp://host:port`.
public struct ServiceAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configuration variable the address came from.
    public var variable: String
    /// The rejected text.
    public var value: String
    /// Why it was rejected.
    public var reason: String

    public var description: String { "\(variable)=\(value): \(reason)" }
}
