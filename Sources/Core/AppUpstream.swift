import Foundation

/// Where the front door opens each client's WebSocket to the team's own app
/// (`APP_UPSTREAM_URL`, for example `ws://127.0.0.1:{port}/ws/{userId}`), and what it tells it.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `APP_UPSTREAM_URL` | none (the built-in echo server) | `ws://HOST:PORT/PATH`; `{userId}` in the path is the user's id, `{port}` the port of the app the server started (`wsscale server -- COMMAND`); the client's query string is appended |
/// | `APP_FORWARD_HEADERS` | `Cookie,Authorization,Origin,User-Agent` | the client's headers the app gets (comma-separated names; empty: none) |
/// | `APP_CONNECT_TIMEOUT_SECONDS` | `5` | time for the TCP connect and the app's answer to the upgrade; past it the client gets 504 |
///
/// The app always gets `X-WSScale-User-Id`, `X-WSScale-Host` (this server's id),
/// `X-Forwarded-For` (the client's address after any the client sent) and the client's
/// `Sec-WebSocket-Protocol`.
public struct AppUpstream: Sendable, Equatable {
    /// The app's host (an IP literal or a name).
    public var host: String
    /// The app's port; `nil` until the port of the app the server started is known (`{port}`).
    public var port: Int?
    /// The path template, with `{userId}` where the user's id goes.
    public var pathTemplate: String
    /// Client headers passed on to the app, lowercased.
    public var forwardedHeaders: [String]
    /// Time for the TCP connect plus the app's answer to the upgrade.
    public var connectTimeout: Duration

    /// `APP_FORWARD_HEADERS` when it is not set.
    public static let defaultForwardedHeaders = ["cookie", "authorization", "origin", "user-agent"]

    /// Creates an upstream.
    public init(host: String, port: Int?, pathTemplate: String,
                forwardedHeaders: [String] = AppUpstream.defaultForwardedHeaders, connectTimeout: Duration = .seconds(5)) {
        self.host = host
        self.port = port
        self.pathTemplate = pathTemplate
        self.forwardedHeaders = forwardedHeaders
        self.connectTimeout = connectTimeout
    }

    /// The marker of the app's port in `APP_UPSTREAM_URL` (and in the app's arguments).
    public static let portPlaceholder = "{port}"
    /// The marker of the user's id in `APP_UPSTREAM_URL`'s path.
    public static let userIdPlaceholder = "{userId}"

    /// Parses `ws://HOST:PORT/PATH` (PORT may be `{port}`).
    /// - Returns: the upstream, or why the text is not one.
    public static func parse(_ url: String) -> Result<AppUpstream, SettingProblem> {
        let scheme = "ws://"
        guard url.lowercased().hasPrefix(scheme) else {
            if url.lowercased().hasPrefix("wss://") {
                return .failure(SettingProblem("wss:// is not supported: the app listens on this machine, use ws://, got \"\(url)\""))
            }
            return .failure(SettingProblem("must be ws://HOST:PORT/PATH, got \"\(url)\""))
        }
        let rest = url.dropFirst(scheme.count)
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        let portText: Substring
        let host: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                return .failure(SettingProblem("has an unclosed [ in its host, got \"\(url)\""))
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            guard after.hasPrefix(":") else { return .failure(SettingProblem("must name a port, got \"\(url)\"")) }
            portText = after.dropFirst()
        } else {
            guard let colon = authority.lastIndex(of: ":") else {
                return .failure(SettingProblem("must name a port (ws://HOST:PORT/PATH), got \"\(url)\""))
            }
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        guard !host.isEmpty else { return .failure(SettingProblem("must name a host, got \"\(url)\"")) }
        let port: Int?
        if portText == portPlaceholder {
            port = nil
        } else if let number = Int(portText), (1...65535).contains(number) {
            port = number
        } else {
            return .failure(SettingProblem("port must be 1-65535 or \(portPlaceholder), got \"\(portText)\""))
        }
        let pathTemplate = path.isEmpty ? "/" : String(path)
        guard !pathTemplate.contains("?"), !pathTemplate.contains("#"), !pathTemplate.contains(" ") else {
            return .failure(SettingProblem("path must have no query, fragment or space, got \"\(pathTemplate)\""))
        }
        return .success(AppUpstream(host: String(host), port: port, pathTemplate: pathTemplate))
    }

    /// The request target for a user: the template with the user's id, then the client's query.
    /// - Parameters:
    ///   - userId: the user's id (already checked by `IdentifierRule.userId`: safe in a path).
    ///   - query: the client's query string without `?`, if any.
    public func target(userId: String, query: String?) -> String {
        let path = pathTemplate.replacingOccurrences(of: Self.userIdPlaceholder, with: userId)
        guard let query, !query.isEmpty else { return path }
        return path + "?" + query
    }

    /// The same upstream at the port of the app the server started.
    public func resolvingPort(_ appPort: Int) -> AppUpstream {
        var resolved = self
        if resolved.port == nil { resolved.port = appPort }
        return resolved
    }

    /// Reads `APP_UPSTREAM_URL`, `APP_FORWARD_HEADERS` and `APP_CONNECT_TIMEOUT_SECONDS`;
    /// `nil` when `APP_UPSTREAM_URL` is not set (the built-in echo server).
    public static func read(from reader: inout EnvironmentReader) -> AppUpstream? {
        let headersText = reader.raw("APP_FORWARD_HEADERS")
        let timeout = reader.seconds("APP_CONNECT_TIMEOUT_SECONDS", default: .seconds(5), in: 0.1...300)
        guard let url = reader.raw("APP_UPSTREAM_URL"), !url.isEmpty else { return nil }
        var upstream: AppUpstream
        switch parse(url) {
        case .success(let parsed): upstream = parsed
        case .failure(let problem):
            reader.report("APP_UPSTREAM_URL", problem.message)
            return nil
        }
        if let headersText {
            switch forwardedHeaderNames(headersText) {
            case .success(let names): upstream.forwardedHeaders = names
            case .failure(let problem): reader.report("APP_FORWARD_HEADERS", problem.message)
            }
        }
        upstream.connectTimeout = timeout
        return upstream
    }

    /// Headers the front door sets itself: a client cannot pass them on.
    static let ownHeaders: Set<String> = [
        "x-wsscale-user-id", "x-wsscale-host", "x-forwarded-for", "sec-websocket-protocol", "sec-websocket-key",
        "sec-websocket-version", "sec-websocket-extensions", "host", "upgrade", "connection", "content-length",
        "transfer-encoding",
    ]

    /// Parses a comma-separated list of header names.
    static func forwardedHeaderNames(_ text: String) -> Result<[String], SettingProblem> {
        let tokenCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~")
        var names: [String] = []
        for part in text.split(separator: ",") {
            let name = part.trimmingCharacters(in: .whitespaces).lowercased()
            guard !name.isEmpty else { continue }
            guard name.allSatisfy({ tokenCharacters.contains($0) }) else {
                return .failure(SettingProblem("\"\(name)\" is not a header name"))
            }
            guard !ownHeaders.contains(name) else {
                return .failure(SettingProblem("\(name) is set by the server itself and cannot be forwarded"))
            }
            if !names.contains(name) { names.append(name) }
        }
        return .success(names)
    }
}

/// Why a setting's value cannot be used.
public struct SettingProblem: Error, Sendable, Equatable {
    /// The words for the user (the variable's name is added by whoever reports it).
    public var message: String

    /// Creates a problem.
    public init(_ message: String) {
        self.message = message
    }
}
