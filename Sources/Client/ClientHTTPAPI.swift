import Foundation
import Hummingbird
import NIOCore
import WSScaleAPI
import WSScaleCore
import WSScaleListeners

/// The client simulator's HTTP API, compatible with the proof of concept's ws-client-app:
///
/// - `POST /route/kickstart/ws/batch/connect` and `POST /route/kickstart/ws/batch/disconnect`
///   with `{"userIds": ["user1", ...]}` → 202 `{"accepted": n, "unchanged": m}`; a malformed
///   body → 400 `{"error": "reason"}`; a body over 8 MiB → 413.
/// - `GET /route/status` → 200 with every user's state, host, reconnect count and last close,
///   plus totals (``ClientStatus``).
/// - `GET /health` → 200.
///
/// The batch endpoints and the status (a user list) need the admin token (`AdminGate`):
/// `Authorization: Bearer <WSSCALE_ADMIN_TOKEN>`; the batches also a same-origin JSON request.
public enum ClientHTTPAPI {
    /// The largest request body accepted.
    public static let maxBodyBytes = 8 << 20

    /// What each route asks of its caller.
    public static func access(_ method: HTTPRequest.Method, _ path: String) -> AdminAccess {
        switch path {
        case "/health": return .open
        case "/route/status": return .credential
        default: return method == .get || method == .head ? .credential : .mutation
        }
    }

    /// Builds the router answering the API for these users.
    /// - Parameters:
    ///   - sessions: the users the API drives.
    ///   - gate: who may call the admin endpoints.
    public static func router(for sessions: UserSessions, gate: AdminGate) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: AdminGateMiddleware(gate: gate, access: access))
        router.post("/route/kickstart/ws/batch/connect") { request, _ in
            try await batch(request) { try await sessions.connect(users: $0) }
        }
        router.post("/route/kickstart/ws/batch/disconnect") { request, _ in
            try await batch(request) { await sessions.disconnect(users: $0) }
        }
        router.get("/route/status") { _, _ in
            json(.ok, await sessions.status())
        }
        router.get("/health") { _, _ in
            json(.ok, ["status": "ok"])
        }
        return router
    }

    private static func batch(_ request: Request,
                              _ apply: ([String]) async throws -> UserSessions.BatchOutcome) async throws -> Response {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            return json(.contentTooLarge, ["error": "body is larger than \(maxBodyBytes) bytes"])
        }
        let batch: BatchRequest
        do {
            batch = try BatchRequest(json: Array(body.readableBytesView))
        } catch let rejection as BatchRequest.Rejection {
            return json(.badRequest, ["error": rejection.reason])
        }
        do {
            return json(.accepted, try await apply(batch.userIDs))
        } catch let full as UserSessions.TooManyUsers {
            return json(.conflict, ["error": full.description])
        }
    }

    private static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
