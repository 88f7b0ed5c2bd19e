import Foundation

/// The one admin credential of a wsscale deployment (`WSSCALE_ADMIN_TOKEN`): a bearer token
/// every mutating endpoint and every read of user lists asks for.
///
/// Its text never appears in `description` (logs, errors): only its length does.
public struct AdminToken: Sendable, Equatable, CustomStringConvertible {
    /// The token's text.
    public let value: String

    /// The shortest token accepted.
    public static let minimumLength = 16
    /// The longest token accepted.
    public static let maximumLength = 512

    /// A token, if `value` follows the rule (``problem(with:)``).
    public init?(_ value: String) {
        guard Self.problem(with: value) == nil else { return nil }
        self.value = value
    }

    /// Why `value` cannot be a token, or `nil` when it can: 16 to 512 visible ASCII characters
    /// (no spaces, so it travels in an `Authorization` header unchanged).
    public static func problem(with value: String) -> String? {
        let count = value.utf8.count
        guard count >= minimumLength else { return "must be at least \(minimumLength) characters, got \(count)" }
        guard count <= maximumLength else { return "must be at most \(maximumLength) characters, got \(count)" }
        guard value.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            return "must be visible ASCII characters only (no spaces or control characters)"
        }
        return nil
    }

    /// A new random token: 32 bytes from the system's secure generator, as 64 hex digits.
    public static func generate() -> AdminToken {
        var generator = SystemRandomNumberGenerator()
        let text = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        return AdminToken(text)!
    }

    /// Whether `presented` is this token. Takes the same time wherever the two differ.
    public func matches(_ presented: String) -> Bool {
        let expected = Array(value.utf8)
        let given = Array(presented.utf8)
        var difference = UInt8(truncatingIfNeeded: expected.count ^ given.count)
        for index in expected.indices {
            difference |= expected[index] ^ (index < given.count ? given[index] : 0)
        }
        return difference == 0 && expected.count == given.count
    }

    /// `<admin token, N characters>`: never the text.
    public var description: String { "<admin token, \(value.utf8.count) characters>" }

    /// Reads the token from `WSSCALE_ADMIN_TOKEN`, or from the file `WSSCALE_ADMIN_TOKEN_FILE`
    /// names (`EnvironmentReader.secret`: not world-readable). Both set, or a bad value, is
    /// reported on `reader`, naming the variable.
    /// - Returns: the token, or `nil` when neither is set (admin endpoints then refuse everyone).
    public static func read(from reader: inout EnvironmentReader) -> AdminToken? {
        let fromFile = reader.raw("WSSCALE_ADMIN_TOKEN") == nil && reader.raw("WSSCALE_ADMIN_TOKEN_FILE") != nil
        guard let text = reader.secret("WSSCALE_ADMIN_TOKEN") else { return nil }
        if let problem = problem(with: text) {
            reader.report(fromFile ? "WSSCALE_ADMIN_TOKEN_FILE" : "WSSCALE_ADMIN_TOKEN",
                          fromFile ? "the token in the file \(problem)" : problem)
            return nil
        }
        return AdminToken(text)
    }

    /// A reason a token file was refused.
    public struct FileProblem: Error, Equatable, CustomStringConvertible {
        /// What is wrong, naming the file.
        public var message: String
        /// The message.
        public var description: String { message }
        /// A problem described by `message`.
        public init(message: String) { self.message = message }
    }

    /// Reads a token file: one token, surrounding whitespace ignored; the file must not be
    /// world-readable (`SecretFile`).
    public static func load(path: String) -> Result<AdminToken, FileProblem> {
        switch SecretFile.read(path: path) {
        case .failure(let problem): return .failure(FileProblem(message: problem.message))
        case .success(let text):
            if let problem = problem(with: text) { return .failure(FileProblem(message: "the token in \(path) \(problem)")) }
            return .success(AdminToken(text)!)
        }
    }
}

/// What an endpoint asks of its callers.
public enum AdminAccess: Sendable, Equatable {
    /// Anyone it reaches: health, metrics, the WebSocket upgrade, the dashboard's page.
    case open
    /// The admin token: reads that list users.
    case credential
    /// The admin token, a same-origin (or no) `Origin`, and a JSON body (or none): every change.
    case mutation
}

/// The parts of an HTTP request the admin gate looks at.
public struct AdminRequest: Sendable, Equatable {
    /// The `Authorization` header.
    public var authorization: String?
    /// The `Origin` header, sent by browsers.
    public var origin: String?
    /// The `Host` header.
    public var host: String?
    /// The `Content-Type` header.
    public var contentType: String?
    /// Whether the request has a body of at least one byte (`Content-Length` > 0 or chunked).
    public var hasBody: Bool

