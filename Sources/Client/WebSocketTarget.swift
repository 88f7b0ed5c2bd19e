import Foundation

/// Where simulated users connect: the proxy's `ws://HOST:PORT`; each user's URL is
/// `ws://HOST:PORT/api/v1/websocket/{userId}`.
public struct WebSocketTarget: Sendable, Equatable, CustomStringConvertible {
    /// The host name or address to connect to.
    public var host: String
    /// The TCP port.
    public var port: Int

    /// Creates a target from its parts.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `ws://HOST[:PORT][/]` (port 80 when omitted).
    /// - Throws: a message saying what is wrong (scheme, host, port, path).
    public init(url: String) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw TargetError(message: "must be a URL like ws://127.0.0.1:8000, got \"\(url)\"")
        }
        guard scheme == "ws" else {
            throw TargetError(message: "must use the ws:// scheme (wss:// is not supported), got \"\(url)\"")
        }
        guard let host = components.host, !host.isEmpty else {
            throw TargetError(message: "has no host, got \"\(url)\"")
        }
        let port = components.port ?? 80
        guard (1...65535).contains(port) else {
            throw TargetError(message: "port must be between 1 and 65535, got \"\(url)\"")
        }
        guard components.path.isEmpty || components.path == "/", components.query == nil else {
            throw TargetError(message: "must not have a path or query (users connect to /api/v1/websocket/{userId}), got \"\(url)\"")
        }
        self.init(host: host, port: port)
    }

    /// The request path for a user: `/api/v1/websocket/{userId}`.
    public func path(forUser userID: String) -> String {
        "/api/v1/websocket/\(userID)"
    }

    /// `ws://HOST:PORT`.
    public var description: String { "ws://\(host):\(port)" }

    /// Why a target URL was rejected.
    public struct TargetError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong.
        public let message: String
        public var description: String { message }
    }
}
