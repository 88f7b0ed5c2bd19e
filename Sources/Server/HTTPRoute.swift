import NIOHTTP1
import WSScaleCore

/// What a request asks for, decided from its method and target alone (pure).
public enum HTTPRoute: Equatable, Sendable {
    /// `GET /health`.
    case health
    /// `GET /ws-session/all`: every session in the registry.
    case allSessions
    /// `GET /ws-session/all/runtime`: this host's live session ids.
    case runtimeSessions
    /// `POST /ws-session/{hostId}/drop`.
    case drop(hostId: String)
    /// `GET /metrics`.
    case metrics
    /// `GET /api/v1/websocket/{userId}` (valid only as a WebSocket upgrade).
    case webSocket(userId: String)
    /// Refused: the status and the reason for the client.
    case rejected(HTTPResponseStatus, reason: String)

    /// What the route asks of its caller: the session lists need the admin token, a drop needs
    /// it and a same-origin JSON request; the rest is open.
    public var access: AdminAccess {
        switch self {
        case .allSessions, .runtimeSessions: return .credential
        case .drop: return .mutation
        case .health, .metrics, .webSocket, .rejected: return .open
        }
    }

    /// The path prefix of the WebSocket endpoint.
    public static let webSocketPrefix = "/api/v1/websocket/"

    /// Routes a request.
    /// - Parameters:
    ///   - method: the request's method.
    ///   - uri: the request target (a query string is ignored).
    public init(method: HTTPMethod, uri: String) {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        if path.hasPrefix(Self.webSocketPrefix) {
            let userId = path.dropFirst(Self.webSocketPrefix.count)
            if let problem = IdentifierRule.userId.problem(with: userId) {
                self = .rejected(.badRequest, reason: problem)
            } else {
                self = Self.requiring(.GET, method, then: .webSocket(userId: String(userId)))
            }
            return
        }
        switch path {
        case "/api/v1/websocket", "/api/v1/websocket/":
            self = .rejected(.badRequest, reason: "user id is empty")
        case "/health":
            self = Self.requiring(.GET, method, then: .health)
        case "/ws-session/all":
            self = Self.requiring(.GET, method, then: .allSessions)
        case "/ws-session/all/runtime":
            self = Self.requiring(.GET, method, then: .runtimeSessions)
        case "/metrics":
            self = Self.requiring(.GET, method, then: .metrics)
        default:
            self = Self.dropRoute(path: path, method: method)
                ?? .rejected(.notFound, reason: "no such endpoint: \(path)")
        }
    }

    /// `/ws-session/{hostId}/drop`, or `nil` for another path.
    private static func dropRoute(path: Substring, method: HTTPMethod) -> HTTPRoute? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, parts[1] == "ws-session", parts[3] == "drop" else { return nil }
        let rule = IdentifierRule(name: "host id", maxLength: IdentifierRule.serverId.maxLength)
        if let problem = rule.problem(with: parts[2]) {
            return .rejected(.badRequest, reason: problem)
        }
        return requiring(.POST, method, then: .drop(hostId: String(parts[2])))
    }

    private static func requiring(_ expected: HTTPMethod, _ actual: HTTPMethod, then route: HTTPRoute) -> HTTPRoute {
        actual == expected ? route : .rejected(.methodNotAllowed, reason: "use \(expected.rawValue) for this endpoint")
    }
}