    /// Creates a request description.
    public init(authorization: String? = nil, origin: String? = nil, host: String? = nil,
                contentType: String? = nil, hasBody: Bool = false) {
        self.authorization = authorization
        self.origin = origin
        self.host = host
        self.contentType = contentType
        self.hasBody = hasBody
    }
}

/// Why the admin gate refused a request: the HTTP status and a reason for the caller.
public struct AdminRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// 401 (no or wrong token), 403 (foreign origin, or no token configured) or 415 (not JSON).
    public var status: Int
    /// Why, in words; never the token.
    public var reason: String
    /// Whether the answer carries `WWW-Authenticate: Bearer` (401).
    public var asksForCredential: Bool { status == 401 }
    /// `status reason`.
    public var description: String { "\(status) \(reason)" }
}

/// The rule every wsscale listener applies before an admin endpoint runs (pure).
///
/// - The token is required (`Authorization: Bearer <token>`) for ``AdminAccess/credential``
///   and ``AdminAccess/mutation``; with no token configured those endpoints are off (403).
/// - A mutation carrying an `Origin` other than the request's own `Host` is refused (403): a
///   web page in the operator's browser cannot POST to an API on 127.0.0.1 (CSRF, DNS rebinding).
/// - A mutation with a body must say `Content-Type: application/json` (415), so a browser
///   cannot send it as a "simple" cross-site form post.
public struct AdminGate: Sendable {
    /// The configured token; `nil` turns admin endpoints off.
    public let token: AdminToken?

    /// A gate for `token`.
    public init(token: AdminToken?) { self.token = token }

    /// Why `request` may not reach an endpoint of `access`, or `nil` when it may.
    public func refusal(for request: AdminRequest, access: AdminAccess) -> AdminRefusal? {
        guard access != .open else { return nil }
        if access == .mutation, let origin = request.origin, !Self.isSameOrigin(origin, host: request.host) {
            return AdminRefusal(status: 403, reason: "cross-origin request refused (Origin \(Self.shown(origin)) is not this API's own)")
        }
        guard let token else {
            return AdminRefusal(status: 403, reason: "admin endpoints are off: no WSSCALE_ADMIN_TOKEN is configured on this listener")
        }
        guard let authorization = request.authorization else {
            return AdminRefusal(status: 401, reason: "admin credential required: send Authorization: Bearer <WSSCALE_ADMIN_TOKEN>")
        }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            return AdminRefusal(status: 401, reason: "admin credential must be a bearer token: Authorization: Bearer <WSSCALE_ADMIN_TOKEN>")
        }
        guard token.matches(parts[1].trimmingCharacters(in: .whitespaces)) else {
            return AdminRefusal(status: 401, reason: "wrong admin credential")
        }
        if access == .mutation, let refusal = Self.contentTypeRefusal(request) { return refusal }
        return nil
    }

    private static func contentTypeRefusal(_ request: AdminRequest) -> AdminRefusal? {
        guard let contentType = request.contentType else {
            return request.hasBody ? AdminRefusal(status: 415, reason: "a body needs Content-Type: application/json") : nil
        }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        guard mediaType == "application/json" else {
            return AdminRefusal(status: 415, reason: "Content-Type must be application/json, got \(shown(contentType))")
        }
        return nil
    }

    /// Whether `origin` (`scheme://host[:port]`) names the same host and port as the `Host`
    /// header. `null` and unparsable origins are foreign.
    static func isSameOrigin(_ origin: String, host: String?) -> Bool {
        guard let host, !host.isEmpty, let schemeEnd = origin.range(of: "://") else { return false }
        let scheme = origin[..<schemeEnd.lowerBound].lowercased()
        var authority = String(origin[schemeEnd.upperBound...]).lowercased()
        if authority.hasSuffix("/") { authority.removeLast() }
        let defaultPort = scheme == "https" ? "443" : scheme == "http" ? "80" : nil
        guard let defaultPort else { return false }
        return withPort(authority, defaultPort) == withPort(host.lowercased(), defaultPort)
    }

    private static func withPort(_ authority: String, _ defaultPort: String) -> String {
        if authority.hasPrefix("[") { return authority.contains("]:") ? authority : authority + ":" + defaultPort }
        return authority.contains(":") ? authority : authority + ":" + defaultPort
    }

    /// A header value as shown in a reason: quoted, at most 100 characters, controls replaced.
    private static func shown(_ value: String) -> String {
        let cleaned = String(value.unicodeScalars.prefix(100).map { $0.properties.generalCategory == .control ? "?" : Character($0) })
        return "\"\(cleaned)\""
    }
}
