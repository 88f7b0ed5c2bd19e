import Foundation
import NIOCore
import NIOHTTP1
import WSScaleCore

/// An HTTP response before encoding.
struct HTTPReply: Sendable, Equatable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: String
    /// Headers besides `Content-Type`, `Content-Length` and `Connection`.
    var extraHeaders: [String: String] = [:]

    /// The answer to a request the admin gate refused.
    static func refused(_ refusal: AdminRefusal) -> HTTPReply {
        var reply = text(HTTPResponseStatus(statusCode: refusal.status), refusal.reason)
        if refusal.asksForCredential { reply.extraHeaders["WWW-Authenticate"] = #"Bearer realm="wsscale""# }
        return reply
    }

    /// A plain-text reply (a reason, or "ok").
    static func text(_ status: HTTPResponseStatus, _ text: String) -> HTTPReply {
        HTTPReply(status: status, contentType: "text/plain; charset=utf-8", body: text + "\n")
    }

    /// A reply of JSON text written by the caller.
    static func rawJSON(_ status: HTTPResponseStatus, _ json: String) -> HTTPReply {
        HTTPReply(status: status, contentType: "application/json", body: json)
    }

    /// A JSON reply.
    static func json<Value: Encodable>(_ status: HTTPResponseStatus, _ value: Value) -> HTTPReply {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        return HTTPReply(status: status, contentType: "application/json", body: String(decoding: data, as: UTF8.self))
    }
}

/// The REST side of the server: what each route answers. The channel handler only moves bytes.
struct RESTEndpoints: Sendable {
    /// The body of `POST /ws-session/{hostId}/drop` (optional).
    struct DropRequest: Decodable {
        var sessionId: String?
    }

    /// What a drop did.
    struct DropResult: Encodable, Equatable {
        var hostId: String
        var sessionId: String?
        var status: String
    }

    let sessions: LiveSessions
    let store: any HostSessionStore
    /// Who may call the admin endpoints (`HTTPRoute.access`).
    let gate: AdminGate

    /// Answers a request whose route is known, once the admin gate let it through.
    /// - Parameters:
    ///   - route: what the request asks for.
    ///   - body: its body, if any.
    ///   - caller: its credential, origin and content type.
    func respond(to route: HTTPRoute, body: ByteBuffer?, caller: AdminRequest) async -> HTTPReply {
        if let refusal = gate.refusal(for: caller, access: route.access) { return .refused(refusal) }
        switch route {
        case .health:
            let (draining, shuttingDown) = sessions.isOutOfRotation
            if shuttingDown { return .text(.serviceUnavailable, "shutting down") }
            if draining { return .text(.serviceUnavailable, "draining") }
            return .text(.ok, "ok")
        case .allSessions:
            do {
                return .rawJSON(.ok, SessionListJSON.records(try await store.allSessions()))
            } catch {
                return .text(.serviceUnavailable, "session registry unavailable: \(error)")
            }
        case .runtimeSessions:
            return .rawJSON(.ok, SessionListJSON.strings(sessions.sessionIds))
        case .metrics:
            return HTTPReply(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8",
                             body: sessions.metrics.render())
        case .drop(let hostId):
            return await drop(hostId: hostId, body: body)
        case .webSocket:
            return .text(.badRequest, "this endpoint needs a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket)")
        case .rejected(let status, let reason):
            return .text(status, reason)
        }
    }

    private func drop(hostId: String, body: ByteBuffer?) async -> HTTPReply {
        let sessionId: String?
        switch Self.parseDropRequest(body) {
        case .success(let id): sessionId = id
        case .failure(let reason): return .text(.badRequest, reason.message)
        }
        if hostId == sessions.hostId {
            guard let dropped = sessions.drop(sessionId: sessionId) else {
                let what = sessionId.map { "no live session \($0)" } ?? "no live session"
                return .text(.notFound, "host \(hostId) has \(what)")
            }
            return .json(.ok, DropResult(hostId: hostId, sessionId: dropped, status: "closing"))
        }
        do {
            // As a local drop: a session the host does not hold is 404, not a drop delivered for nothing.
            if let sessionId, try await !store.holds(sessionId: sessionId, on: hostId) {
                return .text(.notFound, "host \(hostId) has no session \(sessionId) in the session registry")
            }
            let delivered = try await store.send(sessionId.map { .drop(sessionId: $0) } ?? .shed(count: 1), to: hostId)
            guard delivered else {
                return .text(.notFound, "no live host \(hostId) got the drop: it is not running, or not connected to the session registry")
            }
            return .json(.accepted, DropResult(hostId: hostId, sessionId: sessionId, status: "delivered"))
        } catch {
            return .text(.serviceUnavailable, "could not reach host \(hostId) through the session registry: \(error)")
        }
    }

    /// A reason a body was refused.
    struct BodyProblem: Error, Equatable {
        var message: String
    }

    /// The session id asked for in a drop body: `nil` for an empty body or no `sessionId`.
    static func parseDropRequest(_ body: ByteBuffer?) -> Result<String?, BodyProblem> {
        guard let body, body.readableBytes > 0 else { return .success(nil) }
        let bytes = Data(body.readableBytesView)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .success(nil) }
        guard let request = try? JSONDecoder().decode(DropRequest.self, from: bytes) else {
            return .failure(BodyProblem(message: #"body must be empty or JSON like {"sessionId": "..."}"#))
        }
        if let id = request.sessionId, id.isEmpty || id.utf8.count > 256 {
            return .failure(BodyProblem(message: "sessionId must be 1 to 256 characters"))
        }
        return .success(request.sessionId)
    }
}
